"""The terminal view: one line per stage as it ends, the log path when something fails."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from .events import (
    Event,
    RunFinished,
    RunStarted,
    StageCancelled,
    StageDone,
    StageFailed,
    StageInfo,
    StageLine,
    StageProgress,
    StageStarted,
)


class TerminalView:
    """Prints ``[3/8] Resolve dependencies ... done (4.2s)``; ``verbose`` echoes tool output."""

    def __init__(self, stream: Optional[TextIO] = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.stages: dict[str, StageInfo] = {}
        self.order: list[str] = []

    def _prefix(self, key: str) -> str:
        index = self.order.index(key) + 1 if key in self.order else 0
        label = self.stages[key].label if key in self.stages else key
        return f"[{index}/{len(self.order)}] {label}"

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.stages = {s.key: s for s in event.stages}
            self.order = [s.key for s in event.stages]
        elif isinstance(event, StageStarted) and self.verbose:
            self._print(f"{self._prefix(event.stage)} ...")
        elif isinstance(event, StageLine) and self.verbose:
            self._print(f"    {event.text}")
        elif isinstance(event, StageProgress) and self.verbose and event.total:
            self._print(f"    {event.done:.0f}/{event.total:.0f} {event.unit}")
        elif isinstance(event, StageDone):
            status = "skipped (already done)" if event.skipped else f"done ({event.seconds:.1f}s)"
            detail = f" - {event.detail}" if event.detail and not event.skipped else ""
            self._print(f"{self._prefix(event.stage)}: {status}{detail}")
        elif isinstance(event, StageFailed):
            self._print(f"{self._prefix(event.stage)}: FAILED")
            self._print(str(event.error))
        elif isinstance(event, StageCancelled):
            self._print(f"{self._prefix(event.stage)}: cancelled")
        elif isinstance(event, RunFinished) and event.outcome != "done":
            seconds = f"{event.seconds:.1f}s"
            self._print(f"Run {event.outcome} after {seconds}. Full log: {event.log_path}")
