"""The module map in the package docstring names every module, so a newcomer can find each one
(CONTRIBUTING.md starts there)."""

from __future__ import annotations

import re
from pathlib import Path

import colab_wizard

PACKAGE = Path(colab_wizard.__file__).resolve().parent


def test_the_module_map_names_every_module() -> None:
    doc = colab_wizard.__doc__ or ""
    assert "Module map" in doc
    mapped = doc.split("Module map", 1)[1]
    modules = sorted({p.stem for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__"})
    missing = [m for m in modules if not re.search(rf"(?<![\w.]){re.escape(m)}(?!\w)", mapped)]
    assert missing == [], f"add {missing} to the module map in colab_wizard/__init__.py"
