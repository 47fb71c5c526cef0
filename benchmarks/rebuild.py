"""Re-building a working kernel: ``python benchmarks/rebuild.py [--rounds 3]``.

1. unchanged re-run: ``create`` again with the same spec (every stage should skip);
2. one-package change: ``tabulate`` added, then taken out again, alternating (each is a
   lock, an install of that one package, a kernel start and the swap).

Medians of ``--rounds``, with the stages that ran. Everything goes to a temporary folder
except Poetry's tool environment and package cache (``--cache``), so caches are warm.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import isolate, pick_python  # noqa: E402

import colab_wizard  # noqa: E402
from colab_wizard import api  # noqa: E402
from colab_wizard.events import Event, StageDone  # noqa: E402

BASE = ["six", "attrs"]
EXTRA = "tabulate>=0.9"


def timed(python: str, deps: list[str], project: Path) -> tuple[float, dict[str, float]]:
    """Seconds for one ``create``, and those of each stage that ran."""
    events: list[Event] = []
    start = time.perf_counter()
    api.create(python, deps, name="bench-rebuild", project_dir=project,
               listeners=[events.append])
    ran = {e.stage: e.seconds for e in events if isinstance(e, StageDone) and not e.skipped}
    return time.perf_counter() - start, ran


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "colab_wizard-bench")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cw-rebuild-"))
    isolate(work, args.cache)
    python = pick_python()
    print(f"colab_wizard {colab_wizard.__version__} from {Path(colab_wizard.__file__).parent}, "
          f"target Python {python}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{platform.platform()}")
    project = work / "project"
    try:
        current = list(BASE)
        timed(python, current, project)
        unchanged: list[float] = []
        changed: list[float] = []
        ran_unchanged: list[dict[str, float]] = []
        ran_changed: list[dict[str, float]] = []
        for _ in range(args.rounds):
            seconds, ran = timed(python, current, project)
            unchanged.append(seconds)
            ran_unchanged.append(ran)
            current = BASE + [EXTRA] if EXTRA not in current else list(BASE)
            seconds, ran = timed(python, current, project)
            changed.append(seconds)
            ran_changed.append(ran)
        for label, runs, stages in (("unchanged re-run:  ", unchanged, ran_unchanged),
                                    ("one-package change:", changed, ran_changed)):
            keys = list(dict.fromkeys(k for ran in stages for k in ran))
            per_stage = ", ".join(
                f"{k} {statistics.median(ran.get(k, 0.0) for ran in stages):.2f}" for k in keys)
            print(f"{label} median {statistics.median(runs):.2f} s "
                  f"({', '.join(f'{s:.2f}' for s in runs)}); stages that ran (median s): "
                  f"{per_stage or '-'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
