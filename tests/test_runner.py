"""The runner with real subprocesses: streaming, failures, cancel, timeouts, the log file."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from faultkit import alive

from colab_wizard.errors import SpecError
from colab_wizard.events import (
    Event,
    RunFinished,
    StageCancelled,
    StageDone,
    StageFailed,
    StageLine,
    StageProgress,
)
from colab_wizard.progress import OverallProgress, PoetryInstallProgress
from colab_wizard.runner import Runner, Stage, StageContext


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def command_stage(key: str, argv: list[str], timeout: float = 60.0, **kw: Any) -> Stage:
    async def action(ctx: StageContext) -> Optional[str]:
        await ctx.run(argv, **kw)
        return None

    return Stage(key, key.title(), 1.0, action, timeout=timeout)


def run(stages: list[Stage], tmp_path: Path, **kw: Any) -> tuple[str, list[Event], Runner]:
    events: list[Event] = []
    runner = Runner(stages, tmp_path / "logs" / "run.log", [events.append])
    outcome = asyncio.run(runner.run(**kw))
    return outcome, events, runner




def test_a_wizard_error_in_a_stage_is_its_sentence_not_a_bug(tmp_path: Path) -> None:
    """An error the package raises already says what to do: no type name, no traceback."""
    async def action(ctx: StageContext) -> Optional[str]:
        raise SpecError("name", "A kernel named 'k' was not made by colab_wizard; not replaced.")

    async def bug(ctx: StageContext) -> Optional[str]:
        raise KeyError("python")

    for stage_action, shown in ((action, "name: A kernel named 'k' was not made"),
                                (bug, "KeyError: 'python'")):
        outcome, events, runner = run([Stage("register", "Register", 1.0, stage_action)],
                                      tmp_path)
        assert outcome == "failed"
        error = next(e for e in events if isinstance(e, StageFailed)).error
        assert error.stage == "register" and error.message.startswith(shown), error.message
        assert ("Traceback" in runner.log_path.read_text()) == (stage_action is bug)
        runner.log_path.unlink()


def test_streams_lines_progress_and_log(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "print('Package operations: 2 installs, 0 updates, 0 removals')\n"
        "print('  - Installing six (1.17.0)')\n"
        "sys.stdout.write('half '); sys.stdout.flush()\n"
        "print('line ✓')\n"
        "print('  - Installing tabulate (0.9.0)')\n"
    )
    stage = command_stage("install", py(code), parser=PoetryInstallProgress())
    outcome, events, runner = run([stage], tmp_path)
    assert outcome == "done"
    lines = [e.text for e in events if isinstance(e, StageLine)]
    assert "half line ✓" in lines
    progress = [(e.done, e.total, e.unit) for e in events if isinstance(e, StageProgress)]
    assert progress == [(0, 2, "packages"), (1, 2, "packages"), (2, 2, "packages")]
    log = runner.log_path.read_text()
    assert "[install] half line ✓" in log and "=== done" in log
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "done"


def test_failure_carries_stage_command_code_tail_and_log(tmp_path: Path) -> None:
    argv = py("import sys\nfor i in range(50): print('out', i)\nsys.exit(3)")
    later = command_stage("later", py("print('never')"))
    outcome, events, runner = run([command_stage("lock", argv), later], tmp_path)
    assert outcome == "failed"
    failed = [e for e in events if isinstance(e, StageFailed)]
    assert len(failed) == 1
    error = failed[0].error
    assert error.stage == "lock" and error.exit_code == 3
    assert error.command == tuple(argv)
    assert error.tail[-1] == "out 49" and len(error.tail) == 10
    assert error.log_path == runner.log_path
    assert "Exit code: 3" in str(error) and str(runner.log_path) in str(error)
    assert not any(isinstance(e, StageLine) and e.text == "never" for e in events)


def test_missing_program_is_a_stage_failure(tmp_path: Path) -> None:
    outcome, events, _ = run([command_stage("x", ["/nonexistent/tool", "--v"])], tmp_path)
    assert outcome == "failed"
    error = next(e.error for e in events if isinstance(e, StageFailed))
    assert "could not start /nonexistent/tool" in error.message


GRANDCHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "print('pids', child.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def _pids_from(events: list[Event]) -> list[int]:
    for event in events:
        if isinstance(event, StageLine) and event.text.startswith("pids "):
            return [int(event.text.split()[1])]
    return []


def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    events: list[Event] = []
    runner = Runner([command_stage("install", py(GRANDCHILD))], tmp_path / "r.log",
                    [events.append])
    children: list[int] = []

    def watch(event: Event) -> None:
        if isinstance(event, StageLine) and event.text.startswith("pids "):
            children.extend(runner.children)
            asyncio.get_running_loop().call_soon(runner.cancel)

    runner.subscribe(watch)
    started = time.monotonic()
    outcome = asyncio.run(runner.run())
    assert outcome == "cancelled"
    assert time.monotonic() - started < 30
    assert any(isinstance(e, StageCancelled) for e in events)
    for pid in children + _pids_from(events):
        assert not alive(pid), f"process {pid} survived the cancel"


def test_timeout_fails_and_kills(tmp_path: Path) -> None:
    stage = command_stage("lock", py(GRANDCHILD), timeout=2.0)
    outcome, events, _ = run([stage], tmp_path)
    assert outcome == "failed"
    error = next(e.error for e in events if isinstance(e, StageFailed))
    assert "longer than 2 seconds" in error.message
    for pid in _pids_from(events):
        assert not alive(pid)


def test_done_stages_are_skipped_unless_retried_from(tmp_path: Path) -> None:
    calls: list[str] = []

    async def action(ctx: StageContext) -> str:
        calls.append(ctx.stage.key)
        return "ran"

    stages = [Stage(k, k, 1.0, action, is_done=lambda: True) for k in ("a", "b", "c")]
    outcome, events, _ = run(stages, tmp_path)
    assert outcome == "done" and calls == []
    assert [e.skipped for e in events if isinstance(e, StageDone)] == [True, True, True]
    outcome, events, _ = run(stages, tmp_path, start_at="b")
    assert calls == ["b"]


def test_overall_progress_only_moves_forward(tmp_path: Path) -> None:
    code = (
        "print('Package operations: 4 installs, 0 updates, 0 removals')\n"
        "for p in 'abcd': print('  - Installing', p, '(1.0)')\n"
        "for p in 'ab': print('  - Installing', p, '(1.0)')\n"
    )
    stages = [command_stage("one", py("print(1)")),
              command_stage("two", py(code), parser=PoetryInstallProgress())]
    overall = OverallProgress()
    values: list[float] = []
    events: list[Event] = []
    runner = Runner(stages, tmp_path / "r.log", [events.append,
                                                  lambda e: values.append(overall.update(e))])
    assert asyncio.run(runner.run()) == "done"
    assert values == sorted(values) and values[-1] == pytest.approx(1.0)
    assert any(0.5 < v < 1.0 for v in values)


def test_a_broken_view_does_not_break_the_run(tmp_path: Path) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("view bug")

    runner = Runner([command_stage("a", py("print('x')"))], tmp_path / "r.log", [broken])
    assert asyncio.run(runner.run()) == "done"
    assert "view bug" in runner.log_path.read_text()


def test_huge_line_and_many_lines(tmp_path: Path) -> None:
    code = "import sys\nsys.stdout.write('y' * 200000 + '\\n')\nfor i in range(20000): print(i)"
    outcome, events, _ = run([command_stage("a", py(code))], tmp_path)
    assert outcome == "done"
    lines = [e.text for e in events if isinstance(e, StageLine)]
    assert "".join(lines[:4]) == "y" * 200000
    assert lines[-1] == "19999"
