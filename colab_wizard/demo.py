"""The embedded default the README's first command builds: a kernel to try things with."""

from __future__ import annotations

import sys

from . import interpreters
from .spec import EnvSpec, SpecError

DEMO_DEPENDENCIES = ("tabulate>=0.9",)
DEMO_SUMMARY = "the newest local Python other than this one, with tabulate"


def default_python() -> str:
    """The newest installed CPython whose minor version differs from the host's."""
    host = sys.version_info[:2]
    for found in interpreters.installed():
        if found.version[:2] != host and not found.free_threaded:
            return f"{found.version[0]}.{found.version[1]}"
    raise SpecError(
        "python",
        "No other Python version than this one is installed here; give --python explicitly.",
    )


def demo_spec() -> EnvSpec:
    python = default_python()
    return EnvSpec.make(python, DEMO_DEPENDENCIES, name="colab-wizard-demo",
                        display_name=f"Python {python} (colab_wizard demo)")
