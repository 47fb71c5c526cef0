"""The Python API: ``create`` (blocking, for scripts) and ``create_async``.

Both validate first (a :class:`SpecError` before any process starts), then
build the plan and hand it to the runner with whatever views the caller gives.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from . import adoption, colab, kernels, naming, ownership, paths, pyproject, settings, swap
from .errors import StageError, WizardError
from .events import Listener, Outcome
from .files import FileLock
from .plan import STATE_DIR, Workspace, plan
from .runner import Runner
from .spec import EnvSpec, SpecError, check_writable
from .sync import blocking


@dataclass(frozen=True)
class Created:
    """What a successful run made."""

    name: str
    display_name: str
    python: str
    project_dir: Path
    kernel_dir: Path
    venv_python: Path
    log_path: Path
    # The Colab kernel profile the kernel was registered with.
    profile: colab.Profile = colab.NONE
    # One sentence when *full* fell back to *plain*: what the kernel could not import.
    notice: Optional[str] = None


class CreateFailed(WizardError):
    """A run that did not finish: ``outcome`` is "failed" or "cancelled"."""

    def __init__(self, outcome: Outcome, log_path: Path,
                 error: Optional[StageError] = None) -> None:
        self.outcome: Outcome = outcome
        self.log_path = log_path
        self.error = error
        super().__init__(str(error) if error else f"Run {outcome}. Full log: {log_path}")


class Busy(WizardError):
    """Another run is already building this project."""


def make_spec(
    python: str,
    dependencies: Iterable[str] = (),
    name: Optional[str] = None,
    display_name: Optional[str] = None,
    project_dir: Union[str, Path, None] = None,
    index_url: Optional[str] = None,
    replace: bool = False,
) -> EnvSpec:
    """Validate the arguments into an EnvSpec, refusing a name taken by a foreign kernel and,
    unless ``replace``, one that would replace another kernel of ours (see naming.py)."""

    def named(kernel_name: Optional[str]) -> EnvSpec:
        return EnvSpec.make(python, dependencies, kernel_name, display_name, project_dir,
                            index_url)

    spec = named(name)
    if name is None:
        spec = naming.distinct(spec, named)
        owner = naming.folder_owner(spec) if project_dir is not None else None
        if owner is not None:  # no name given for a kernel's own folder: that kernel
            spec = named(owner.name)
    check_kernel_name(spec, replace)
    check_existing_pyproject(spec)
    return spec


def check_kernel_name(spec: EnvSpec, replace: bool = False) -> None:
    """The kernel name must not belong to someone else's kernel (create and adopt alike),
    nor, unless ``replace``, to another kernel of ours; the folders a run writes outside
    the project must be writable."""
    kernels.check_name_free(spec.name)
    naming.check(spec, replace)
    check_folders()


def prepare_adoption(request: adoption.Request, replace: bool = False) -> adoption.Adoption:
    """Read (or clone) the user's project and say what will change; nothing is written.
    The checks every spec gets apply (:func:`check_kernel_name`, with ``replace``)."""
    adopted = adoption.prepare(request)
    owner = naming.folder_owner(adopted.spec) if request.name is None else None
    if owner is not None:  # no name given for a kernel's own folder: that kernel again
        adopted = adoption.prepare(dataclasses.replace(request, name=owner.name))
    check_kernel_name(adopted.spec, replace)
    return adopted


def check_folders() -> None:
    """The folders every run writes outside the project, judged before any work: a
    read-only one would otherwise surface as a raw OSError at the last stage."""
    check_writable(paths.data_dir(), "data_dir", f"Set {settings.HOME.name} to a folder you "
                   "can write to.", "colab_wizard's data folder: ")
    check_writable(kernels.user_kernels_dir(), "kernels_dir", "Set JUPYTER_DATA_DIR to a "
                   "folder you can write to; Jupyter finds kernels there.",
                   "Jupyter's kernels folder: ")


def check_existing_pyproject(spec: EnvSpec) -> None:
    """A pyproject.toml already in the project folder must be one the wizard wrote and can
    edit (someone else's project is adopted, never overwritten).

    Judged here, before any process starts, rather than in the project stage;
    the file is only read.
    """
    ownership.check_create(spec.project_dir)
    path = spec.project_dir / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("pyproject", f"{path} cannot be read ({exc}).") from None
    pyproject.update(text, spec)


class RunLock:
    """One run at a time per project folder, and per kernel name: a second run is refused
    with :class:`Busy`, never interleaved with the first."""

    def __init__(self, path: Path, field: str, where: Path, busy_message: str) -> None:
        self.path = path
        self.field = field
        self.where = where
        self.busy_message = busy_message
        self.lock = FileLock(path)

    @classmethod
    def for_project(cls, project_dir: Path) -> RunLock:
        return cls(project_dir / STATE_DIR / "run.lock", "project_dir", project_dir,
                   f"Another install is already running for {project_dir}. "
                   "Wait for it to finish, or cancel it, then try again.")

    @classmethod
    def for_kernel_name(cls, name: str) -> RunLock:
        folder = paths.data_dir() / "locks"
        return cls(folder / f"{name}.lock", "data_dir", folder,
                   f"Another install is already building the kernel '{name}'. "
                   "Wait for it to finish, or cancel it, then try again.")

    def __enter__(self) -> RunLock:
        try:
            taken = self.lock.try_acquire()
        except OSError as exc:
            raise SpecError(
                self.field,
                f"Cannot write to {self.where} ({exc.strerror}). "
                "Choose a folder you can write to.",
            ) from None
        if not taken:
            raise Busy(self.busy_message)
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def build_runner(spec: EnvSpec, listeners: Iterable[Listener] = (),
                 profile: Optional[colab.ProfileChoice] = None,
                 adopted: Optional[adoption.Adoption] = None
                 ) -> tuple[Runner, Workspace]:
    """``profile``: "full", "plain", "none", or "auto" (the same as None: full on Colab,
    else none).
    ``adopted``: the user's own project (:func:`adoption.prepare`), marked adopted here."""
    ws = Workspace(spec, profile=colab.choose_profile(profile), adopted=adopted)
    if adopted is not None:
        adoption.mark(adopted)
    return Runner(plan(spec, ws), paths.new_log_path(spec.name), listeners), ws


def created(ws: Workspace, runner: Runner) -> Created:
    spec = ws.spec
    return Created(spec.name, spec.display_name, str(spec.python), spec.project_dir,
                   kernels.user_kernels_dir() / spec.name, ws.live_venv_python, runner.log_path,
                   ws.effective_profile(), ws.fallback_notice())


async def run_spec(spec: EnvSpec, listeners: Iterable[Listener] = (),
                   profile: Optional[colab.ProfileChoice] = None) -> Created:
    """Run the plan for a validated spec; raise CreateFailed unless it finishes."""
    runner, ws = build_runner(spec, listeners, profile)
    return await run_plan(runner, ws)


async def run_plan(runner: Runner, ws: Workspace, start_at: Optional[str] = None) -> Created:
    """Run a runner made for ``ws`` (:func:`build_runner`, or a restore's), from ``start_at``
    or the first stage not done, under the project's and the kernel name's locks; raise
    CreateFailed unless it finishes. The listeners and profile are the runner's and the
    workspace's own, given when they were made."""
    spec = ws.spec
    with RunLock.for_kernel_name(spec.name), RunLock.for_project(spec.project_dir):
        try:
            swap.recover(spec.project_dir)
        except WizardError:
            pass  # still half-way (the disk is full, say): this run's own swap supersedes it
        outcome = await runner.run(start_at=start_at, result=created(ws, runner))
    if outcome != "done":
        raise CreateFailed(outcome, runner.log_path, runner.failed)
    # Again after the run: a *full* profile may have fallen back to *plain* meanwhile.
    return created(ws, runner)


async def create_async(
    python: str,
    dependencies: Iterable[str] = (),
    name: Optional[str] = None,
    display_name: Optional[str] = None,
    project_dir: Union[str, Path, None] = None,
    index_url: Optional[str] = None,
    listeners: Iterable[Listener] = (),
    profile: Optional[colab.ProfileChoice] = None,
    adopt: bool = False,
    replace: bool = False,
) -> Created:
    """Build (or update) a Poetry environment and register it as a Jupyter kernel.

    ``profile`` picks how the kernel copes with Colab's IPython config: "full"
    (google.colab copied in), "plain" (overrides, no google.colab), "none"; by
    default "full" on Colab (falling back to "plain" if it cannot start), else "none".
    ``adopt=True``: ``project_dir`` is the user's own Poetry project, used as it is
    (see :func:`adopt_async`); ``python`` must fit its requires-python.
    ``replace=True`` confirms replacing another kernel of ours registered under ``name``
    for another project folder (that folder is kept); without it that is a SpecError.
    """
    if adopt:
        if project_dir is None:
            raise SpecError("project_dir", "Give the project folder to adopt (project_dir=...).")
        if list(dependencies or ()):
            raise SpecError("dependencies", "An adopted project's dependencies are the ones in "
                            "its pyproject.toml; add them there (poetry add), not here.")
        request = adoption.Request(project_dir, python or None, name, display_name,
                                   index_url=index_url, profile=profile)
        return await run_adoption(prepare_adoption(request, replace), listeners, profile)
    spec = make_spec(python, dependencies, name, display_name, project_dir, index_url,
                     replace)
    return await run_spec(spec, listeners, profile=profile)


async def adopt_async(
    source: Union[str, Path],
    python: Optional[str] = None,
    name: Optional[str] = None,
    display_name: Optional[str] = None,
    project_dir: Union[str, Path, None] = None,
    index_url: Optional[str] = None,
    relock: bool = False,
    listeners: Iterable[Listener] = (),
    profile: Optional[colab.ProfileChoice] = None,
    commit: Optional[str] = None,
) -> Created:
    """Make the user's own Poetry project (a folder, or a git URL cloned shallow into
    ``project_dir`` or the projects folder) a kernel, with its locked versions.

    ``python`` defaults to the newest version the project's requires-python allows;
    ``relock=True`` resolves again when poetry.lock no longer matches pyproject.toml;
    ``commit`` clones that commit (a restore). See :mod:`colab_wizard.adoption`.
    """
    request = adoption.Request(source, python, name, display_name, project_dir, index_url,
                               relock, profile, commit)
    return await run_adoption(prepare_adoption(request), listeners, profile)


async def run_adoption(adopted: adoption.Adoption, listeners: Iterable[Listener] = (),
                       profile: Optional[colab.ProfileChoice] = None) -> Created:
    """Run the plan for a prepared adoption (what :func:`adoption.prepare` showed)."""
    runner, ws = build_runner(adopted.spec, listeners, profile, adopted)
    return await run_plan(runner, ws)


create = blocking(create_async)
adopt = blocking(adopt_async)


def list_kernels() -> list[kernels.KernelInfo]:
    """Kernels colab_wizard registered (never anyone else's)."""
    return kernels.list_ours()


def remove_kernel(name: str) -> Path:
    """Unregister a kernel colab_wizard made; its project folder stays."""
    return kernels.remove(name)
