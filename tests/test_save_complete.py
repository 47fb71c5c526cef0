"""A save holds a wheel for every locked package or fails; a restore trusts nothing it
has not checked: the manifest against the lock before it starts, each wheel against the
hash recorded at save time, and what it installed against the manifest."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from test_freshvm import dead_loopback_url

from colab_wizard import freshvm, kernels
from colab_wizard.api import create
from colab_wizard.errors import SaveError


def _rewrite_member(archive: Path, member_name: str, data: bytes) -> None:
    """Replace one member of a tar (same name, other bytes), the rest unchanged."""
    copy = archive.with_name("copy.tar")
    with tarfile.open(archive) as src, tarfile.open(copy, "w") as dst:
        for member in src.getmembers():
            payload = src.extractfile(member) if member.isfile() else None
            if member.name == member_name:
                member.size = len(data)
                payload = io.BytesIO(data)
            dst.addfile(member, payload)
    copy.replace(archive)


@pytest.mark.slow
def test_save_is_complete_or_fails_and_restore_refuses_what_does_not_match(
    wizard_env: dict[str, Path], other_python: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = wizard_env["projects"] / "complete"
    create(other_python, ["six"], name="complete", project_dir=project)
    lock = (project / "poetry.lock").read_text()

    # No package cache to draw on and the project's index unreachable: the save fails,
    # naming what it lacks, and writes nothing (no more "success" with zero wheels).
    drive = tmp_path / "drive"
    pyproject = project / "pyproject.toml"
    good_pyproject = pyproject.read_text()
    spec, _, _ = freshvm.spec_of("complete")
    pyproject.write_text(good_pyproject.replace(spec.index_url, dead_loopback_url()))
    with monkeypatch.context() as m:
        m.setenv("POETRY_CACHE_DIR", str(tmp_path / "empty-poetry-cache"))
        with pytest.raises(SaveError, match=r"no wheel could be had for .*six"):
            freshvm.save(drive, "complete")
    assert not (drive / "complete" / freshvm.MANIFEST).exists()
    pyproject.write_text(good_pyproject)

    saved = freshvm.save(drive, "complete")
    manifest = freshvm.read_manifest(saved.folder)
    names = {w["name"] for w in manifest["wheels"]}
    assert {"six", "ipykernel", "jupyter-client"} <= names
    # Every package the venv holds, each with its wheel and hash; nothing else.
    with tarfile.open(saved.folder / freshvm.WHEELS_TAR) as tar:
        in_tar = {m.name for m in tar.getmembers() if m.name.startswith("wheels/")}
    assert in_tar == {"wheels/" + w["wheel"] for w in manifest["wheels"]}
    assert all(w["sha256"] in lock for w in manifest["wheels"] if w["origin"] == "lock")

    shutil.rmtree(project)
    kernels.remove("complete")
    pristine = tmp_path / "pristine"
    shutil.copytree(saved.folder, pristine)

    # A manifest that disagrees with its lock is refused before anything is touched.
    edited = json.loads((saved.folder / freshvm.MANIFEST).read_text())
    six = next(w for w in edited["wheels"] if w["name"] == "six")
    six["version"] = "0.0.1"
    (saved.folder / freshvm.MANIFEST).write_text(json.dumps(edited))
    with pytest.raises(SaveError, match=r"does not match its poetry.lock: six-"):
        freshvm.restore(drive, "complete", project_dir=project)
    assert not project.exists()

    # A wheel changed after the save is refused by name, and nothing is registered.
    shutil.rmtree(saved.folder)
    shutil.copytree(pristine, saved.folder)
    wheel = "wheels/" + six["wheel"]
    with tarfile.open(saved.folder / freshvm.WHEELS_TAR) as tar:
        member = tar.extractfile(wheel)
        assert member is not None
        good = member.read()
    _rewrite_member(saved.folder / freshvm.WHEELS_TAR, wheel, good + b"tampered")
    with pytest.raises(SaveError,
                       match=re.escape(six["wheel"]) + " does not match the sha256 recorded"):
        freshvm.restore(drive, "complete", project_dir=project)
    assert not project.exists()
    assert "complete" not in {k.name for k in kernels.list_ours()}
