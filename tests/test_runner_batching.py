"""The batched output path gives exactly the events and log lines of the line-by-line one."""

from __future__ import annotations

import random
import re
from pathlib import Path

from colab_wizard.events import Event
from colab_wizard.progress import PoetryInstallProgress
from colab_wizard.runner import Runner, Stage, StageContext
from colab_wizard.streams import LineSplitter

SAMPLE = [
    "Installing dependencies from lock file",
    "Package operations: 3 installs, 1 update, 0 removals",
    "  - Installing six (1.17.0)",
    "",
    "  - Installing six (1.17.0)",
    "  - Updating attrs (23.1 -> 24.2)",
    "  - Installing tabulate (0.9.0)",
    "données ✓",
]


async def _noop(ctx: StageContext) -> None:
    return None


def _collect(tmp_path: Path, batched: bool) -> tuple[list[Event], list[str]]:
    events: list[Event] = []
    runner = Runner([Stage("install", "Install", 1, _noop)], tmp_path / f"{batched}.log",
                    [events.append])
    log: list[str] = []
    runner._write_log = log.append  # type: ignore[method-assign]
    ctx = StageContext(runner, runner.stages[0])
    parser = PoetryInstallProgress()
    if batched:
        ctx.lines(SAMPLE, parser)
    else:
        for text in SAMPLE:
            ctx.line(text)
            found = parser.feed(text)
            if found is not None:
                ctx.progress(found[0], found[1], parser.unit)
    assert list(ctx.tail) == SAMPLE
    return events, "\n".join(log).split("\n")


def test_batched_lines_match_line_by_line(tmp_path: Path) -> None:
    assert _collect(tmp_path, True) == _collect(tmp_path, False)


def test_splitter_fast_path_matches_regex() -> None:
    rng = random.Random(7)
    alphabet = ["a", "é", "\n", "\r", "\r\n", " ", "x" * 5]
    reference = re.compile(r"\r\n|\r|\n")
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        data = text.encode("utf-8")
        splitter = LineSplitter()
        got: list[str] = []
        cuts = sorted(rng.sample(range(len(data) + 1), min(3, len(data) + 1)))
        last = 0
        for cut in cuts + [len(data)]:
            got += splitter.feed(data[last:cut])
            last = cut
        got += splitter.close()
        want = reference.split(text)
        if want and want[-1] == "":
            want.pop()
        assert got == want, (text, got, want)
