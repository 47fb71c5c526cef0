"""The notebook panel: ``from colab_wizard import show; show()``.

Only this package imports ipywidgets. The form's text is kept per kernel in
:data:`LAST_STATE`, so running ``show()`` again (or after a failed install)
never loses what was typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Union

from .driver import Mode
from .job import PlanFactory
from .model import FormState, VersionOptions
from .panel import Panel

LAST_STATE: Optional[FormState] = None
LAST_PANEL: Optional[Panel] = None


def show(
    mode: Optional[Mode] = None,
    plan_factory: Optional[PlanFactory] = None,
    versions: Optional[Callable[[], VersionOptions]] = None,
    reset: bool = False,
    display: bool = True,
    check_index: bool = True,
    save_dir: Union[str, Path, None] = None,
) -> Optional[Panel]:
    """Open the wizard (the panel object is returned only with ``display=False``; the shown
    one is :data:`LAST_PANEL`). ``mode`` is "background" (an asyncio task, Cancel clickable) or
    "foreground" (the run completes inside the click; the default on Colab);
    ``reset=True`` starts from an empty form; ``check_index=False`` skips asking the
    package index whether the dependency names exist; ``save_dir`` is where "Save for a
    fresh VM" writes and where saved kernels are offered for restore (default: Drive's
    ``MyDrive/colab_wizard`` when mounted, else the wizard's data dir)."""
    global LAST_STATE, LAST_PANEL
    if LAST_STATE is None or reset:
        LAST_STATE = FormState()
    panel = Panel(LAST_STATE, mode=mode, plan_factory=plan_factory, versions=versions,
                  check_index=check_index, save_dir=Path(save_dir) if save_dir else None)
    LAST_PANEL = panel
    if display:
        from IPython.display import display as ipy_display

        ipy_display(opening_widget(panel, reset))
        return None
    return panel


def opening_widget(panel: Panel, reset: bool = False) -> Any:
    """The wizard, or first a short status in a kernel that "Use it in this notebook" switched
    (or whose switch fell back): which kernel, its project, the way back."""
    from .. import inplace

    switch, fell_back = inplace.running_switch(), inplace.fell_back()
    if reset or (switch is None and fell_back is None):
        return panel.widget
    from .status import StatusView

    return StatusView(lambda: panel.widget, switch, fell_back).widget


__all__ = ["Panel", "show", "LAST_STATE"]
