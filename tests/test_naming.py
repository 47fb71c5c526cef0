"""No silent replacement (issue 13, case 4): names and folders that belong to another kernel.

Each case starts from a working kernel of ours (a kernelspec on the host's own Python, so
no build is needed) and ends by starting it with jupyter_client and importing its package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from faultkit import run_in_kernel

from colab_wizard import api, cli, kernels
from colab_wizard.naming import WouldReplace
from colab_wizard.spec import SpecError


def working_kernel(spec: api.EnvSpec) -> None:
    """Register ``spec`` as if the engine had built it, on the host's Python."""
    spec.project_dir.mkdir(parents=True, exist_ok=True)
    staged = spec.project_dir / ".staged" / spec.name
    kernels.write_spec(staged, kernels.kernel_json(
        spec.name, spec.display_name, Path(sys.executable), spec.project_dir,
        str(spec.python)))
    kernels.register(staged, spec.name)


def still_works(name: str) -> None:
    assert run_in_kernel(name, "import packaging; print(packaging.__name__)") == "packaging"


def test_non_latin_display_names_get_their_own_kernel(wizard_env: dict[str, Path]) -> None:
    first = api.make_spec("3.12", display_name="数据分析")
    working_kernel(first)
    second = api.make_spec("3.12", display_name="🐍")
    assert second.name != first.name and second.project_dir != first.project_dir
    assert first.name.startswith("kernel-") and second.name.startswith("kernel-")
    still_works(first.name)


def test_a_derived_name_moves_on_for_another_python_or_folder(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    first = api.make_spec("3.12", display_name="Tables")
    working_kernel(first)
    # The same spec again is an update of the same kernel.
    again = api.make_spec("3.12", display_name="Tables")
    assert (again.name, again.project_dir) == (first.name, first.project_dir)
    other_python = api.make_spec("3.11", display_name="Tables")
    assert other_python.name == "tables-2" and other_python.project_dir != first.project_dir
    other_folder = api.make_spec("3.12", display_name="Tables", project_dir=tmp_path / "mine")
    assert other_folder.name == "tables-2"
    still_works(first.name)


def test_an_explicit_name_of_another_kernel_needs_a_yes(
        wizard_env: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = api.make_spec("3.12", name="mine", project_dir=tmp_path / "a")
    working_kernel(first)
    with pytest.raises(WouldReplace) as caught:
        api.make_spec("3.12", name="mine", project_dir=tmp_path / "b")
    assert caught.value.field == "name" and str(tmp_path / "a") in caught.value.message
    assert "replace" in caught.value.message
    spec = api.make_spec("3.12", name="mine", project_dir=tmp_path / "b", replace=True)
    assert spec.project_dir == tmp_path / "b"
    # Same name, same folder, another Python: an update of that kernel, no question asked.
    assert api.make_spec("3.11", name="mine", project_dir=tmp_path / "a").name == "mine"
    code = cli.main(["create", "--python", "3.12", "--name", "mine",
                     "--project-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT and "--replace" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()
    still_works("mine")


def test_a_folder_holding_another_kernels_env_is_refused(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    first = api.make_spec("3.12", name="first", project_dir=tmp_path / "shared")
    working_kernel(first)
    with pytest.raises(SpecError) as caught:
        api.make_spec("3.12", name="second", project_dir=tmp_path / "shared")
    assert caught.value.field == "project_dir" and "'first'" in caught.value.message
    assert kernels.find_existing("second") is None
    still_works("first")


def test_no_name_for_a_kernels_own_folder_means_that_kernel(wizard_env: dict[str, Path],
                                                             tmp_path: Path) -> None:
    first = api.make_spec("3.12", name="first", project_dir=tmp_path / "own")
    working_kernel(first)
    again = api.make_spec("3.12", display_name="Something else", project_dir=tmp_path / "own")
    assert again.name == "first"
    still_works("first")
