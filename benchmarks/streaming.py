"""Streaming cost: a chatty child run bare to /dev/null vs through the runner into a view.

Two views: :class:`CountingView` (a runner listener that only counts events: the runner's
own cost) and the real widget panel, headless (:func:`run_through_panel`): a
:class:`colab_wizard.ui.Panel` whose plan is one stage running the child, started by its
Install button inside a running asyncio loop as in a kernel, every widget state message
counted where ipywidgets sends it (``Widget._send``; a comm open for each new widget).
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

from colab_wizard.events import Event, StageDone, StageLine
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
# The same lines in 100 bursts 30 ms apart (about 3 s): long enough to see the panel's
# steady message rate, which a child that is done in 0.2 s cannot show.
PACED = (
    "import sys, time\n"
    "w = sys.stdout.write\n"
    "for i in range({n}):\n"
    "    w('Downloading package %06d of the benchmark, some more text here\\n' % i)\n"
    "    if i % ({n} // 100) == 0:\n"
    "        sys.stdout.flush()\n"
    "        time.sleep(0.03)\n"
)
CHILDREN = {"lines": PLAIN, "redraws": REDRAW, "paced": PACED}


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
    renders: int = 0
    updates: int = 0
    stream_seconds: float = 0.0  # first line after the rows were drawn to the stage's end
    stream_messages: int = 0  # widget messages sent meanwhile


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


class MessageCounter:
    """Counts the widget messages ipywidgets sends (state updates and comm opens).

    Headless, ipywidgets 8 gives every widget a stand-in comm and sends to it as to a
    kernel's; 7.x sends nothing without a kernel (tests/test_ui_kernel.py counts there)."""

    def __init__(self) -> None:
        import ipywidgets

        self.widget = ipywidgets.Widget
        self.updates = 0
        self.opens = 0

    def __enter__(self) -> MessageCounter:
        counter = self
        send, opened = self.widget._send, self.widget.open
        self._saved = (send, opened)

        def counted_send(widget: Any, msg: Any, buffers: Any = None) -> None:
            counter.updates += 1
            send(widget, msg, buffers)

        def counted_open(widget: Any) -> None:
            counter.opens += 1
            opened(widget)

        self.widget._send = counted_send  # type: ignore[method-assign]
        self.widget.open = counted_open  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.widget._send, self.widget.open = self._saved  # type: ignore[method-assign]

    @property
    def messages(self) -> int:
        return self.updates + self.opens


def run_through_panel(code: str, log_dir: Path) -> Sample:
    """The child as the only stage of a headless Panel's install, clicked in a running loop."""
    from colab_wizard.ui import Panel

    argv = [sys.executable, "-c", code]

    async def action(ctx: StageContext) -> str:
        await ctx.run(argv)
        return "ok"

    def plan(spec: Any) -> list[Stage]:
        return [Stage("stream", "Stream", 1, action)]

    panel = Panel(mode="background", plan_factory=plan, versions=lambda: [("3.12", "3.12")],
                  host="jupyter", check_index=False, save_dir=log_dir / "no-saves")
    panel.python_step.kernel_name.value = f"cw-stream-{os.getpid()}"
    panel.next.click()
    assert panel.state.step == 1 and not panel.install_button.disabled, \
        panel.deps_step.deps_error.value

    # While the child streams (from the first line after the stage rows were drawn to the
    # stage's end): messages and seconds; the steady state, without the one-off drawing.
    counter = MessageCounter()
    marks: list[tuple[float, int]] = []
    on_event = panel._on_event

    def watched(event: Event) -> None:
        if (isinstance(event, StageLine) and not marks and panel.install_step.row_views) \
                or isinstance(event, StageDone):
            marks.append((time.perf_counter(), counter.messages))
        on_event(event)

    panel._on_event = watched  # type: ignore[method-assign]

    async def click() -> None:
        panel.install_button.click()
        assert panel.driver.task is not None
        await panel.driver.task

    self0, child0 = _cpu()
    with RssSampler() as rss, counter:
        start = time.perf_counter()
        asyncio.run(click())
        wall = time.perf_counter() - start
    self1, child1 = _cpu()
    assert panel.install.outcome == "done", (panel.install_step.banner.value,
                                             panel.install_step.log.value)
    log = panel.install.log_path
    if log is not None:
        log.unlink(missing_ok=True)
    (t0, m0), (t1, m1) = marks[0], marks[-1]
    return Sample(wall, self1 - self0, child1 - child0, rss.growth, 0, counter.messages,
                  panel.renders, counter.updates, t1 - t0, m1 - m0)


def measure(kind: str, lines: int, rounds: int = 3,
            view_factory: Optional[Callable[[], Any]] = None) -> dict[str, Any]:
    """Alternate bare and runner runs; medians of each. Without ``view_factory`` the runner
    feeds the real headless panel; with one, the runner feeds ``view_factory()``."""
    code = CHILDREN[kind].format(n=lines)
    bare: list[Sample] = []
    piped: list[Sample] = []
    ours: list[Sample] = []

    def ours_once(tmp: Path) -> Sample:
        if view_factory is None:
            return run_through_panel(code, tmp)
        return run_through_runner(code, view_factory(), tmp)

    with tempfile.TemporaryDirectory(prefix="cw-stream-") as tmp:
        for _ in range(rounds):
            bare.append(run_bare(code))
            piped.append(run_bare(code, pipe=True))
            ours.append(ours_once(Path(tmp)))
        # One more run under tracemalloc: the peak of what Python allocated during it.
        tracemalloc.start()
        ours_once(Path(tmp))
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    def med(samples: list[Sample], attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples)

    bare_cpu = med(bare, "cpu_self") + med(bare, "cpu_children")
    our_cpu = med(ours, "cpu_self") + med(ours, "cpu_children")
    messages = [s.messages for s in ours if s.messages is not None]
    rates = [s.stream_messages / s.stream_seconds for s in ours
             if view_factory is None and s.stream_seconds > 0]
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
        "renders": med(ours, "renders"),
        "stream_messages": med(ours, "stream_messages"),
        # None when no run streamed long enough to time (a fast machine, or a view that
        # sent nothing while streaming): "no median for empty data" otherwise.
        "stream_messages_per_s": statistics.median(rates) if rates else None,
        "renders_per_s": med(ours, "renders") / med(ours, "wall"),
    }


if __name__ == "__main__":
    for kind in ("lines", "redraws"):
        for n in (50_000, 200_000):
            print(measure(kind, n, rounds=int(os.environ.get("ROUNDS", "3"))))
            print(measure(kind, n, rounds=int(os.environ.get("ROUNDS", "3")),
                          view_factory=CountingView))
