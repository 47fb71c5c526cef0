"""Faults during a real build, each with a working kernel of the same name already registered.

After every fault: the old kernel's files are byte for byte what they were, it still
starts and runs code, no process of the run is left (children of this test process, or
anything whose command line names the new project), and no half-registered folder lies
next to it. One Poetry build of the old kernel is shared by the module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Optional

import pytest
from faultkit import (
    IndexProxy,
    copy_kernel,
    descendants,
    fill_disk,
    leftovers,
    run_in_kernel,
    snapshot_kernel,
    snapshot_project,
    wait_no_strays,
)

from colab_wizard import api, colab, swap
from colab_wizard.events import Event, StageFailed, StageLine, StageStarted
from colab_wizard.runner import Runner

pytestmark = pytest.mark.slow

NAME = "fault-kernel"
DEPS = ["tabulate>=0.9"]
CHECK = "import sys, tabulate; print('%d.%d' % sys.version_info[:2], tabulate.__name__)"


def build_once(root: Path, shared_dirs: dict[str, Path], python: str, project: Path) -> Path:
    """Build the kernel NAME in ``project`` with dirs of its own under ``root``."""
    home = root / "home"
    home.mkdir()
    (home / "tools").symlink_to(shared_dirs["tools"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLAB_WIZARD_HOME", str(home))
        mp.setenv("JUPYTER_DATA_DIR", str(root / "jupyter"))
        mp.setenv("POETRY_CACHE_DIR", str(shared_dirs["poetry_cache"]))
        mp.setenv("POETRY_CONFIG_DIR", str(root / "poetry-config"))
        mp.setenv("JUPYTER_PLATFORM_DIRS", "1")
        mp.delenv("COLAB_WIZARD_HOST", raising=False)
        return api.create(python, DEPS, name=NAME, project_dir=project).kernel_dir


@pytest.fixture(scope="module")
def built_kernel(tmp_path_factory: pytest.TempPathFactory, shared_dirs: dict[str, Path],
                 other_python: str) -> Iterator[Path]:
    """The 'previously registered' kernel: built once, copied into each test's kernels dir."""
    root = tmp_path_factory.mktemp("old-kernel")
    yield build_once(root, shared_dirs, other_python, root / "old-project")


class Old:
    """The old kernel as registered for one test, and the checks every fault ends with."""

    def __init__(self, kernels_dir: Path, python: str, project: Path) -> None:
        self.kernels_dir = kernels_dir
        self.python = python
        self.files = snapshot_kernel(kernels_dir, NAME)
        self.project = project  # the new project the faulty run builds in
        self.before = descendants()  # e.g. a session-wide server started by other tests

    def assert_intact(self, run_it: bool = True) -> None:
        assert snapshot_kernel(self.kernels_dir, NAME) == self.files, "old kernel was changed"
        assert leftovers(self.kernels_dir, NAME) == []
        left = wait_no_strays((str(self.project),), ignore=self.before)
        assert not left, f"processes left behind: {left}"
        if run_it:
            assert run_in_kernel(NAME, CHECK) == f"{self.python} tabulate"


@pytest.fixture
def old(built_kernel: Path, wizard_env: dict[str, Path], other_python: str,
        tmp_path: Path) -> Old:
    copy_kernel(built_kernel, wizard_env["jupyter"] / "kernels")
    return Old(wizard_env["jupyter"] / "kernels", other_python, tmp_path / "new-project")


def run_with(spec: api.EnvSpec, on_event: Callable[[Runner, Event], None],
             profile: Optional[str] = None,
             ) -> tuple[Optional[api.Created], Optional[api.CreateFailed], list[Event]]:
    """Run ``spec`` with a listener that can act on the runner (cancel, kill children)."""
    events: list[Event] = []
    runner, ws = api.build_runner(spec, profile=profile)

    def listener(event: Event) -> None:
        events.append(event)
        on_event(runner, event)

    runner.subscribe(listener)
    try:
        return asyncio.run(api.run_plan(runner, ws)), None, events
    except api.CreateFailed as exc:
        return None, exc, events


def _spec(old: Old, python: str, deps: list[str] = DEPS, **extra: Any) -> api.EnvSpec:
    # For Old, the registered kernel of that name lives in another folder: a replacement,
    # confirmed. For Live it is the same folder, an update, which needs no confirmation.
    return api.make_spec(python, deps, name=NAME, project_dir=old.project, replace=True,
                         **extra)


# Stages that start a child which prints while it runs: cancel from its first line. (The
# kernel stage reads ipykernel's version from disk, no child: it is cancelled as it starts.)
CHILD_STAGES = {"project", "lock", "install", "verify"}


def canceller(key: str, hit: dict[str, Any], childless: Collection[str] = ()
              ) -> Callable[[Runner, Event], None]:
    """A listener cancelling the run in stage ``key``: from the first line of its child for
    CHILD_STAGES (from its first line at all for ``childless`` ones), else as it starts;
    ``hit["children"]`` records the children running then."""

    def cancel(runner: Runner, event: Event) -> None:
        if hit:
            return
        if key in CHILD_STAGES:
            if isinstance(event, StageLine) and event.stage == key and (
                    runner.children or key in childless):
                hit["children"] = sorted(runner.children)
                runner.cancel()
        elif isinstance(event, StageStarted) and event.stage == key:
            hit["children"] = []
            runner.cancel()

    return cancel


def test_cancel_at_every_stage(old: Old, other_python: str) -> None:
    """Cancel in each stage in turn (mid-command where the stage runs one); every run keeps
    what earlier runs finished, so the walk costs about one build, and a last run succeeds."""
    spec = _spec(old, other_python, ["tabulate>=0.9", "six"])
    stages = [s.key for s in api.build_runner(spec)[0].stages]
    assert stages == ["python", "poetry", "project", "lock", "install", "kernel", "verify",
                      "register"]
    for key in stages:
        hit: dict[str, Any] = {}
        cancel = canceller(key, hit)
        made, failed, events = run_with(spec, cancel)
        assert hit, f"the run never reached {key}"
        assert made is None and failed is not None and failed.outcome == "cancelled", key
        assert [type(e).__name__ for e in events][-2:] == ["StageCancelled", "RunFinished"]
        assert getattr(events[-2], "stage", None) == key
        old.assert_intact(run_it=False)
        for pid in hit["children"]:
            assert not Path(f"/proc/{pid}").exists(), f"child {pid} of {key} still there"
    old.assert_intact()
    made, failed, _ = run_with(spec, lambda runner, event: None)
    assert made is not None, failed
    assert run_in_kernel(NAME, "import six; print(six.__name__)") == "six"


@pytest.mark.parametrize("stage", ["install", "verify"])
def test_sigkill_of_the_runners_child(old: Old, other_python: str, stage: str) -> None:
    killed: list[int] = []

    def kill(runner: Runner, event: Event) -> None:
        if not killed and isinstance(event, StageLine) and event.stage == stage \
                and runner.children:
            for pid in runner.children:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    made, failed, events = run_with(_spec(old, other_python), kill)
    assert killed and failed is not None and failed.outcome == "failed"
    assert failed.error is not None and failed.error.stage == stage
    assert "stopped by signal SIGKILL" in str(failed.error)
    old.assert_intact()


def _through_proxy(old: Old, python: str, at_install: Callable[[IndexProxy], None],
                   ) -> tuple[IndexProxy, api.CreateFailed]:
    """Build through a loopback index proxy; ``at_install`` breaks it when install starts."""
    proxy = IndexProxy()
    try:
        spec = _spec(old, python, index_url=proxy.index_url)

        def fault(runner: Runner, event: Event) -> None:
            if isinstance(event, StageStarted) and event.stage == "install":
                at_install(proxy)

        made, failed, _ = run_with(spec, fault)
    finally:
        proxy.die()
    assert proxy.requests, "Poetry never used the proxy"
    assert failed is not None and failed.error is not None, made
    assert failed.error.stage == "install"
    return proxy, failed


def test_index_unreachable_mid_install(old: Old, other_python: str) -> None:
    proxy, failed = _through_proxy(old, other_python, IndexProxy.die)
    assert failed.error is not None and proxy.index_url in failed.error.hint
    old.assert_intact()


def test_download_cut(old: Old, other_python: str) -> None:
    def cut(proxy: IndexProxy) -> None:
        proxy.cut_downloads = True

    proxy, _ = _through_proxy(old, other_python, cut)
    assert proxy.downloads(), "nothing was downloaded through the proxy"
    old.assert_intact()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "small-disk"
    target.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(target)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}); needs root in a container "
                    "that allows mount")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def test_disk_full(old: Old, other_python: str, small_disk: Path) -> None:
    old.project = small_disk / "project"
    made, failed, events = run_with(_spec(old, other_python), lambda r, e: None)
    assert failed is not None and failed.error is not None, made
    assert "No space left on device" in str(failed.error)
    assert "disk is full" in failed.error.hint
    assert [e for e in events if isinstance(e, StageFailed)]
    old.assert_intact()


def test_two_installs_for_one_name(old: Old, other_python: str, tmp_path: Path) -> None:
    """Same name, different folders and the same folder: one builds, the others are refused
    before they start anything; the winner replaces the old kernel only after pre-flight."""
    spec = _spec(old, other_python)
    same_folder = api.make_spec(other_python, DEPS, name=NAME, project_dir=old.project,
                                replace=True)
    other_folder = api.make_spec(other_python, ["six"], name=NAME,
                                 project_dir=tmp_path / "elsewhere", replace=True)
    seen: dict[str, dict[str, bytes]] = {}

    def watch(event: Event) -> None:
        if isinstance(event, StageStarted) and event.stage in ("verify", "register"):
            seen[event.stage] = snapshot_kernel(old.kernels_dir, NAME)

    async def race() -> list[Any]:
        first = asyncio.ensure_future(api.run_spec(spec, [watch]))
        await asyncio.sleep(0)  # the first has taken its locks
        rest = [api.run_spec(same_folder), api.run_spec(other_folder)]
        return await asyncio.gather(first, *rest, return_exceptions=True)

    made, refused_same, refused_other = asyncio.run(race())
    assert isinstance(refused_same, api.Busy), refused_same
    assert isinstance(refused_other, api.Busy), refused_other
    assert NAME in str(refused_other)
    assert isinstance(made, api.Created), made
    assert not (tmp_path / "elsewhere" / "pyproject.toml").exists(), "the refused run wrote"
    # Registration is atomic: the old kernel stays until the new one passed pre-flight.
    assert seen["verify"] == old.files and seen["register"] == old.files
    assert snapshot_kernel(old.kernels_dir, NAME) != old.files
    assert str(old.project) in (old.kernels_dir / NAME / "kernel.json").read_text()
    assert leftovers(old.kernels_dir, NAME) == []
    assert not wait_no_strays((str(old.project),), ignore=old.before)
    assert run_in_kernel(NAME, CHECK) == f"{other_python} tabulate"


def test_kernel_failing_preflight(old: Old, other_python: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Like Colab's kernel_class that the new Python cannot import: the kernel dies at start.
    Profile 'none' asked for explicitly: the automatic choice would fall back to 'plain',
    which starts (tests/test_colab_profiles.py)."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.IPKernelApp.kernel_class = 'google.colab._kernel.Kernel'\n", encoding="utf-8")
    spec = _spec(old, other_python)
    with monkeypatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(profile.parent))
        made, failed, _ = run_with(spec, lambda r, e: None, profile="none")
    assert failed is not None and failed.error is not None, made
    assert failed.error.stage == "verify"
    assert "Nothing was registered" in failed.error.hint
    old.assert_intact()


@pytest.mark.parametrize("deps,words,hint", [
    (["colab-wizard-no-such-package-zz"], "there is no package called "
     "colab-wizard-no-such-package-zz on the index", "check the spelling"),
    (["requests==2.32.3", "charset-normalizer==1.4.1"], "the dependencies cannot be resolved: "
     "Because", "package names and version pins"),
], ids=["not-on-the-index", "conflicting-pins"])
def test_unresolvable_dependencies(old: Old, other_python: str, deps: list[str],
                                   words: str, hint: str) -> None:
    """Judged by Poetry (the index must be asked): the lock stage fails with its reason
    (in plain words where diagnose.py knows the cause, else Poetry's own)."""
    made, failed, _ = run_with(_spec(old, other_python, deps), lambda r, e: None)
    assert failed is not None and failed.error is not None, made
    assert failed.error.stage == "lock"
    assert failed.error.message.startswith(words)
    assert hint in failed.error.hint
    old.assert_intact(run_it=False)


def test_cancel_while_poetry_installs(old: Old, other_python: str,
                                      wizard_env: dict[str, Path]) -> None:
    """The one stage the walk above finds done: cancelled mid pip-install in a tool folder of
    its own, then rebuilt from nothing by the next run."""
    from colab_wizard.plan import Workspace, poetry_ready

    tools = wizard_env["home"] / "tools"
    tools.unlink()
    tools.mkdir()
    spec = _spec(old, other_python)
    hit: list[int] = []

    def cancel_in_pip(runner: Runner, event: Event) -> None:
        if not hit and isinstance(event, StageLine) and event.stage == "poetry" \
                and "pip" in " ".join(_cmdlines(runner.children)):
            hit.extend(runner.children)
            runner.cancel()

    made, failed, _ = run_with(spec, cancel_in_pip)
    assert hit and failed is not None and failed.outcome == "cancelled", made
    assert not poetry_ready(Workspace(spec))
    old.assert_intact(run_it=False)

    def stop_after_poetry(runner: Runner, event: Event) -> None:
        if isinstance(event, StageStarted) and event.stage == "project":
            runner.cancel()

    run_with(spec, stop_after_poetry)
    assert poetry_ready(Workspace(spec))
    old.assert_intact()


def _cmdlines(pids: set[int]) -> list[str]:
    found = []
    for pid in pids:
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return found


# -- re-builds of a working kernel in its own project folder -------------------------------
#
# The faults above build in a new folder; these change the live project itself (issue 13):
# until the new env has passed pre-flight and is swapped in, the kernelspec, the project
# files and every file of the venv stay byte for byte as they were.

REBUILD_DEPS = ["tabulate>=0.9", "six"]


@pytest.fixture(scope="module")
def live_template(tmp_path_factory: pytest.TempPathFactory, shared_dirs: dict[str, Path],
                  other_python: str) -> Iterator[tuple[Path, Path, Path]]:
    """A working kernel built once in ``project``; each test gets a fresh copy of it at the
    same path (a venv cannot move), from ``pristine``."""
    root = tmp_path_factory.mktemp("live-kernel")
    project = root / "project"
    kernel_dir = build_once(root, shared_dirs, other_python, project)
    pristine = root / "pristine"
    shutil.copytree(project, pristine, symlinks=True)
    yield project, pristine, kernel_dir


class Live(Old):
    """The working kernel and its own project, which the faulty run re-builds."""

    def __init__(self, kernels_dir: Path, python: str, project: Path) -> None:
        super().__init__(kernels_dir, python, project)
        self.tree = snapshot_project(project)

    def assert_intact(self, run_it: bool = True) -> None:
        assert snapshot_project(self.project) == self.tree, "the live project was changed"
        super().assert_intact(run_it)


@pytest.fixture
def live(live_template: tuple[Path, Path, Path], wizard_env: dict[str, Path],
         other_python: str) -> Live:
    project, pristine, kernel_dir = live_template
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(pristine, project, symlinks=True)
    copy_kernel(kernel_dir, wizard_env["jupyter"] / "kernels")
    return Live(wizard_env["jupyter"] / "kernels", other_python, project)


def test_cancel_at_every_stage_of_a_rebuild(live: Live, other_python: str) -> None:
    """Cancel each stage of an update of the working kernel (mid-command where a stage runs
    one); the live kernel is untouched after each, and the last run swaps the update in."""
    spec = _spec(live, other_python, REBUILD_DEPS)
    stages = [s.key for s in api.build_runner(spec)[0].stages]
    for key in stages:
        hit: dict[str, Any] = {}
        # The project stage copies the live venv in a thread, no child: cancel from its
        # first line; the others from their child's first line.
        cancel = canceller(key, hit, childless={"project"})
        made, failed, events = run_with(spec, cancel)
        assert hit, f"the run never reached {key}"
        assert made is None and failed is not None and failed.outcome == "cancelled", key
        live.assert_intact(run_it=False)
    live.assert_intact()
    made, failed, events = run_with(spec, lambda runner, event: None)
    assert made is not None, failed
    assert run_in_kernel(NAME, "import six, tabulate; print(six.__name__)") == "six"
    assert snapshot_project(live.project) != live.tree


def test_an_install_cut_short_is_made_again(live: Live, other_python: str) -> None:
    """An installer stopped mid-install can leave a package's metadata without its files
    (uv killed while it links a wheel: its next sync then counts the package as installed,
    and the kernel lacked six, seen in CI). The next run must not trust that venv: here the
    build's tabulate module is gone after a Cancel in the install, its dist-info kept."""
    spec = _spec(live, other_python, REBUILD_DEPS)
    hit: dict[str, Any] = {}
    made, failed, _ = run_with(spec, canceller("install", hit))
    assert hit and failed is not None and failed.outcome == "cancelled", made
    build = swap.pending(live.project)
    assert build is not None, "the cancelled run left no build to resume"
    site = colab.site_packages(build / ".venv")
    assert list(site.glob("tabulate-*.dist-info/METADATA")), "nothing to damage: no tabulate"
    for module in site.glob("tabulate*"):
        if not module.name.endswith(".dist-info"):
            # Unlinked: the build's files are hard links to the live venv's (swap.py).
            shutil.rmtree(module) if module.is_dir() else module.unlink()
    live.assert_intact()
    made, failed, events = run_with(spec, lambda runner, event: None)
    assert made is not None, failed
    assert run_in_kernel(NAME, "import six, tabulate; print(six.__name__)") == "six"
    assert any(isinstance(e, StageLine) and "was cut short" in e.text for e in events)


@pytest.mark.parametrize("fault", ["other-python-unknown-package", "install-killed"])
def test_failed_rebuild_keeps_the_kernel(live: Live, other_python: str, fault: str) -> None:
    """Issue 13, case 1: a re-create on another Python with a package that does not exist,
    and an update whose install dies half-way (its installer killed: with warm caches no
    index outage would stop it); the working kernel still starts."""
    if fault == "other-python-unknown-package":
        python = "3.10" if other_python != "3.10" else "3.13"
        made, failed, _ = run_with(_spec(live, python, ["colab-wizard-no-such-package-zz"]),
                                   lambda r, e: None)
        expected = "lock"
    else:
        def kill(runner: Runner, event: Event) -> None:
            if isinstance(event, StageLine) and event.stage == "install" and runner.children:
                for pid in runner.children:
                    os.kill(pid, signal.SIGKILL)

        made, failed, _ = run_with(_spec(live, other_python, REBUILD_DEPS + ["colorama"]), kill)
        expected = "install"
    assert failed is not None and failed.error is not None, made
    assert failed.error.stage == expected
    live.assert_intact()


def test_sigkill_of_the_wizard_mid_install(live: Live, other_python: str,
                                          wizard_env: dict[str, Path]) -> None:
    """The CLI itself killed while the installer runs: no swap happened, so the kernel is the
    old one; the next run resumes the build and swaps it in."""
    argv = [sys.executable, "-m", "colab_wizard", "create", "--python", other_python,
            "--name", NAME, "--project-dir", str(live.project), "-v"]
    for dep in REBUILD_DEPS:
        argv += ["--dep", dep]
    cli = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert cli.stdout is not None
    seen = []
    in_install = False
    for line in cli.stdout:
        seen.append(line)
        # The installer's first line (Poetry's or uv's), echoed indented by -v.
        if in_install and line.startswith("    "):
            cli.kill()
            break
        in_install = in_install or "Install packages ..." in line
    cli.wait()
    assert cli.returncode == -signal.SIGKILL, "".join(seen)
    # The installer, in its own session, may finish its install into the build; it never
    # swaps.
    assert not wait_no_strays((str(live.project),), grace=120, ignore=live.before)
    live.assert_intact()
    made, failed, events = run_with(_spec(live, other_python, REBUILD_DEPS), lambda r, e: None)
    assert made is not None, failed
    assert run_in_kernel(NAME, "import six; print(six.__name__)") == "six"


@pytest.mark.parametrize("where", ["kernels-folder", "project-folder"])
def test_disk_full_during_the_swap(live: Live, other_python: str, tmp_path: Path,
                                   wizard_env: dict[str, Path], where: str) -> None:
    """The disk fills up as the verified build is swapped in: the kernels folder (the first
    step fails, nothing changed) or the project's own disk (a later step fails). Either
    way a kernel starts, and the next run with space finishes the swap."""
    target = live.kernels_dir if where == "kernels-folder" else live.project
    saved = tmp_path / "saved"
    shutil.copytree(target, saved, symlinks=True)
    shutil.rmtree(target)
    target.mkdir()
    size = "1m" if where == "kernels-folder" else "400m"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        shutil.copytree(saved, target, symlinks=True, dirs_exist_ok=True)
        filler: list[Path] = []

        def fill(runner: Runner, event: Event) -> None:
            # As the switch starts: room for the journal (one page), not for what follows.
            if not filler and isinstance(event, StageLine) and event.stage == "register" \
                    and event.text.startswith("Switching"):
                filler.append(fill_disk(target, leave=4096 if where == "project-folder" else 0))

        spec = _spec(live, other_python, REBUILD_DEPS)
        made, failed, _ = run_with(spec, fill)
        assert filler and failed is not None and failed.error is not None, made
        assert failed.error.stage == "register"
        assert "No space left on device" in failed.error.message
        assert "run again" in failed.error.message
        out = run_in_kernel(NAME, CHECK + "\ntry:\n    import six; print('six')\n"
                            "except ImportError:\n    print('old')")
        assert out.startswith(f"{other_python} tabulate")
        if where == "kernels-folder":
            live.assert_intact()
        filler[0].unlink()
        made, failed, _ = run_with(spec, lambda r, e: None)
        assert made is not None, failed
        assert run_in_kernel(NAME, "import six; print(six.__name__)") == "six"
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)
