"""One install as the panel sees it: a runner for a spec, run (and re-run) from a stage.

By default the engine's own plan (``api.build_runner`` / ``api.run_spec``, with
the project lock); tests and demos may pass a ``plan_factory`` that returns
other stages for the same runner. No widgets here.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from .. import api, paths
from ..events import Listener
from ..runner import Runner, Stage
from ..spec import EnvSpec

PlanFactory = Callable[[EnvSpec], Sequence[Stage]]


class Job:
    def __init__(self, spec: EnvSpec, listener: Listener,
                 plan_factory: Optional[PlanFactory] = None) -> None:
        self.spec = spec
        self.engine = plan_factory is None
        if plan_factory is None:
            self.runner, self.workspace = api.build_runner(spec, [listener])
        else:
            self.runner = Runner(list(plan_factory(spec)), paths.new_log_path(spec.name),
                                 [listener])

    async def run(self, start_at: Optional[str] = None) -> Optional[api.Created]:
        """Run (or re-run from ``start_at``); the outcome reaches the panel as events."""
        if not self.engine:
            await self.runner.run(start_at=start_at)
            return None
        try:
            return await api.run_spec(self.spec, start_at=start_at, runner=self.runner)
        except api.CreateFailed:
            return None  # already shown: StageFailed / StageCancelled came as events

    def cancel(self) -> None:
        self.runner.cancel()

    def children(self) -> list[int]:
        return list(self.runner._children)
