"""What the host's IPython config demands of every kernel started on it.

An IPython kernel reads ``ipython_config.py`` and ``ipython_kernel_config.py`` from
IPython's system dirs (``/etc/ipython``, ``/usr/local/etc/ipython``), its own
prefix's ``etc/ipython`` (empty in a venv the wizard makes) and the profile
(``$IPYTHONDIR/profile_default``), later ones winning. Whatever kernel class or
extension these name, a new kernel must import too, or be started with command-line
overrides (they beat every file). Colab's ``/etc/ipython/ipython_config.py`` is one
such config; any host can have one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

DEFAULT_KERNEL_CLASS = "ipykernel.ipkernel.IPythonKernel"
FILES = ("ipython_config.py", "ipython_kernel_config.py")


def system_dirs() -> list[Path]:
    """IPython's system config dirs, lowest priority first (as IPython ranks them)."""
    if os.name == "nt":
        return [Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "ipython"]
    return [Path("/etc/ipython"), Path("/usr/local/etc/ipython")]


def profile_dir() -> Path:
    base = os.environ.get("IPYTHONDIR") or str(Path.home() / ".ipython")
    return Path(base) / "profile_default"


def config_files() -> list[Path]:
    """The config files a new kernel on this host reads, lowest priority first."""
    found = []
    for folder in [*system_dirs(), profile_dir()]:
        for name in FILES:
            path = folder / name
            if path.is_file():
                found.append(path)
    return found


@dataclass(frozen=True)
class Demands:
    """The kernel class and extensions the host's config names, and where it says so."""

    kernel_class: Optional[str] = None
    extensions: tuple[str, ...] = ()
    sources: tuple[Path, ...] = ()

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules a kernel must import to start under this config."""
        found = []
        if self.kernel_class and self.kernel_class != DEFAULT_KERNEL_CLASS:
            found.append(self.kernel_class.rpartition(".")[0])
        found.extend(self.extensions)
        return tuple(dict.fromkeys(m for m in found if m))

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.sources) or "no IPython config"
        return f"{' and '.join(self.modules) or 'nothing extra'} (from {where})"


def _load(path: Path) -> Any:
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def read() -> Demands:
    """What the config files every new kernel reads here demand (unreadable files are
    skipped, as IPython skips them with a warning)."""
    from traitlets.config import Config

    merged = Config()
    sources = []
    for path in config_files():
        try:
            merged.merge(_load(path))
        except Exception:  # noqa: BLE001 - a broken host config is IPython's to report
            continue
        sources.append(path)
    kernel_class = None
    extensions: list[str] = []
    # IPKernelApp is an InteractiveShellApp: its own section is the more specific one.
    for section in ("InteractiveShellApp", "IPKernelApp"):
        if section in merged and "extensions" in merged[section]:
            extensions = [str(e) for e in merged[section]["extensions"]]
    if "IPKernelApp" in merged and "kernel_class" in merged["IPKernelApp"]:
        kernel_class = str(merged["IPKernelApp"]["kernel_class"])
    return Demands(kernel_class, tuple(extensions), tuple(sources))
