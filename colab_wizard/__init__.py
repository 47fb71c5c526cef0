"""colab_wizard: any CPython 3.9-3.14 with Poetry-managed dependencies as a Jupyter kernel.

``from colab_wizard import show; show()`` opens the panel in a notebook;
:func:`create` does the same from a script, ``python -m colab_wizard`` from a terminal.

Module map (spec -> plan -> run -> view; only ``ui/`` imports ipywidgets):

- spec: spec (EnvSpec, checked input), requirements_text (the editor's text), pyproject
  (pyproject.toml), index (which package index), naming, ownership (whose name or folder).
- plan: plan (stages, Workspace and its fingerprints), swap (build beside, then switch),
  adoption (the user's own project), interpreters, pythons (local Pythons, the offer list),
  catalog, download (python-build-standalone), uvtool, poetry_batch (the tools), wheels,
  imports, ipyconfig (what a kernel needs), kernels, preflight, lockcheck (before registering).
- run: runner (asyncio, cancel), events, streams, progress, procenv (child environment),
  diagnose (why a stage failed), sync (blocking calls), errors (the one base, WizardError).
- view: ui/ (panel.py composes python_step, deps_step, install_step, done_step over the
  widget-free model.py; widgets, markup (error HTML), driver, job, pump, guard, status,
  adopt_box), terminal.
- entry points: this module (show, save, restore, use), api (create, adopt), cli, demo.
- host/Colab: host (which front end), colab (Colab-only facts), inplace, inplace_shim,
  inplace_boot (a kernel in this notebook), notebook (the switched copy).
- save/restore: freshvm ("Save for a fresh VM", restore), wheelhouse, selfwheel (wheels).
- tools: paths (where things go), settings (every COLAB_WIZARD_* variable), files (lock,
  atomic write, sha256, done-mark), doctor (the report), version.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from . import freshvm
from .api import (
    Busy,
    Created,
    CreateFailed,
    adopt,
    adopt_async,
    create,
    create_async,
    list_kernels,
    remove_kernel,
)
from .colab import ProfileChoice
from .errors import SpecError, StageError, WizardError
from .freshvm import Saved
from .spec import EnvSpec
from .version import DISTRIBUTION as DISTRIBUTION
from .version import __version__ as __version__

if TYPE_CHECKING:  # the panel imports ipywidgets: only when show() runs
    from .ui import Panel
    from .ui.driver import Mode
    from .ui.job import PlanFactory


__all__ = [
    "Busy",
    "Created",
    "CreateFailed",
    "EnvSpec",
    "SpecError",
    "StageError",
    "WizardError",
    "adopt",
    "adopt_async",
    "create",
    "create_async",
    "list_kernels",
    "remove_kernel",
    "show",
    "doctor",
    "restore",
    "save",
    "switch_notebook",
    "use",
]


def show(
    mode: Optional[Mode] = None,
    plan_factory: Optional[PlanFactory] = None,
    versions: Optional[Callable[[], list[tuple[str, str]]]] = None,
    reset: bool = False,
    display: bool = True,
    check_index: bool = True,
    save_dir: Union[str, Path, None] = None,
    cache_dir: Union[str, Path, None] = None,
) -> Optional[Panel]:
    """Open the wizard panel in the current notebook (ipywidgets is imported only here).

    ``mode``: "background" (an asyncio task; Cancel clickable) or "foreground" (the run
    happens inside the click; the default on Colab). ``reset=True`` starts from an empty
    form; ``save_dir`` is where "Save for a fresh VM" writes and saved kernels are found
    (``cache_dir`` is its old name, still accepted). ``plan_factory``/``versions`` replace
    the engine's plan and version list (tests, demos); ``display=False`` returns the panel
    instead of showing it.
    """
    from .ui import show as _show

    return _show(mode=mode, plan_factory=plan_factory, versions=versions, reset=reset,
                 display=display, check_index=check_index,
                 save_dir=_save_dir(save_dir, cache_dir))


def _save_dir(save_dir: Union[str, Path, None],
              cache_dir: Union[str, Path, None]) -> Union[str, Path, None]:
    """``save_dir``, or ``cache_dir``: its earlier name, still accepted (with a
    DeprecationWarning) so that notebooks written with it keep running."""
    if cache_dir is None:
        return save_dir
    if save_dir is not None:
        raise SpecError("save_dir", "Give save_dir only: cache_dir is its old name.")
    warnings.warn("cache_dir= is now save_dir= (the folder 'Save for a fresh VM' writes to)",
                  DeprecationWarning, stacklevel=3)
    return cache_dir


def doctor(check_kernels: bool = True) -> str:
    """Print (and return) a report of host, versions, kernels, caches and settings."""
    from .doctor import doctor as _doctor

    return _doctor(check_kernels)


def save(folder: Union[str, Path], name: Optional[str] = None) -> Saved:
    """Save a kernel's Python, wheels and lock files to ``folder`` (e.g. on Drive)."""
    return freshvm.save(folder, name)


def restore(folder: Union[str, Path], name: Optional[str] = None,
            project_dir: Union[str, Path, None] = None,
            profile: Optional[ProfileChoice] = None
            ) -> Created:
    """Rebuild a saved kernel from ``folder`` without the package index."""
    from .terminal import TerminalView

    return freshvm.restore(folder, name, project_dir, [TerminalView()], profile)


def switch_notebook(name: Optional[str] = None, notebook_path: Union[str, Path, None] = None,
                    save_dir: Union[str, Path, None] = None,
                    cache_dir: Union[str, Path, None] = None) -> Path:
    """Write (on Colab: offer) a copy of the notebook that opens on kernel ``name``; its
    first cell restores from the save in ``save_dir`` when there is one (``cache_dir`` is
    the old name of ``save_dir``)."""
    from .notebook import switch

    path, message = switch(name, notebook_path, save_dir=_save_dir(save_dir, cache_dir))
    print(message)
    return path


def use(name: Optional[str], restart: bool = True) -> None:
    """Colab: start this notebook's own kernel on the kernel ``name`` colab_wizard made, from
    its next restart; ``use(None)`` goes back to Colab's Python. In a notebook the kernel is
    restarted at once (``restart=False``: at your next Runtime > Restart session).
    Elsewhere it explains that this is Colab-only and changes nothing."""
    from . import inplace

    try:
        if name is None:
            print(inplace.describe_reset(inplace.reset()))
        else:
            print(inplace.describe_use(inplace.use(name)))
    except inplace.NotColab as exc:
        print(exc)
        return
    if restart and inplace.in_kernel():
        print("Restarting the kernel now\u2026", flush=True)
        inplace.restart_kernel()
