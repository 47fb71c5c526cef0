"""The terminal view: one line per stage as it ends, the log path when something fails."""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TextIO

from . import events


class TerminalView:
    """Prints ``[3/8] Resolve dependencies ... done (4.2s)``; ``verbose`` echoes tool output."""

    def __init__(self, stream: Optional[TextIO] = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.stages: dict[str, events.StageInfo] = {}
        self.order: list[str] = []

    def __call__(self, event: events.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _prefix(self, key: str) -> str:
        index = self.order.index(key) + 1 if key in self.order else 0
        label = self.stages[key].label if key in self.stages else key
        return f"[{index}/{len(self.order)}] {label}"

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _run_started(self, event: events.RunStarted) -> None:
        self.stages = {s.key: s for s in event.stages}
        self.order = [s.key for s in event.stages]

    def _stage_started(self, event: events.StageStarted) -> None:
        if self.verbose:
            self._print(f"{self._prefix(event.stage)} ...")

    def _stage_line(self, event: events.StageLine) -> None:
        if self.verbose:
            self._print(f"    {event.text}")

    def _stage_progress(self, event: events.StageProgress) -> None:
        if self.verbose and event.total:
            self._print(f"    {event.done:.0f}/{event.total:.0f} {event.unit}")

    def _stage_done(self, event: events.StageDone) -> None:
        status = "skipped (already done)" if event.skipped else f"done ({event.seconds:.1f}s)"
        detail = f" - {event.detail}" if event.detail and not event.skipped else ""
        self._print(f"{self._prefix(event.stage)}: {status}{detail}")

    def _stage_failed(self, event: events.StageFailed) -> None:
        self._print(f"{self._prefix(event.stage)}: FAILED")
        self._print(str(event.error))

    def _stage_cancelled(self, event: events.StageCancelled) -> None:
        self._print(f"{self._prefix(event.stage)}: cancelled")

    def _run_finished(self, event: events.RunFinished) -> None:
        if event.outcome != "done":
            self._print(f"Run {event.outcome} after {event.seconds:.1f}s. "
                        f"Full log: {event.log_path}")


# One method per event type; an event type not listed here prints nothing.
_HANDLERS: dict[type, Callable[[TerminalView, Any], None]] = {
    events.RunStarted: TerminalView._run_started,
    events.StageStarted: TerminalView._stage_started,
    events.StageLine: TerminalView._stage_line,
    events.StageProgress: TerminalView._stage_progress,
    events.StageDone: TerminalView._stage_done,
    events.StageFailed: TerminalView._stage_failed,
    events.StageCancelled: TerminalView._stage_cancelled,
    events.RunFinished: TerminalView._run_finished,
}
