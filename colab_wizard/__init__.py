"""colab_wizard: any CPython 3.9-3.14 with Poetry-managed dependencies as a Jupyter kernel.

``from colab_wizard import show; show()`` opens the panel in a notebook;
:func:`create` does the same from a script, ``python -m colab_wizard`` from a terminal.
"""

from __future__ import annotations

from typing import Any

from .api import Busy, Created, CreateFailed, create, create_async, list_kernels, remove_kernel
from .events import StageError
from .spec import EnvSpec, SpecError

__version__ = "0.1.0"

__all__ = [
    "Busy",
    "Created",
    "CreateFailed",
    "EnvSpec",
    "SpecError",
    "StageError",
    "create",
    "create_async",
    "list_kernels",
    "remove_kernel",
    "show",
    "doctor",
    "restore",
    "save",
    "switch_notebook",
]


def show(**options: Any) -> Any:
    """Open the wizard panel in the current notebook (imports ipywidgets only here)."""
    from .ui import show as _show

    return _show(**options)


def doctor(check_kernels: bool = True) -> str:
    """Print (and return) a report of host, versions, kernels, caches and settings."""
    from .doctor import doctor as _doctor

    return _doctor(check_kernels)


def save(folder: Any, name: Any = None) -> Any:
    """Save a kernel's Python, wheels and lock files to ``folder`` (e.g. on Drive)."""
    from .cache import save as _save

    return _save(folder, name)


def restore(folder: Any, name: Any = None, project_dir: Any = None, profile: Any = None) -> Any:
    """Rebuild a saved kernel from ``folder`` without the package index."""
    from .cache import restore as _restore
    from .views.terminal import TerminalView

    return _restore(folder, name, project_dir, [TerminalView()], profile)


def switch_notebook(name: Any = None, notebook_path: Any = None, cache_dir: Any = None) -> Any:
    """Write (on Colab: offer) a copy of the notebook that opens on kernel ``name``."""
    from .notebook import switch

    path, message = switch(name, notebook_path, cache_dir=cache_dir)
    print(message)
    return path
