"""No silent replacement: which kernel of ours a name or a project folder already belongs to.

A kernel is its project folder: the same name built again in the same folder is an
update (rebuilt beside the live one, then swapped in), whatever else changed. A name
registered for *another* folder is another kernel: a derived name then moves on to
``name-2``, ``name-3``...; an explicit one needs ``replace=True`` (``--replace``, or the
panel's confirm). A folder holding another kernel's environment is never taken over.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from . import kernels
from .spec import EnvSpec, SpecError

MAX_SUFFIX = 99


class WouldReplace(SpecError):
    """An explicit name that would replace another kernel of ours; ``existing`` is it."""

    def __init__(self, spec: EnvSpec, existing: kernels.KernelInfo) -> None:
        self.existing = existing
        super().__init__(
            "name",
            f"A kernel named '{spec.name}' already exists ({existing.display_name}, Python "
            f"{existing.python}, project {existing.project_dir}); building in "
            f"{spec.project_dir} would replace it. Choose another name, or confirm the "
            "replacement (--replace, or replace=True); its project folder is kept.",
        )


def _same_folder(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def registered(name: str) -> Optional[kernels.KernelInfo]:
    """The kernel of ours registered as ``name``, if any."""
    return next((k for k in kernels.list_ours() if k.name == name), None)


def same_origin(info: kernels.KernelInfo, spec: EnvSpec) -> bool:
    """Whether ``info`` was made from this spec's display name, folder and Python, so a
    derived name may update it."""
    return (_same_folder(info.project_dir, spec.project_dir)
            and info.display_name == spec.display_name and info.python == str(spec.python))


def distinct(spec: EnvSpec, remake: Callable[[str], EnvSpec]) -> EnvSpec:
    """``spec`` with its derived name, or the first of ``name-2``, ``name-3``... that is free
    or was made from the same display name, folder and Python (``remake(name)`` gives the
    spec for a candidate, its default folder following the name)."""
    candidate = spec
    for number in range(2, MAX_SUFFIX + 2):
        info = registered(candidate.name)
        foreign = kernels.find_existing(candidate.name) is not None and info is None
        if not foreign and (info is None or same_origin(info, candidate)):
            return candidate
        candidate = remake(f"{spec.name[:60]}-{number}")
    raise SpecError("name", f"Kernels named '{spec.name}' up to '-{MAX_SUFFIX}' exist already; "
                    "give the kernel a name of its own.")


def folder_owner(spec: EnvSpec, ours: Optional[list[kernels.KernelInfo]] = None
                 ) -> Optional[kernels.KernelInfo]:
    """Another kernel of ours whose environment lives in ``spec.project_dir``."""
    return next((k for k in (kernels.list_ours() if ours is None else ours)
                 if k.name != spec.name and _same_folder(k.project_dir, spec.project_dir)),
                None)


def check(spec: EnvSpec, replace: bool = False) -> None:
    """Refuse, with a sentence, a spec that would silently replace another kernel."""
    ours = kernels.list_ours()  # one scan of the kernel folders for both questions
    other = folder_owner(spec, ours)
    if other is not None:
        raise SpecError(
            "project_dir",
            f"{spec.project_dir} holds the environment of the kernel '{other.name}' "
            f"({other.display_name}). Choose another folder, or build '{other.name}' "
            f"itself (or remove it first: python -m colab_wizard remove {other.name}).",
        )
    info = next((k for k in ours if k.name == spec.name), None)
    if info is not None and not replace and not _same_folder(info.project_dir,
                                                             spec.project_dir):
        raise WouldReplace(spec, info)
