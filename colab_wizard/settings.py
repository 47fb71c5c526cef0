"""Every ``COLAB_WIZARD_*`` environment variable the package reads, in one place.

Each is read when it is needed, never at import, so a notebook cell (or a test) that sets
one takes effect at once. An empty value counts as unset. The README's "Settings" table
lists them all; tests/test_settings.py keeps the two in step and finds any module that
spells a variable's name itself.

Two files cannot import this one and keep their own copies of the names they use:
``inplace_shim.py`` (written over Colab's launcher, standard library only) and
``inplace_boot.py`` (runs on the new environment's Python before colab_wizard is on its
path); the same test checks that their names match the ones here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, what applies without it, and what it does."""

    name: str
    default: str
    does: str
    internal: bool = False  # set by the wizard for its own child processes, not by users

    def get(self) -> Optional[str]:
        """The value, or None when the variable is unset or empty."""
        return os.environ.get(self.name) or None


HOME = Setting(
    "COLAB_WIZARD_HOME", "`$XDG_DATA_HOME/colab_wizard`, else `~/.local/share/colab_wizard`",
    "Where the wizard keeps everything of its own: tool environments (Poetry, uv), "
    "downloaded Pythons, projects outside Colab, logs.")
HOST = Setting(
    "COLAB_WIZARD_HOST", "detected",
    "The front end to behave for (`colab`, `vscode`, `jupyter`, `terminal`), when the "
    "detection is wrong; tests use it to act as Colab.")
INDEX_URL = Setting(
    "COLAB_WIZARD_INDEX_URL", "pip's `index-url`, else PyPI",
    "The package index new environments install from (its simple API; credentials in the "
    "URL are used but never written to a file). `--index-url` / `index_url=` win over it.")
PYTHON_MIRROR = Setting(
    "COLAB_WIZARD_PYTHON_MIRROR", "the upstream python-build-standalone releases",
    "Download Pythons only from this mirror (`<mirror>/<release tag>/<file>`), for offline "
    "sites. `--python-mirror` sets it for one command.")
PYTHON_CACHE = Setting(
    "COLAB_WIZARD_PYTHON_CACHE", "`<COLAB_WIZARD_HOME>/cache/pythons`",
    "Where downloaded Python archives are kept; a Drive folder makes a second VM fast (a "
    "cached archive with the right checksum needs no network).")
PYTHON_CATALOG = Setting(
    "COLAB_WIZARD_PYTHON_CATALOG", "the table pbs-installer ships",
    "A JSON file in pbs-installer's format listing the Pythons on offer, replacing its "
    "table (only entries with a sha256 are used).")
UV = Setting(
    "COLAB_WIZARD_UV", "`1`",
    "`0` (or `false`, `no`, `off`) builds with virtualenv + pip instead of uv.")


def _internal(name: str, does: str) -> Setting:
    """A variable the wizard sets for its own child processes; users never set it."""
    return Setting(name, "unset", does, internal=True)


INPLACE = _internal(
    "COLAB_WIZARD_INPLACE", "Inside a switched default kernel: the switch's details (JSON), "
    "handed from the launcher shim to the boot module.")
INPLACE_FAILED = _internal(
    "COLAB_WIZARD_INPLACE_FAILED", "Why a switched kernel could not start, handed back to "
    "the shim, which then starts Colab's own kernel.")
FELL_BACK = _internal(
    "COLAB_WIZARD_FELL_BACK", "Inside Colab's own kernel after a switched one failed: which "
    "kernel and why (JSON), for the panel's notice.")
KERNEL_PYTHONPATH = _internal(
    "COLAB_WIZARD_KERNEL_PYTHONPATH", "The host's `PYTHONPATH`, handed to the pre-flight's "
    "kernel, since the build's own processes run without it.")

ALL = (HOME, HOST, INDEX_URL, PYTHON_MIRROR, PYTHON_CACHE, PYTHON_CATALOG, UV,
       INPLACE, INPLACE_FAILED, FELL_BACK, KERNEL_PYTHONPATH)

_OFF = ("0", "false", "no", "off")


def uv_wanted() -> bool:
    """Whether builds use uv (the default) rather than virtualenv + pip."""
    return (UV.get() or "1").strip() not in _OFF
