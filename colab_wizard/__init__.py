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
]


def show(**options: Any) -> Any:
    """Open the wizard panel in the current notebook (imports ipywidgets only here)."""
    from .ui import show as _show

    return _show(**options)
