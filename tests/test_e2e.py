"""End to end, for real: another CPython, real Poetry, a real index, a real kernel."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from faultkit import descendants, run_in_kernel, wait_no_strays

import colab_wizard
from colab_wizard import api, kernels
from colab_wizard.events import Event, StageDone, StageLine

pytestmark = pytest.mark.slow


def stage_results(events: list[Event]) -> dict[str, bool]:
    return {e.stage: e.skipped for e in events if isinstance(e, StageDone)}


def test_create_rerun_change_and_remove(wizard_env: dict[str, Path], other_python: str) -> None:
    project = wizard_env["projects"] / "e2e"
    events: list[Event] = []
    made = colab_wizard.create(python=other_python, dependencies=["six>=1.16"], name="e2e-test",
                               project_dir=project, listeners=[events.append])
    assert made.kernel_dir == wizard_env["jupyter"] / "kernels" / "e2e-test"
    # Poetry's tool env is shared by the test session; every other stage must really run.
    assert [k for k, s in stage_results(events).items() if s] in ([], ["poetry"])

    report = json.loads(run_in_kernel("e2e-test", (
        "import json, sys, six\n"
        "print(json.dumps({'v': list(sys.version_info[:2]), 'six': six.__version__,"
        " 'exe': sys.executable}))"
    )))
    assert ".".join(map(str, report["v"])) == other_python
    assert report["exe"].startswith(str(project / ".venv"))
    assert [k.name for k in colab_wizard.list_kernels()] == ["e2e-test"]

    # Unchanged re-run: every stage skipped, in a couple of seconds.
    events.clear()
    started = time.monotonic()
    colab_wizard.create(python=other_python, dependencies=["six>=1.16"], name="e2e-test",
                        project_dir=project, listeners=[events.append])
    elapsed = time.monotonic() - started
    assert all(stage_results(events).values()) and len(stage_results(events)) == 8
    assert elapsed < 10, f"unchanged re-run took {elapsed:.1f}s"

    # A changed dependency re-locks and re-installs only what changed. Called as a notebook
    # cell calls it: inside a running event loop, which gets its loop back afterwards.
    events.clear()

    async def cell() -> colab_wizard.Created:
        outer = asyncio.get_running_loop()
        changed = colab_wizard.create(python=other_python,
                                      dependencies=["six>=1.16", "tabulate"], name="e2e-test",
                                      project_dir=project, listeners=[events.append])
        assert asyncio.get_running_loop() is outer
        await asyncio.sleep(0)
        return changed

    assert asyncio.run(cell()).kernel_dir == made.kernel_dir
    skipped = stage_results(events)
    # Built beside the live env (a hard-linked copy of it), verified, then swapped in.
    assert [k for k, s in skipped.items() if not s] == ["project", "lock", "install", "kernel",
                                                        "verify", "register"]
    install_lines = [e.text for e in events if isinstance(e, StageLine) and e.stage == "install"]
    # uv lists what it installed as " + name==version".
    assert any(line.startswith(" + tabulate==") for line in install_lines)
    assert not any(line.startswith(" + six==") for line in install_lines)
    assert "tabulate" in run_in_kernel("e2e-test", "import tabulate; print(tabulate.__name__)")
    # One live env is kept: the link names it, the one before is gone (or being deleted).
    venv = project / ".venv"
    envs = venv.resolve().parent.parent
    kept = [p.name for p in envs.iterdir() if not p.name.startswith(".trash-")]
    assert venv.is_symlink() and kept == [venv.resolve().parent.name]

    # remove unregisters ours and keeps the project folder.
    colab_wizard.remove_kernel("e2e-test")
    assert colab_wizard.list_kernels() == []
    assert (project / "poetry.lock").exists()


def test_cancel_during_install_leaves_nothing(wizard_env: dict[str, Path],
                                              other_python: str) -> None:
    before = descendants()
    spec = api.make_spec(other_python, ["six"], name="cancel-test",
                         project_dir=wizard_env["projects"] / "cancel")
    runner, ws = api.build_runner(spec)
    seen_pids: set[int] = set()

    def on_event(event: Event) -> None:
        if isinstance(event, StageLine) and event.stage == "install":
            seen_pids.update(runner.children)
            # uv's first line ("Using Python ... environment at"), with the installer running.
            if runner.children:
                asyncio.get_running_loop().call_soon(runner.cancel)

    runner.subscribe(on_event)
    with pytest.raises(api.CreateFailed) as caught:
        asyncio.run(api.run_plan(runner, ws))
    assert caught.value.outcome == "cancelled"
    assert seen_pids, "the install stage never started a process"
    for pid in seen_pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert kernels.find_existing("cancel-test") is None
    assert not (wizard_env["jupyter"] / "kernels" / "cancel-test").exists()
    # No process of ours is left below this test process (other tests' servers aside).
    assert wait_no_strays(ignore=before, grace=2.0) == []


def test_bad_input_starts_no_process(wizard_env: dict[str, Path]) -> None:
    spawned: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event in ("subprocess.Popen", "os.posix_spawn", "os.fork", "os.exec"):
            spawned.append(event)

    sys.addaudithook(audit)
    for bad in ({"python": "3.99"}, {"python": "3.12", "name": "a b"},
                {"python": "3.12", "dependencies": ["numpy>>=1"]}):
        with pytest.raises(colab_wizard.SpecError):
            colab_wizard.create(**bad)  # type: ignore[arg-type]
    assert spawned == []


def test_create_works_inside_a_running_loop(wizard_env: dict[str, Path]) -> None:
    """As in a notebook cell: create() is called while an event loop is running."""

    async def cell() -> None:
        with pytest.raises(colab_wizard.SpecError, match="not supported"):
            colab_wizard.create(python="3.99")

    asyncio.run(cell())
