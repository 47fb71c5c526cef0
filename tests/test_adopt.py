"""Adopting the user's own Poetry project, and never damaging one by ``create``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import adopt_project
import pytest

from colab_wizard import api, cli, ownership
from colab_wizard.spec import SpecError

REPO = Path(__file__).resolve().parent.parent


def test_create_into_a_foreign_project_is_refused_by_the_cli_process(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    before = adopt_project.snapshot(folder)
    out = subprocess.run(
        [sys.executable, "-m", "colab_wizard", "create", "--python", "3.12", "--dep", "six",
         "--project-dir", str(folder)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert out.returncode == cli.EXIT_BAD_INPUT, out
    assert out.stderr.startswith("Error in project_dir"), out.stderr
    assert str(folder) in out.stderr and "adopt" in out.stderr and "empty folder" in out.stderr
    assert adopt_project.snapshot(folder) == before, "the refused create changed the folder"


@pytest.mark.parametrize("present", ["pyproject.toml", "poetry.toml"])
def test_either_file_makes_a_folder_foreign(present: str, wizard_env: dict[str, Path],
                                            tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    (folder / ({"pyproject.toml", "poetry.toml"} - {present}).pop()).unlink()
    before = adopt_project.snapshot(folder)
    with pytest.raises(SpecError) as raised:
        api.create("3.12", ["six"], name="k", project_dir=folder)
    assert raised.value.field == "project_dir" and present in raised.value.message
    assert adopt_project.snapshot(folder) == before


def test_the_wizards_own_project_may_be_rebuilt(wizard_env: dict[str, Path],
                                                tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    assert ownership.owner(folder) == ownership.EMPTY
    ownership.claim(folder)
    (folder / "pyproject.toml").write_text("[project]\nname = 'k'\n", encoding="utf-8")
    assert ownership.owner(folder) == ownership.OURS
    assert api.make_spec("3.12", ["six"], name="k", project_dir=folder).project_dir == folder
    # The state folder never shows up in the user's git status.
    assert (folder / ".colab_wizard" / ".gitignore").read_text() == "*\n"


def test_an_adopted_project_is_not_recreated(wizard_env: dict[str, Path],
                                             tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    ownership.state_path(folder).parent.mkdir()
    ownership.state_path(folder).write_text(json.dumps({"adopted": {"path": str(folder)}}))
    with pytest.raises(SpecError) as raised:
        api.make_spec("3.12", ["six"], name="k", project_dir=folder)
    assert raised.value.field == "project_dir" and "adopt" in raised.value.message
