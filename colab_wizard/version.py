"""The one place the version is written (pyproject.toml, the restore cell and saved wheels
read it here), and the distribution name ``pip install`` uses."""

__version__ = "0.1.0"
# The import package is colab_wizard; the index knows it as this.
DISTRIBUTION = "colab-wizard"
