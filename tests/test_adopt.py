"""Adopting the user's own Poetry project, and never damaging one by ``create``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import adopt_project
import pytest
from test_naming import working_kernel

from colab_wizard import adoption, api, cli, ownership, pythons
from colab_wizard.naming import WouldReplace
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


@pytest.mark.parametrize("constraint,version,allowed", [
    (">=3.9", "3.13.0", True), (">=3.10,<3.13", "3.13.0", False), ("^3.9", "3.12.1", True),
    ("^3.9", "4.0.0", False), ("~3.10", "3.11.2", False), ("~3.10", "3.10.13", True),
    ("3.11", "3.11.7", True), ("3.11", "3.12.1", False), (">=3.8 <3.11", "3.10.13", True),
    (">=3.8 <3.11", "3.11.7", False), ("^3.8 || ^3.12", "3.12.1", True), ("*", "3.9.18", True),
    ("", "3.13.0", True),
])
def test_requires_python_in_pep440_and_poetry_syntax(constraint: str, version: str,
                                                     allowed: bool) -> None:
    assert adoption.allows(constraint, version) is allowed


OFFERS = [pythons.Offer("3.10", installed="3.10.13"), pythons.Offer("3.12", installed="3.12.1"),
          pythons.Offer("3.13", installed="3.13.0"), pythons.Offer("3.14", download="3.14.1"),
          pythons.Offer("3.13t", download="3.13.5")]


def test_python_is_the_newest_that_fits_unless_picked() -> None:
    assert adoption.choose_python(">=3.10,<3.13", None, OFFERS) == "3.12"
    assert adoption.choose_python("", None, OFFERS) == "3.13", "installed before downloadable"
    assert adoption.choose_python(">=3.14", None, OFFERS) == "3.14"
    assert adoption.choose_python(">=3.10,<3.13", "3.10", OFFERS) == "3.10"
    with pytest.raises(SpecError) as raised:
        adoption.choose_python(">=3.10,<3.13", "3.13", OFFERS)
    message = raised.value.message
    assert raised.value.field == "python" and "3.13" in message and ">=3.10,<3.13" in message
    assert "3.12 is the newest here that fits" in message
    with pytest.raises(SpecError):
        adoption.choose_python(">=3.15", None, OFFERS)


def test_prepare_says_what_will_change_and_writes_nothing(wizard_env: dict[str, Path],
                                                          tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    before = adopt_project.snapshot(folder)
    adopted = adoption.prepare(adoption.Request(folder,
                                                index_url="https://mirror.example/simple/"))
    assert adopt_project.snapshot(folder) == before
    assert adopted.spec.name == "myproj" and adopted.package == "myproj"
    assert "myproj" in adopted.spec.dependencies and "requests>=2" in adopted.spec.dependencies
    text = adopted.summary()
    for words in ("dependency group 'colab-wizard' (ipykernel)", "mirror.example",
                  "poetry.toml: add [virtualenvs] in-project = true",
                  "none yet", "('myproj') is installed too"):
        assert words in text, text
    assert len(adopted.changes) <= 8, "a few lines"
    # The additions are idempotent and leave every user line where it was.
    wanted = adoption.wanted_pyproject(adopt_project.PYPROJECT, adopted.spec.index_url, None)
    assert adoption.wanted_pyproject(wanted, adopted.spec.index_url, None) == wanted
    assert adoption.wanted_poetry_toml(adopt_project.POETRY_TOML).startswith(
        adopt_project.POETRY_TOML.split("\n[installer]")[0])
    # A user's own in-project setting is theirs, even when it says false.
    mine = "[virtualenvs]\nin-project = false\n"
    assert adoption.wanted_poetry_toml(mine) == mine


def test_prepare_refuses_what_it_cannot_adopt(wizard_env: dict[str, Path],
                                              tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        adoption.prepare(adoption.Request(tmp_path))
    assert raised.value.field == "source" and "no pyproject.toml" in raised.value.message
    with pytest.raises(SpecError) as raised:
        adoption.prepare(adoption.Request(tmp_path / "nowhere"))
    assert raised.value.field == "source" and "does not exist" in raised.value.message
    folder = adopt_project.write(tmp_path / "mine", pyproject=adopt_project.PYPROJECT.replace(
        '">=3.9"', '">=3.10,<3.11"'))
    with pytest.raises(SpecError) as raised:
        adoption.prepare(adoption.Request(folder, python="3.12"))
    assert raised.value.field == "python" and ">=3.10,<3.11" in raised.value.message


def test_cli_dry_run_shows_the_changes(wizard_env: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    before = adopt_project.snapshot(folder)
    assert cli.main(["adopt", str(folder), "--dry-run", "--name", "mine-k"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "kernel 'mine-k'" in out and "colab-wizard" in out and "in-project" in out
    assert adopt_project.snapshot(folder) == before


def test_restore_cell_adopts_the_repository_again_at_its_commit(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    from colab_wizard import notebook
    from colab_wizard.spec import EnvSpec

    folder = adopt_project.write(tmp_path / "clone")
    spec = EnvSpec.make("3.12", ["requests>=2", "myproj"], "myproj", "myproj (Python 3.12)",
                        folder)
    assert adoption.rebuild_call(spec) is None, "not adopted: no adopt call"
    origin = adoption.Origin(folder, "https://git.example/me/myproj.git", "ab" * 20)
    adoption.mark(adoption.Adoption(spec, origin, "myproj", ">=3.9", "myproj"))
    cell = notebook.restore_source(spec)
    compile(cell, "cell", "exec")
    assert ("colab_wizard.adopt('https://git.example/me/myproj.git', python='3.12', "
            "name='myproj'") in cell
    assert f"project_dir={str(folder)!r}, commit='{'ab' * 20}'" in cell
    assert "colab_wizard.create(" not in cell.split("TerminalView\n")[-1]


POETRY_STYLE = """\
[tool.poetry]
name = "old-style"
version = "1.0.0"
description = ""
authors = ["Me <me@example.org>"]
package-mode = false

[tool.poetry.dependencies]
python = "^3.10"  # Poetry's own syntax
tabulate = "^0.9"

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""


def test_a_poetry_style_project(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(POETRY_STYLE)
    adopted = adoption.prepare(adoption.Request(folder))
    assert adopted.project_name == "old-style" and adopted.requires_python == "^3.10"
    assert adopted.package is None, "package-mode = false: nothing of its own to install"
    assert adopted.spec.python.minor >= 10
    assert "poetry.toml: create it" in adopted.summary()
    wanted = adoption.wanted_pyproject(POETRY_STYLE, "https://pypi.org/simple/", None)
    assert wanted.startswith(POETRY_STYLE), "the user's text first, untouched"
    assert "[tool.poetry.group.colab-wizard.dependencies]" in wanted
    assert "source" not in wanted, "PyPI needs no source"
    assert "in-project = false" not in adoption.wanted_poetry_toml("")


def test_adopt_never_takes_a_foreign_kernels_name(wizard_env: dict[str, Path],
                                                  tmp_path: Path) -> None:
    theirs = wizard_env["jupyter"] / "kernels" / "myproj"
    theirs.mkdir(parents=True)
    (theirs / "kernel.json").write_text(json.dumps(
        {"argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Not ours", "language": "python"}))
    folder = adopt_project.write(tmp_path / "mine")
    with pytest.raises(SpecError) as raised:
        api.prepare_adoption(adoption.Request(folder))
    assert raised.value.field == "name" and "not made by colab_wizard" in raised.value.message
    renamed = api.prepare_adoption(adoption.Request(folder, name="myproj-2"))
    assert renamed.spec.name == "myproj-2"


def test_adopt_replaces_another_kernel_of_ours_only_when_told(wizard_env: dict[str, Path],
                                                              tmp_path: Path) -> None:
    """``create(adopt=True, replace=True)`` passes ``replace`` on, as a plain create does."""
    working_kernel(api.make_spec("3.12", name="mine", project_dir=tmp_path / "a"))
    folder = adopt_project.write(tmp_path / "project")
    with pytest.raises(WouldReplace):
        api.create("3.12", name="mine", project_dir=folder, adopt=True)
    with pytest.raises(WouldReplace):
        api.prepare_adoption(adoption.Request(folder, name="mine"))
    adopted = api.prepare_adoption(adoption.Request(folder, name="mine"), replace=True)
    assert (adopted.spec.name, adopted.spec.project_dir) == ("mine", folder)
