"""The terminal interface, run as a user would: in a fresh venv made by ``pip install .``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "colab_wizard", *args], capture_output=True, text=True,
                          timeout=600, env=os.environ.copy(), check=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "--python", "3.99"], "Error in python: Python 3.99 is not supported"),
        (["create", "--python", "3.12", "--name", "a b"], "Error in name"),
        (["create", "--python", "3.12", "--dep", "numpy>>=1"], "Error in dependencies (line 1)"),
        (["create", "--python", "3.12", "--dep", "x; rm -rf /"], "Error in dependencies"),
        (["create"], "Error in python: Give --python"),
        (["remove", "not-there"], "No kernel named 'not-there'"),
    ],
)
def test_bad_input_exits_2_with_a_sentence(args: list[str], words: str,
                                           wizard_env: dict[str, Path]) -> None:
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr


def test_remove_refuses_foreign_kernels(wizard_env: dict[str, Path]) -> None:
    foreign = wizard_env["jupyter"] / "kernels" / "theirs"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text('{"argv": ["x"], "display_name": "x", "language": "p"}')
    result = cli("remove", "theirs")
    assert result.returncode == 2 and "not made by colab_wizard" in result.stderr
    assert foreign.exists()
    result = cli("create", "--python", "3.12", "--name", "theirs")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert "No kernels made by colab_wizard" in cli("list").stdout


@pytest.mark.slow
def test_fresh_venv_help_create_list_remove(wizard_env: dict[str, Path], other_python: str,
                                            tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "virtualenv", "-q", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", str(REPO)], check=True, timeout=600)

    help_text = cli("--help", python=python)
    assert help_text.returncode == 0
    for command in ("create", "demo", "list", "remove"):
        assert command in help_text.stdout

    made = cli("create", "--python", other_python, "--name", "cli-test", "--dep", "six",
               "--project-dir", str(tmp_path / "proj"), python=python)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "[8/8] Register the kernel: done" in made.stdout
    assert "Kernel 'cli-test'" in made.stdout

    listed = cli("list", python=python)
    assert listed.stdout.startswith("cli-test\t") and f"Python {other_python}" in listed.stdout

    removed = cli("remove", "cli-test", python=python)
    assert removed.returncode == 0 and "project folder was kept" in removed.stdout
    assert not (wizard_env["jupyter"] / "kernels" / "cli-test").exists()


@pytest.mark.slow
def test_ctrl_c_cancels_with_exit_130(wizard_env: dict[str, Path], other_python: str,
                                      tmp_path: Path) -> None:
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "colab_wizard", "create", "--python", other_python, "--name",
         "sigint-test", "--dep", "six", "--project-dir", str(tmp_path / "p"), "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "[4/8] Resolve dependencies ..." in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "cancelled" in rest
    assert not (wizard_env["jupyter"] / "kernels" / "sigint-test").exists()
