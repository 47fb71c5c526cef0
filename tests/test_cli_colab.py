"""The CLI's save / restore / switch / doctor subcommands: inputs they refuse, in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from colab_wizard import cli


def test_save_without_any_kernel_says_so(wizard_env: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["save", str(tmp_path / "drive")]) == cli.EXIT_BAD_INPUT
    assert "Say which kernel to save" in capsys.readouterr().err


def test_restore_from_an_empty_folder_says_so(wizard_env: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["restore", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "Say which saved kernel to restore" in capsys.readouterr().err


def test_create_rejects_an_unknown_profile(wizard_env: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["create", "--python", "3.12", "--profile", "fancy"])
    assert exc.value.code == 2


def test_doctor_without_starting_kernels(wizard_env: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--no-start"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "kernels made by colab_wizard: 0" in out and "last log: none yet" in out
