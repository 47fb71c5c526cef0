"""Drive cache round trip, for real: create, save, wipe, restore with the index unreachable."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest
from faultkit import snapshot_project

from colab_wizard import freshvm, kernels, selfwheel, wheelhouse
from colab_wizard.api import CreateFailed, create
from colab_wizard.errors import SaveError
from colab_wizard.preflight import run_kernel

T = TypeVar("T")


def dead_loopback_url() -> str:
    """A loopback URL nobody listens on (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple/"


def in_a_cell(call: Callable[[], T]) -> T:
    """``call()`` from a coroutine on a running event loop, which it must give back."""

    async def cell() -> T:
        outer = asyncio.get_running_loop()
        result = call()
        assert asyncio.get_running_loop() is outer
        await asyncio.sleep(0)
        return result

    return asyncio.run(cell())


@pytest.mark.slow
def test_save_then_restore_without_the_index(
    wizard_env: dict[str, Path], other_python: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = wizard_env["projects"] / "cached"
    started = time.monotonic()
    made = create(other_python, ["tabulate>=0.9"], name="cache-rt", project_dir=project)
    cold = time.monotonic() - started

    drive = tmp_path / "drive"
    # Save and restore are called as a notebook cell calls them: inside a running event loop.
    saved = in_a_cell(lambda: freshvm.save(drive, "cache-rt"))
    names = sorted(p.name for p in saved.folder.iterdir())
    # Few files, no venv (colab_wizard's own wheels aside: selfwheel.py).
    assert [n for n in names if n != selfwheel.WHEELS_DIR] == [
        "manifest.json", "project.tar", "wheels.tar"]
    with tarfile.open(saved.folder / "wheels.tar") as tar:
        wheels = [m.name for m in tar.getmembers()]
    assert any(w.startswith("wheels/tabulate-") for w in wheels)
    assert any(w.startswith("wheels/ipykernel-") for w in wheels)
    assert [m["name"] for m in freshvm.list_saved(drive)] == ["cache-rt"]

    lock_before = (project / "poetry.lock").read_bytes()
    # A fresh VM: no project, no venv, no kernel, no Poetry, an empty Poetry cache,
    # and every index setting pointing at a dead loopback URL.
    shutil.rmtree(project)
    kernels.remove("cache-rt")
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(fresh / "home"))
    monkeypatch.setenv("POETRY_CACHE_DIR", str(fresh / "poetry-cache"))
    dead = dead_loopback_url()
    monkeypatch.setenv("COLAB_WIZARD_INDEX_URL", dead)
    monkeypatch.setenv("PIP_INDEX_URL", dead)

    started = time.monotonic()
    restored = in_a_cell(lambda: freshvm.restore(drive, "cache-rt", project_dir=project))
    warm = time.monotonic() - started
    print(f"\ncold create {cold:.1f}s, restore from cache {warm:.1f}s "
          f"({saved.wheels} wheels, {saved.size / 1e6:.1f} MB)")
    assert restored.name == made.name
    assert (project / "poetry.lock").read_bytes() == lock_before
    assert not (fresh / "home" / "tools" / "poetry").exists()  # Poetry was never needed

    result = run_kernel(kernels.user_kernels_dir() / "cache-rt",
                        "import json, sys, tabulate\n"
                        "print(json.dumps({'v': tabulate.__version__, 'prefix': sys.prefix}))",
                        timeout=60)
    assert result["prefix"] == str(project / ".venv")
    assert result["v"]
    refused_before_touching_and_incomplete_refused(saved.folder, project, tmp_path)

    # Back on the index: the restored project is what create would have built, so an
    # unchanged create only (re)installs Poetry and redoes nothing of the environment.
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(wizard_env["home"]))
    monkeypatch.delenv("COLAB_WIZARD_INDEX_URL")
    monkeypatch.delenv("PIP_INDEX_URL")
    again = create(other_python, ["tabulate>=0.9"], name="cache-rt", project_dir=project)
    log = again.log_path.read_text()
    for stage in ("project", "lock", "install", "kernel", "verify", "register"):
        assert f"[{stage}] already done, skipped" in log


def test_restore_refuses_an_unsafe_archive(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    with tarfile.open(bad, "w") as tar:
        tar.add(str(outside), arcname="../escaped.txt")
    with pytest.raises(SaveError):
        freshvm._extract(bad, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


def test_save_packs_a_python_the_wizard_installed(wizard_env: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """A Python under the wizard's pythons dir goes into the saved folder as one archive."""
    from colab_wizard import paths, pyproject
    from colab_wizard.plan import Workspace
    from colab_wizard.spec import EnvSpec

    install = paths.pythons_dir() / "cpython-3.12.9-linux"
    (install / "bin").mkdir(parents=True)
    (install / "bin" / "python3.12").write_text("#!/bin/sh\n")
    (install / "lib" / "python3.12").mkdir(parents=True)
    spec = EnvSpec.make("3.12", [], name="packed", project_dir=wizard_env["projects"] / "p")
    ws = Workspace(spec)
    spec.project_dir.mkdir(parents=True)
    ws.pyproject.write_text(pyproject.render(spec))
    ws.lock_file.write_text("")
    # An empty lock, and a venv that holds nothing but what venv seeds.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(ws.venv_python.parent.parent)], check=True)
    ws.record_python(install / "bin" / "python3.12")
    kernels.write_spec(ws.staged_kernel, ws.kernel_spec())
    kernels.register(ws.staged_kernel, spec.name)

    saved = freshvm.save(tmp_path / "drive", "packed")
    manifest = freshvm.read_manifest(saved.folder)
    assert manifest["python_relpath"] == "cpython-3.12.9-linux/bin/python3.12"
    with tarfile.open(saved.folder / freshvm.PYTHON_TAR) as tar:
        assert "cpython-3.12.9-linux/bin/python3.12" in tar.getnames()


def _without_wheel(source: Path, dest: Path, prefix: str) -> str:
    """A copy of the saved folder ``source`` lacking the wheel whose name starts with
    ``prefix`` in its archive and its manifest, as a save that could not find it made one."""
    shutil.copytree(source, dest)
    with tarfile.open(source / freshvm.WHEELS_TAR) as old, \
            tarfile.open(dest / freshvm.WHEELS_TAR, "w") as new:
        dropped = ""
        for member in old.getmembers():
            if member.name.startswith("wheels/" + prefix):
                dropped = member.name.split("/")[-1]
                continue
            new.addfile(member, old.extractfile(member))
    assert dropped, f"no {prefix} wheel was saved"
    manifest = json.loads((dest / freshvm.MANIFEST).read_text())
    manifest["wheels"] = [w for w in manifest["wheels"] if w["wheel"] != dropped]
    manifest["archives"][freshvm.WHEELS_TAR] = {
        "size": (dest / freshvm.WHEELS_TAR).stat().st_size,
        "sha256": wheelhouse.file_hash(dest / freshvm.WHEELS_TAR)}
    (dest / freshvm.MANIFEST).write_text(json.dumps(manifest))
    return dropped


def refused_before_touching_and_incomplete_refused(folder: Path, project: Path,
                                                   tmp_path: Path) -> None:
    """Issue 13, cases 2 and 3, against the working kernel just restored into ``project``:
    a saved folder cut short is refused before anything is touched; one lacking an indirect
    dependency's wheel (ipykernel needs traitlets) fails the install's pip check, in the
    build beside the live project, before anything is registered."""
    live = snapshot_project(project)
    cut = tmp_path / "cut" / folder.name
    shutil.copytree(folder, cut)
    data = (cut / freshvm.WHEELS_TAR).read_bytes()
    (cut / freshvm.WHEELS_TAR).write_bytes(data[: len(data) // 2])
    with pytest.raises(SaveError, match="cut short") as caught:
        freshvm.restore(cut.parent, folder.name, project_dir=project)
    assert str(cut / freshvm.WHEELS_TAR) in str(caught.value)
    assert snapshot_project(project) == live

    lacking = tmp_path / "lacking" / folder.name
    _without_wheel(folder, lacking, "traitlets-")
    with pytest.raises(CreateFailed) as failed:
        freshvm.restore(lacking.parent, folder.name, project_dir=project)
    error = failed.value.error
    assert error is not None and error.stage == "install", failed.value
    assert "traitlets" in error.message and "incomplete" in error.message
    assert snapshot_project(project) == live
    assert run_kernel(kernels.user_kernels_dir() / folder.name,
                      "import json, tabulate; print(json.dumps({'ok': tabulate.__name__}))",
                      timeout=60) == {"ok": "tabulate"}
