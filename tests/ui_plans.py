"""Small real plans for the panel tests: Stages that run quick Python subprocesses.

They go through the engine's Runner and StageContext like the real plan (same
events, same process groups, same progress parsers), only much faster.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from colab_wizard.progress import PoetryInstallProgress
from colab_wizard.runner import ProgressParser, Stage, StageContext
from colab_wizard.spec import EnvSpec

PACKAGES = (
    "import time\n"
    "print('Package operations: 3 installs, 0 updates, 0 removals', flush=True)\n"
    "for name in ('alpha', 'beta', 'gamma'):\n"
    "    print(f'  - Installing {name} (1.0)', flush=True)\n"
    "    time.sleep(0.05)\n"
)


def _stage(key: str, label: str, code: str, marks: Path,
           parser: Optional[ProgressParser] = None, timeout: float = 120) -> Stage:
    mark = marks / f"{key}.done"

    async def action(ctx: StageContext) -> str:
        await ctx.run([sys.executable, "-c", code], parser=parser)
        mark.write_text("ok")
        return f"{key} finished"

    return Stage(key, label, 1, action, mark.exists, timeout)


def quick_plan(marks: Path, *, middle: Optional[str] = None, middle_label: str = "Middle step",
               ) -> Callable[[EnvSpec], Sequence[Stage]]:
    """python -> packages (N of M) -> [middle] -> register; each a real subprocess."""
    marks.mkdir(parents=True, exist_ok=True)

    def factory(spec: EnvSpec) -> Sequence[Stage]:
        stages = [
            _stage("python", f"Find Python {spec.python}", "print('found python')", marks),
            _stage("install", "Install packages", PACKAGES, marks, PoetryInstallProgress()),
        ]
        if middle is not None:
            stages.append(_stage("middle", middle_label, middle, marks))
        stages.append(_stage("register", "Register the kernel", "print('registered')", marks))
        return stages

    return factory


def fail_unless(path: Path) -> str:
    """Code for a stage that fails (exit 3, with a message) until ``path`` exists."""
    return (f"import os, sys\nif not os.path.exists({str(path)!r}):\n"
            "    print('something is missing', flush=True); sys.exit(3)\nprint('fixed')\n")


def sleeper(pid_file: Path) -> str:
    """Code for a stage that records its pid and then sleeps for a minute."""
    return (f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "print('sleeping', flush=True)\ntime.sleep(60)\n")


def chatty(lines: int) -> str:
    return f"import sys\nfor i in range({lines}):\n    print('line', i)\n"
