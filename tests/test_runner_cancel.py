"""Cancel twice while a stubborn child (it ignores SIGTERM and has a grandchild) is being
killed: the kill still runs to the end, nothing is left."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from faultkit import descendants, wait_no_strays

from colab_wizard.events import Event, StageLine
from colab_wizard.runner import Runner, Stage, StageContext

STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)',\n"
    "                  sys.argv[1] + '-grandchild'])\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def test_second_cancel_during_the_kill(tmp_path: Path) -> None:
    marker = str(tmp_path / "stubborn-marker")
    before = descendants()

    async def action(ctx: StageContext) -> str:
        await ctx.run([sys.executable, "-c", STUBBORN, marker])
        return "not reached"

    runner = Runner([Stage("stubborn", "Stubborn", 1, action)], tmp_path / "run.log")
    pids: list[int] = []

    def on_event(event: Event) -> None:
        if isinstance(event, StageLine) and event.text == "ready":
            pids.extend(runner.children)
            runner.cancel()
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, runner.cancel)  # while SIGTERM is being ignored
            loop.call_later(1.0, runner.cancel)

    runner.subscribe(on_event)

    async def main() -> str:
        return await runner.run()

    assert asyncio.run(main()) == "cancelled"
    assert pids
    left = wait_no_strays((marker,), grace=2.0, ignore=before)
    assert not left, left
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_stage_timeout_kills_and_fails(tmp_path: Path) -> None:
    marker = str(tmp_path / "slow-marker")
    before = descendants()

    async def action(ctx: StageContext) -> str:
        await ctx.run([sys.executable, "-c", "import time; time.sleep(60)", marker])
        return "not reached"

    runner = Runner([Stage("slow", "Slow", 1, action, timeout=0.5)], tmp_path / "run.log")
    assert asyncio.run(runner.run()) == "failed"
    assert runner.failed is not None and "took longer than" in runner.failed.message
    assert not wait_no_strays((marker,), grace=1.0, ignore=before)


def test_cancelling_the_run_task_itself(tmp_path: Path) -> None:
    """The caller cancels the task running the runner (not runner.cancel()): same outcome."""
    marker = str(tmp_path / "outer-marker")
    before = descendants()

    async def action(ctx: StageContext) -> str:
        await ctx.run([sys.executable, "-c", "print('go', flush=True); import time; "
                       "time.sleep(60)", marker])
        return "not reached"

    runner = Runner([Stage("outer", "Outer", 1, action)], tmp_path / "run.log")

    async def main() -> str:
        run = asyncio.ensure_future(runner.run())
        while not runner.children:
            await asyncio.sleep(0.05)
        run.cancel()
        return await run

    assert asyncio.run(main()) == "cancelled"
    assert not wait_no_strays((marker,), grace=1.0, ignore=before)
