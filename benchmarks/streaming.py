"""Streaming cost: a chatty child run bare to /dev/null vs through the runner into a view.

The view is pluggable: ``measure(..., view_factory=...)`` takes any callable returning a
runner listener. If the listener has a ``messages`` attribute (or method) its value is
reported as the number of messages the view sent (for the widget panel: widget state
messages); the default :class:`CountingView` counts events and reports none.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from colab_wizard.events import Event, StageLine
from colab_wizard.procenv import clean_env
from colab_wizard.runner import Runner, Stage, StageContext

# The child: N lines of ~60 characters, or N progress redraws with '\r' (a line every 100).
PLAIN = (
    "import sys\n"
    "w = sys.stdout.write\n"
    "for i in range({n}):\n"
    "    w('Downloading package %06d of the benchmark, some more text here\\n' % i)\n"
)
REDRAW = (
    "import sys\n"
    "w = sys.stdout.write\n"
    "for i in range({n}):\n"
    "    w('\\r  %3d%% |%-40s| %d/%d' % (i * 100 // {n}, '#' * (i * 40 // {n}), i, {n}))\n"
    "    if i % 100 == 99:\n"
    "        w('\\n')\n"
)
CHILDREN = {"lines": PLAIN, "redraws": REDRAW}


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Peak resident memory of this process above its level at start, sampled every 10 ms."""

    def __init__(self) -> None:
        self.base = rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.base


class CountingView:
    """A stand-in for the panel: counts events and lines, keeps nothing."""

    def __init__(self) -> None:
        self.events = 0
        self.lines = 0
        self.messages: Optional[int] = None

    def __call__(self, event: Event) -> None:
        self.events += 1
        if isinstance(event, StageLine):
            self.lines += 1


@dataclass
class Sample:
    wall: float
    cpu_self: float
    cpu_children: float
    rss_growth: int = 0
    lines: int = 0
    messages: Optional[int] = None


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def run_bare(code: str, pipe: bool = False) -> Sample:
    """The child alone: output to /dev/null, or (``pipe``) to a pipe drained by subprocess."""
    argv = [sys.executable, "-c", code]
    self0, child0 = _cpu()
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.PIPE if pipe else subprocess.DEVNULL,
                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(),
                   check=True, start_new_session=True)
    wall = time.perf_counter() - start
    self1, child1 = _cpu()
    return Sample(wall, self1 - self0, child1 - child0)


def _messages(view: Any) -> Optional[int]:
    value = getattr(view, "messages", None)
    if callable(value):
        value = value()
    return value if isinstance(value, int) else None


def run_through_runner(code: str, view: Any, log_dir: Path) -> Sample:
    argv = [sys.executable, "-c", code]

    async def action(ctx: StageContext) -> str:
        await ctx.run(argv)
        return "ok"

    runner = Runner([Stage("stream", "Stream", 1, action)], log_dir / "stream.log", [view])
    self0, child0 = _cpu()
    with RssSampler() as rss:
        start = time.perf_counter()
        outcome = asyncio.run(runner.run())
        wall = time.perf_counter() - start
    self1, child1 = _cpu()
    assert outcome == "done", outcome
    (log_dir / "stream.log").unlink()
    return Sample(wall, self1 - self0, child1 - child0, rss.growth,
                  getattr(view, "lines", 0), _messages(view))


def measure(kind: str, lines: int, rounds: int = 3,
            view_factory: Callable[[], Any] = CountingView) -> dict[str, Any]:
    """Alternate bare and runner runs; medians of each."""
    code = CHILDREN[kind].format(n=lines)
    bare: list[Sample] = []
    piped: list[Sample] = []
    ours: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="cw-stream-") as tmp:
        for _ in range(rounds):
            bare.append(run_bare(code))
            piped.append(run_bare(code, pipe=True))
            ours.append(run_through_runner(code, view_factory(), Path(tmp)))
        # One more run under tracemalloc: the peak of what Python allocated during it.
        tracemalloc.start()
        run_through_runner(code, view_factory(), Path(tmp))
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    def med(samples: list[Sample], attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples)

    bare_cpu = med(bare, "cpu_self") + med(bare, "cpu_children")
    our_cpu = med(ours, "cpu_self") + med(ours, "cpu_children")
    messages = [s.messages for s in ours if s.messages is not None]
    return {
        "kind": kind,
        "lines": lines,
        "bare_wall": med(bare, "wall"),
        "runner_wall": med(ours, "wall"),
        "wall_ratio": med(ours, "wall") / med(bare, "wall"),
        "pipe_wall": med(piped, "wall"),
        "pipe_ratio": med(ours, "wall") / med(piped, "wall"),
        "us_per_line": med(ours, "cpu_self") * 1e6 / lines,
        "runner_cpu_self": med(ours, "cpu_self"),
        "cpu_ratio": our_cpu / bare_cpu if bare_cpu else float("nan"),
        "rss_growth_mb": max(s.rss_growth for s in ours) / 2**20,
        "traced_peak_mb": traced_peak / 2**20,
        "view_lines": ours[-1].lines,
        "messages": statistics.median(messages) if messages else None,
        "messages_per_s": (statistics.median(messages) / med(ours, "wall")) if messages else None,
    }


if __name__ == "__main__":
    for kind in ("lines", "redraws"):
        for n in (50_000, 200_000):
            print(measure(kind, n, rounds=int(os.environ.get("ROUNDS", "3"))))
