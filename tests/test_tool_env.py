"""Poetry's tool environment counts as ready only if its scripts' interpreter still exists."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from colab_wizard import api
from colab_wizard.files import FileLock, mark_done
from colab_wizard.plan import Workspace, install_poetry, poetry_ready, tools_mark
from colab_wizard.runner import Runner, Stage, StageContext


def _fake_env(ws: Workspace, interpreter: str, trampoline: bool = False) -> None:
    bin_dir = ws.poetry.parent
    bin_dir.mkdir(parents=True)
    os.symlink("/usr/bin/env", bin_dir / "python")
    if trampoline:
        text = f"#!/bin/sh\n'''exec' \"{interpreter}\" \"$0\" \"$@\"\n' '''\nimport sys\n"
    else:
        text = f"#!{interpreter}\nimport sys\n"
    ws.poetry.write_text(text, encoding="utf-8")
    mark_done(ws.poetry_env, tools_mark("pip"))


@pytest.mark.parametrize("trampoline", [False, True])
def test_moved_tool_env_is_not_ready(wizard_env: dict[str, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, trampoline: bool) -> None:
    home = tmp_path / "own-home"
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(home))
    ws = Workspace(api.make_spec("3.12", [], name="k", project_dir=tmp_path / "p"))
    _fake_env(ws, str(tmp_path / "gone" / "bin" / "python"), trampoline)
    assert not poetry_ready(ws)
    ws.poetry.write_text(f"#!{ws.poetry.parent / 'python'}\n", encoding="utf-8")
    assert poetry_ready(ws)


def test_tool_env_path_does_not_go_through_a_symlink(wizard_env: dict[str, Path],
                                                     tmp_path: Path) -> None:
    ws = Workspace(api.make_spec("3.12", [], name="k", project_dir=tmp_path / "p"))
    # conftest links wizard-home/tools to the session's shared folder
    assert (wizard_env["home"] / "tools").is_symlink()
    assert ws.poetry_env == ws.poetry_env.resolve()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_run_cancelled_while_another_holds_the_tool_lock_leaves_no_descriptor_open(
        wizard_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Poetry stage waits for another run's lock on the tools folder; a Cancel then must
    not leave the lock file's descriptor open in the kernel (one per cancelled run)."""
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(tmp_path / "own-home"))
    ws = Workspace(api.make_spec("3.12", [], name="k", project_dir=tmp_path / "p"))
    other_run = FileLock(ws.poetry_env.parent / ".poetry.lock")
    assert other_run.try_acquire()

    async def poetry_stage(ctx: StageContext) -> str:
        return await install_poetry(ws, ctx)

    runner = Runner([Stage("poetry", "Poetry", 1, poetry_stage)], tmp_path / "run.log", [])

    async def scenario() -> tuple[int, int]:
        before = len(os.listdir("/proc/self/fd"))
        task = asyncio.ensure_future(poetry_stage(StageContext(runner, runner.stages[0])))
        await asyncio.sleep(0.3)
        assert not task.done()  # still waiting for the other run
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return before, len(os.listdir("/proc/self/fd"))

    try:
        before, after = asyncio.run(scenario())
    finally:
        other_run.release()
    assert after == before
    assert not ws.poetry_env.exists()  # it never got past the lock
