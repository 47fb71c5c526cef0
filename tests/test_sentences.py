"""Every failure is a sentence naming the file or field and the fix (issue 13, case 6),
raised before any work where it can be known: from the API, and from the CLI without a
traceback. Read-only folders are real read-only mounts (root writes through chmod)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from colab_wizard import api, cli, freshvm, kernels, pyproject
from colab_wizard.errors import SaveError
from colab_wizard.plan import Workspace
from colab_wizard.spec import EnvSpec, SpecError


def ours(wizard_env: dict[str, Path], name: str = "sent") -> EnvSpec:
    """A registered kernel of ours with its project files (nothing built)."""
    spec = EnvSpec.make("3.12", [], name=name, project_dir=wizard_env["projects"] / name)
    ws = Workspace(spec)
    spec.project_dir.mkdir(parents=True)
    ws.pyproject.write_text(pyproject.render(spec))
    ws.lock_file.write_text("")
    # An empty venv, as the empty lock says.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(ws.venv_dir)],
                   check=True)
    kernels.write_spec(ws.staged_kernel, ws.kernel_spec())
    kernels.register(ws.staged_kernel, spec.name)
    return spec


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def saved(wizard_env: dict[str, Path], tmp_path: Path) -> Path:
    ours(wizard_env)
    return freshvm.save(tmp_path / "drive", "sent").folder


def test_manifest_without_python(wizard_env: dict[str, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = saved(wizard_env, tmp_path)
    manifest = json.loads((folder / freshvm.MANIFEST).read_text())
    del manifest["python"]
    (folder / freshvm.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SaveError, match='has no "python" field'):
        freshvm.restore_runner(folder)
    code, err = run_cli(["restore", str(folder)], capsys)
    assert code == cli.EXIT_BAD_INPUT and str(folder / freshvm.MANIFEST) in err


@pytest.mark.parametrize("archive,recorded", [
    (freshvm.PROJECT_TAR, True), (freshvm.WHEELS_TAR, True),
    (freshvm.WHEELS_TAR, False),  # a save from before sizes were recorded: read through
])
def test_truncated_archive_is_named_before_anything_changes(
        wizard_env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        archive: str, recorded: bool) -> None:
    folder = saved(wizard_env, tmp_path)
    if not recorded:
        big = tmp_path / "big-1.0-py3-none-any.whl"
        big.write_bytes(b"x" * 200_000)
        with tarfile.open(folder / freshvm.WHEELS_TAR, "w") as tar:
            tar.add(str(big), arcname="wheels/" + big.name)
        manifest = json.loads((folder / freshvm.MANIFEST).read_text())
        del manifest["archives"]
        (folder / freshvm.MANIFEST).write_text(json.dumps(manifest))
    data = (folder / archive).read_bytes()
    (folder / archive).write_bytes(data[: len(data) // 2])
    target = tmp_path / "restored"
    with pytest.raises(SaveError) as caught:
        freshvm.restore_runner(folder, project_dir=target)
    assert str(folder / archive) in str(caught.value) and "cut short" in str(caught.value)
    code, err = run_cli(["restore", str(folder), "--project-dir", str(target)], capsys)
    assert code == cli.EXIT_BAD_INPUT and str(folder / archive) in err
    assert not target.exists()


def test_save_to_a_file_or_a_read_only_folder(wizard_env: dict[str, Path], tmp_path: Path,
                                              read_only: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ours(wizard_env)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for folder, words in ((a_file, "is a file, not a folder"),
                          (a_file / "sub", "is a file, not a folder"),
                          (read_only, "Read-only file system"),
                          (read_only / "sub", "Read-only file system")):
        with pytest.raises(SpecError, match=words) as caught:
            freshvm.save(folder, "sent")
        assert caught.value.field == "folder"
        code, err = run_cli(["save", str(folder), "--name", "sent"], capsys)
        assert code == cli.EXIT_BAD_INPUT and words in err
    assert a_file.read_text() == "mine"


def test_read_only_kernels_folder_is_found_before_any_stage(
        wizard_env: dict[str, Path], read_only: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(read_only / "jupyter"))
    with pytest.raises(SpecError) as caught:
        api.make_spec("3.12", [], name="ro", project_dir=wizard_env["projects"] / "ro")
    assert caught.value.field == "kernels_dir" and "JUPYTER_DATA_DIR" in caught.value.message
    code, err = run_cli(["create", "--python", "3.12", "--name", "ro"], capsys)
    assert code == cli.EXIT_BAD_INPUT and "kernels folder" in err
    assert not (wizard_env["home"] / "logs").exists()  # no run started


def test_read_only_data_folder_is_not_blamed_on_the_name(
        wizard_env: dict[str, Path], read_only: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(read_only / "home"))
    with pytest.raises(SpecError) as caught:
        api.make_spec("3.12", [], name="ro", project_dir=wizard_env["projects"] / "ro")
    assert caught.value.field == "data_dir" and "COLAB_WIZARD_HOME" in caught.value.message
    code, err = run_cli(["create", "--python", "3.12", "--name", "ro",
                         "--project-dir", str(wizard_env["projects"] / "ro")], capsys)
    assert code == cli.EXIT_BAD_INPUT and "data folder" in err and "Error in name" not in err


def test_a_bug_reaches_the_terminal_as_a_sentence(wizard_env: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A real process: whatever escapes a command is printed as one sentence, exit 1."""
    script = ("import sys; from colab_wizard import cli, api\n"
              "def boom(): raise KeyError('python')\n"
              "api.list_kernels = boom\n"
              "sys.exit(cli.main(['list']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == cli.EXIT_FAILED
    assert "Traceback" not in done.stderr and "unexpected KeyError" in done.stderr


@pytest.mark.parametrize("raised,code,shown", [
    ("errors.WizardError('The page did not answer; run it again.')", 1,
     "The page did not answer; run it again.\n"),
    ("errors.SaveError('The saved folder is damaged; save it again.')", 2,
     "The saved folder is damaged; save it again.\n"),
    ("errors.SpecError('name', 'Choose another name.')", 2,
     "Error in name: Choose another name.\n"),
    ("api.CreateFailed('cancelled', pathlib.Path('run.log'))", 130, ""),
    ("api.CreateFailed('failed', pathlib.Path('run.log'))", 1, ""),
])
def test_cli_main_turns_every_wizard_error_into_its_sentence_and_code(
        wizard_env: dict[str, Path], raised: str, code: int, shown: str) -> None:
    """A real process: one catch in main; a failed run's stage was already shown by the view."""
    script = ("import pathlib, sys; from colab_wizard import api, cli, errors\n"
              f"def boom(): raise {raised}\n"
              "api.list_kernels = boom\n"
              "sys.exit(cli.main(['list']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (code, shown)
