"""Adopting for real: the issue's folder and a git repository, real Poetry, real kernels."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import adopt_project
import pytest
from faultkit import run_in_kernel
from jupyter_client.manager import start_new_kernel

import colab_wizard
from colab_wizard import adoption, api, freshvm, notebook, ownership, paths, plan
from colab_wizard.events import Event, StageDone
from colab_wizard.runner import Runner
from colab_wizard.spec import SpecError
from colab_wizard.sync import run_sync

pytestmark = pytest.mark.slow

# What the wizard may add to the user's files, and nothing else.
ADDED_PYPROJECT = {"[tool.poetry.group.colab-wizard.dependencies]", 'ipykernel = "*"', ""}
ADDED_POETRY_TOML = {"in-project = true"}


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git daemon`` serving every repository under ``base`` on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
         "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def execute_in_a_notebook_kernel(code: str, wizard_env: dict[str, Path], where: Path) -> None:
    """Run ``code`` as a notebook cell, in a kernel of the Python running the tests."""
    kernel = wizard_env["jupyter"] / "kernels" / "notebook-host"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "notebook", "language": "python"}))
    km, client = start_new_kernel(kernel_name="notebook-host", env=dict(os.environ),
                                  cwd=str(where))
    out: list[str] = []
    try:
        reply = client.execute_interactive(
            code, timeout=900, output_hook=lambda msg: out.append(
                msg["content"].get("text", "") if msg["msg_type"] == "stream"
                else "\n".join(msg["content"].get("traceback", []))))
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", "".join(out)


def poetry(folder: Path, *args: str) -> str:
    env_vars = {"POETRY_VIRTUALENVS_IN_PROJECT": "true", "NO_COLOR": "1"}
    out = subprocess.run([str(paths.tools_dir() / "poetry" / "bin" / "poetry"), "--no-ansi",
                          *args], cwd=folder, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **env_vars}, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def assert_kept(original: str, now: str, allowed: set[str]) -> None:
    """Every line of the user's file is still there, in order; the rest are our additions."""
    lines = now.splitlines()
    position = 0
    for line in original.splitlines():
        assert line in lines[position:], f"lost or moved: {line!r}\n{now}"
        position = lines.index(line, position) + 1
    extra = list(lines)
    for line in original.splitlines():
        extra.remove(line)
    assert set(extra) <= allowed, f"unexpected lines {set(extra) - allowed}\n{now}"


def kernel_versions(name: str) -> dict[str, str]:
    return json.loads(run_in_kernel(name, (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version"
        " for d in m.distributions()}))")))


def shown_versions(folder: Path) -> dict[str, str]:
    """``poetry show``: what Poetry says the project has installed."""
    found = {}
    for line in poetry(folder, "show").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[1].startswith("("):
            found[parts[0].lower()] = parts[1]
    return found


def test_adopt_the_issue_folder(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    events: list[Event] = []
    made = colab_wizard.create("", project_dir=folder, adopt=True, listeners=[events.append])
    assert made.name == "myproj" and made.project_dir == folder

    assert_kept(adopt_project.PYPROJECT, (folder / "pyproject.toml").read_text(),
                ADDED_PYPROJECT)
    assert_kept(adopt_project.POETRY_TOML, (folder / "poetry.toml").read_text(),
                ADDED_POETRY_TOML)
    assert "All set!" in poetry(folder, "check", "--lock")
    out = run_in_kernel("myproj", "import requests, myproj, sys\n"
                        "print(myproj.VALUE, requests.__name__, sys.prefix)")
    assert out == f"mine requests {folder / '.venv'}"

    # Adopted once: a re-run changes nothing and skips every stage; create still refuses.
    before = adopt_project.snapshot(folder)
    events.clear()
    colab_wizard.adopt(folder, listeners=[events.append])
    assert all(e.skipped for e in events if isinstance(e, StageDone))
    with pytest.raises(SpecError) as raised:
        colab_wizard.create("3.12", ["six"], project_dir=folder)
    assert raised.value.field == "project_dir"
    assert {k: v for k, v in adopt_project.snapshot(folder).items()
            if not k.startswith((".venv", ".colab_wizard"))} == {
        k: v for k, v in before.items() if not k.startswith((".venv", ".colab_wizard"))}

    # The notebook switch: the copy's first cell adopts the folder again.
    original = tmp_path / "analysis.ipynb"
    original.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                    "nbformat_minor": 5}))
    copy, _ = notebook.switch("myproj", original)
    first = json.loads(copy.read_text())["cells"][0]["source"]
    assert f"colab_wizard.adopt({str(folder)!r}, python='{made.python}'" in first

    # Saved, then restored into another folder (a fresh VM's): the project's files, its
    # locked packages from the saved wheels and its own package, importable from there.
    saved = colab_wizard.save(tmp_path / "saved", "myproj")
    colab_wizard.remove_kernel("myproj")
    restored = tmp_path / "restored"
    freshvm.restore(saved.folder, project_dir=restored)
    out = run_in_kernel("myproj", "import myproj, requests\nprint(myproj.__file__)")
    assert out == str(restored / "myproj" / "__init__.py")
    assert ownership.owner(restored) == ownership.ADOPTED_OWNER
    assert (restored / "pyproject.toml").read_text() == (folder / "pyproject.toml").read_text()


def _ensure_poetry(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    spec = api.make_spec("3.12", [], name="poetry-only", project_dir=tmp_path / "unused")
    stages = [s for s in plan.plan(spec) if s.key == "poetry"]
    assert run_sync(Runner(stages, tmp_path / "poetry.log").run()) == "done"


# The repository's project also has a dependency group of its own: installed too.
REPO_PYPROJECT = adopt_project.PYPROJECT + """
[tool.poetry.group.docs.dependencies]
tabulate = "*"
"""


def _old_lock(folder: Path) -> None:
    """A poetry.lock made when requests 2.31.0 was current: locked with that pin, then the
    pin relaxed to ``>=2`` with Poetry's content hash updated, as a months-old lock looks."""
    pinned = REPO_PYPROJECT.replace('"requests>=2"', '"requests==2.31.0"')
    (folder / "pyproject.toml").write_text(pinned)
    poetry(folder, "lock")
    (folder / "pyproject.toml").write_text(REPO_PYPROJECT)
    python = paths.tools_dir() / "poetry" / "bin" / "python"
    subprocess.run([str(python), "-c", (
        "import sys, tomllib, re; from pathlib import Path\n"
        "from poetry.packages.locker import Locker\n"
        "data = tomllib.loads(Path('pyproject.toml').read_text())\n"
        "h = Locker(Path('poetry.lock'), data)._get_content_hash()\n"
        "lock = Path('poetry.lock')\n"
        "lock.write_text(re.sub(r'content-hash = \"[0-9a-f]+\"', f'content-hash = \"{h}\"',"
        " lock.read_text()))\n")], cwd=folder, check=True, timeout=60)
    assert "All set!" in poetry(folder, "check", "--lock")


def test_adopt_a_repository_by_url_runs_its_locked_versions(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    _ensure_poetry(wizard_env, tmp_path)
    source = adopt_project.write(tmp_path / "upstream", pyproject=REPO_PYPROJECT)
    _old_lock(source)
    commit = adopt_project.make_repo(source)
    url = f"file://{source}"

    made = colab_wizard.adopt(url, name="from-git", project_dir=tmp_path / "clone")
    clone = tmp_path / "clone"
    assert made.project_dir == clone
    assert adopt_project.git(clone, "rev-parse", "HEAD") == commit
    assert adopt_project.git(clone, "rev-list", "--count", "HEAD") == "1", "not shallow"
    state = json.loads((clone / ".colab_wizard" / "state.json").read_text())
    assert state["adopted"] == {"path": str(clone), "url": url, "commit": commit,
                                "relock": False}

    shown = shown_versions(clone)
    assert shown["requests"] == "2.31.0", "the lock's version, not the newest"
    assert "tabulate" in shown, "the project's own group is installed too"
    running = kernel_versions("from-git")
    assert {n: running.get(n) for n in shown} == shown

    # The user changes a dependency and forgets to lock: the run stops and says so.
    text = (clone / "pyproject.toml").read_text()
    (clone / "pyproject.toml").write_text(text.replace('"requests>=2"', '"requests>=2", "six"'))
    before = adopt_project.snapshot(clone)
    with pytest.raises(api.CreateFailed) as failed:
        colab_wizard.adopt(clone)
    assert failed.value.error is not None
    assert "poetry.lock does not match" in failed.value.error.message
    assert "--relock" in failed.value.error.hint
    assert {k: v for k, v in adopt_project.snapshot(clone).items() if k == "poetry.lock"} == {
        "poetry.lock": before["poetry.lock"]}
    colab_wizard.adopt(clone, relock=True)
    assert run_in_kernel("from-git", "import six, requests; print(requests.__version__)") \
        == "2.31.0", "a re-lock keeps the locked versions it can"

    # A fresh VM: the clone and the kernel are gone, and upstream has moved on. The notebook
    # copy's first cell, executed in a notebook's kernel, clones the same commit again and
    # adopts it: the kernel is back, on the project's locked versions.
    original = tmp_path / "analysis.ipynb"
    original.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                    "nbformat_minor": 5}))
    copy, _ = notebook.switch("from-git", original)
    cell = json.loads(copy.read_text())["cells"][0]["source"]
    colab_wizard.remove_kernel("from-git")
    shutil.rmtree(clone)
    (source / "NEWS").write_text("later\n")
    adopt_project.git(source, "add", "-A")
    adopt_project.git(source, "commit", "-q", "-m", "later")
    execute_in_a_notebook_kernel(cell, wizard_env, tmp_path)
    assert adopt_project.git(clone, "rev-parse", "HEAD") == commit
    assert not (clone / "NEWS").exists()
    assert run_in_kernel("from-git", "import requests, myproj; print(requests.__version__)") \
        == "2.31.0"


def test_clone_at_a_commit_over_git_daemon(wizard_env: dict[str, Path],
                                           tmp_path: Path) -> None:
    """What a restore cell does: the same commit again, though the branch moved on, from a
    repository served by a loopback ``git daemon`` (git's own network protocol)."""
    source = adopt_project.write(tmp_path / "repos" / "upstream")
    first = adopt_project.make_repo(source)
    (source / "NEWS").write_text("later\n")
    adopt_project.git(source, "add", "-A")
    adopt_project.git(source, "commit", "-q", "-m", "later")
    with git_daemon(tmp_path / "repos") as base:
        url = f"{base}/upstream"
        assert adoption.clone(url, tmp_path / "again", first) == first
        assert not (tmp_path / "again" / "NEWS").exists()
        latest = adoption.clone(url, tmp_path / "latest")
        assert (tmp_path / "latest" / "NEWS").exists() and latest != first
        assert adopt_project.git(tmp_path / "latest", "rev-list", "--count", "HEAD") == "1"
        # The same clone again is used as it is; another repository's is refused.
        assert adoption.clone(url, tmp_path / "latest") == latest
        with pytest.raises(SpecError) as raised:
            adoption.clone(f"{base}/other", tmp_path / "latest")
        assert raised.value.field == "project_dir" and "not of" in raised.value.message
    with pytest.raises(SpecError) as raised:
        adoption.clone(f"file://{tmp_path}/missing", tmp_path / "nothing")
    assert raised.value.field == "source" and "could not fetch" in raised.value.message
    assert not (tmp_path / "nothing").exists()
