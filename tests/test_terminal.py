"""The terminal view: what a run prints, quiet and verbose (events in, text out; no process)."""

from __future__ import annotations

import io
from pathlib import Path

from colab_wizard import events
from colab_wizard.errors import StageError
from colab_wizard.terminal import TerminalView

LOG = Path("/tmp/run.log")
EVENTS = [
    events.RunStarted((events.StageInfo("python", "Find Python", 1),
                       events.StageInfo("lock", "Resolve", 2),
                       events.StageInfo("install", "Install", 3)), LOG),
    events.StageStarted("python", 0),
    events.StageDone("python", True, 0.0, "3.12.4"),
    events.StageStarted("lock", 1),
    events.StageLine("lock", "Resolving dependencies..."),
    events.StageProgress("lock", 3, None),
    events.StageProgress("lock", 3, 4, "packages"),
    events.StageDone("lock", False, 4.25, "12 packages"),
    events.StageStarted("install", 2),
    events.StageFailed("install", StageError("install", "pip exited with code 1", hint="Retry.")),
    events.StageCancelled("install"),
    events.RunFinished("failed", 7.5, LOG),
]


def printed(verbose: bool) -> list[str]:
    out = io.StringIO()
    view = TerminalView(out, verbose=verbose)
    for event in EVENTS:
        view(event)
    return out.getvalue().splitlines()


def test_quiet_prints_one_line_per_ended_stage_and_where_the_log_is() -> None:
    assert printed(False) == [
        "[1/3] Find Python: skipped (already done)",
        "[2/3] Resolve: done (4.2s) - 12 packages",
        "[3/3] Install: FAILED",
        "Stage 'install' failed: pip exited with code 1",
        "What to try: Retry.",
        "[3/3] Install: cancelled",
        "Run failed after 7.5s. Full log: /tmp/run.log",
    ]


def test_verbose_adds_starts_tool_output_and_known_totals() -> None:
    lines = printed(True)
    assert lines[:6] == [
        "[1/3] Find Python ...",
        "[1/3] Find Python: skipped (already done)",
        "[2/3] Resolve ...",
        "    Resolving dependencies...",
        "    3/4 packages",  # a progress without a total prints nothing
        "[2/3] Resolve: done (4.2s) - 12 packages",
    ]
    assert lines[6] == "[3/3] Install ..."


def test_a_run_that_ends_well_says_nothing_more() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    view(events.RunFinished("done", 1.0, LOG))
    view(events.StageDone("unknown", False, 1.0))  # a stage it was never told about
    assert out.getvalue().splitlines() == ["[0/0] unknown: done (1.0s)"]
