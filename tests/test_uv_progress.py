"""uv's install output read as N of M packages, from the real uv the wizard fetches."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from colab_wizard import index, interpreters, uvtool
from colab_wizard.events import Event, StageProgress
from colab_wizard.procenv import clean_env
from colab_wizard.progress import UvProgress
from colab_wizard.runner import Runner, Stage, StageContext
from colab_wizard.spec import parse_python


def test_uv_sync_progress_is_n_of_m(wizard_env: dict[str, Path], tmp_path: Path,
                                    other_python: str) -> None:
    url = index.resolve_index_url()
    if not uvtool.ready():
        uvtool.fetch(url)
    found = interpreters.find(parse_python(other_python))
    assert found is not None
    venv = tmp_path / "venv"
    subprocess.run([str(uvtool.binary()), "venv", "-q", "--python", str(found.path), str(venv)],
                   env=clean_env(uvtool.env()), check=True)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\ntabulate==0.9.0\n")

    async def action(ctx: StageContext) -> None:
        await ctx.run([str(uvtool.binary()), "pip", "sync", "--python",
                       str(venv / "bin" / "python"), str(requirements)],
                      env=uvtool.env(url), parser=UvProgress())

    events: list[Event] = []
    runner = Runner([Stage("install", "Install", 1.0, action)], tmp_path / "run.log",
                    [events.append])
    assert asyncio.run(runner.run()) == "done"
    progress = [(e.done, e.total, e.unit) for e in events if isinstance(e, StageProgress)]
    assert progress[0] == (0, 2, "packages") and progress[-1] == (2, 2, "packages")
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
