"""One install as the panel sees it: a runner for a spec, run (and re-run) from a stage.

By default the engine's own plan (``api.build_runner`` / ``api.run_plan``, with
the project lock); tests and demos may pass a ``plan_factory`` that returns
other stages for the same runner. No widgets here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from .. import adoption, api, freshvm, ownership, paths, pyproject
from ..events import Listener
from ..plan import Workspace
from ..runner import Runner, Stage
from ..spec import EnvSpec

PlanFactory = Callable[[EnvSpec], Sequence[Stage]]


class Job:
    """A runner for one spec, and whether it runs the engine's plan (with its locks)."""

    def __init__(self, spec: EnvSpec, runner: Runner, workspace: Optional[Workspace] = None,
                 engine: bool = True) -> None:
        self.spec = spec
        self.runner = runner
        self.workspace = workspace
        self.engine = engine

    @classmethod
    def create(cls, spec: EnvSpec, listener: Listener,
               plan_factory: Optional[PlanFactory] = None,
               edited_pyproject: Optional[str] = None) -> Job:
        """``edited_pyproject``: the whole pyproject.toml the user edited, for the project."""
        if edited_pyproject is not None:
            write_edited_pyproject(spec, edited_pyproject)
        if plan_factory is None:
            runner, workspace = api.build_runner(spec, [listener])
            return cls(spec, runner, workspace)
        runner = Runner(list(plan_factory(spec)), paths.new_log_path(spec.name), [listener])
        return cls(spec, runner, engine=False)

    @classmethod
    def adopt(cls, adopted: adoption.Adoption, listener: Listener) -> Job:
        """The user's own project, prepared (and shown) by :func:`adoption.prepare`."""
        runner, workspace = api.build_runner(adopted.spec, [listener], adopted=adopted)
        return cls(adopted.spec, runner, workspace)

    @classmethod
    def restore(cls, folder: Path, listener: Listener) -> Job:
        """Rebuild a saved kernel from its saved folder (no package index needed)."""
        spec, runner, workspace = freshvm.restore_runner(folder, listeners=[listener])
        return cls(spec, runner, workspace)

    async def run(self, start_at: Optional[str] = None) -> Optional[api.Created]:
        """Run (or re-run from ``start_at``); the outcome reaches the panel as events."""
        if not self.engine:
            await self.runner.run(start_at=start_at)
            return None
        try:
            assert self.workspace is not None  # every engine job is made with its workspace
            return await api.run_plan(self.runner, self.workspace, start_at)
        except api.CreateFailed:
            return None  # already shown: StageFailed / StageCancelled came as events

    def cancel(self) -> None:
        self.runner.cancel()

    def children(self) -> list[int]:
        return self.runner.children


def write_edited_pyproject(spec: EnvSpec, text: str) -> None:
    """A pyproject.toml the user edited in full goes into the project; the plan then
    changes only the keys it owns (tomlkit keeps the rest and the comments). Left alone
    when it would come out the same, so an unchanged re-run still skips every stage."""
    target = spec.project_dir / "pyproject.toml"
    if target.exists():
        current = target.read_text(encoding="utf-8")
        if pyproject.update(current, spec) == pyproject.update(text, spec):
            return
    spec.project_dir.mkdir(parents=True, exist_ok=True)
    ownership.claim(spec.project_dir)  # the wizard's from now on: a retry may edit it
    target.write_text(text, encoding="utf-8")
