"""The notebook switch: a valid copy on the new kernel whose first cell rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from colab_wizard import kernels, notebook, pyproject
from colab_wizard.spec import EnvSpec, SpecError


def original_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["colab"] = {"name": "analysis.ipynb", "provenance": []}
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis"),
                nbformat.v4.new_code_cell("import tabulate\nprint(tabulate.__version__)")]
    nbformat.write(nb, str(path))
    return path


def registered(wizard_env: dict[str, Path]) -> EnvSpec:
    """A kernel of ours as the engine leaves it: project files and a registered spec."""
    spec = EnvSpec.make("3.12", ["tabulate>=0.9"], name="nb-switch",
                        display_name="Python 3.12 (tables)",
                        project_dir=wizard_env["projects"] / "nb-switch")
    spec.project_dir.mkdir(parents=True)
    (spec.project_dir / "pyproject.toml").write_text(pyproject.render(spec))
    (spec.project_dir / "poetry.lock").write_text("")
    staged = wizard_env["projects"] / "staged" / spec.name
    kernels.write_spec(staged, kernels.kernel_json(
        spec.name, spec.display_name, spec.project_dir / ".venv" / "bin" / "python",
        spec.project_dir, str(spec.python)))
    kernels.register(staged, spec.name)
    return spec


def test_switched_copy_is_valid_names_the_kernel_and_leaves_the_original(
    wizard_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registered(wizard_env)
    source = original_notebook(tmp_path / "analysis.ipynb")
    before = source.read_bytes()
    written, message = notebook.switch("nb-switch", source)
    assert source.read_bytes() == before
    assert written == tmp_path / "analysis (nb-switch).ipynb"
    assert "Python 3.12 (tables)" in message

    nb = nbformat.read(str(written), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec == {"name": "nb-switch", "display_name": "Python 3.12 (tables)",
                                      "language": "python"}
    assert nb.metadata.language_info["name"] == "python"
    assert nb.metadata.language_info["version"] == "3.12"
    first = nb.cells[0]
    assert notebook.RESTORE_TAG in first.metadata["tags"]
    compile(first.source, "<restore cell>", "exec")
    assert "colab_wizard.create('3.12', ['tabulate>=0.9'], name='nb-switch'" in first.source
    assert [c.source for c in nb.cells[1:]] == [c.source for c in
                                                nbformat.read(str(source), as_version=4).cells]

    # Switching the copy again replaces the restore cell instead of stacking another; with a
    # save on Drive the cell mounts Drive and restores from it (if it is still there).
    from colab_wizard import colab, freshvm
    drive = tmp_path / "drive" / "MyDrive"
    monkeypatch.setattr(colab, "DRIVE_ROOT", drive)
    (drive / "colab_wizard" / spec.name).mkdir(parents=True)
    (drive / "colab_wizard" / spec.name / freshvm.MANIFEST).write_text("{}")
    again = notebook.write_switched(written, spec, tmp_path / "again.ipynb",
                                    save_dir=drive / "colab_wizard")
    nb2 = json.loads(again.read_text())
    tags = [c["metadata"].get("tags", []) for c in nb2["cells"]]
    assert sum(notebook.RESTORE_TAG in t for t in tags) == 1
    restore = "".join(nb2["cells"][0]["source"])
    assert f"drive.mount({str(drive.parent)!r})" in restore
    assert (f"colab_wizard.restore({str(drive / 'colab_wizard' / spec.name)!r}, "
            f"project_dir={str(spec.project_dir)!r})") in restore
    nbformat.validate(nbformat.reads(again.read_text(), as_version=4))
    # No save in the folder: no Drive, no restore, only create.
    (drive / "colab_wizard" / spec.name / freshvm.MANIFEST).unlink()
    plain = notebook.restore_source(spec, drive / "colab_wizard")
    assert "drive" not in plain and "restore(" not in plain and "pip install colab-wizard" in plain


def test_restore_cell_does_nothing_inside_the_new_kernel(wizard_env: dict[str, Path]) -> None:
    spec = EnvSpec.make("3.12", [], name="guard", project_dir=wizard_env["projects"] / "g")
    source = notebook.restore_source(spec)
    import sys
    namespace: dict[str, object] = {}
    real_prefix = sys.prefix
    try:
        sys.prefix = str(spec.project_dir / ".venv")
        exec(compile(source, "<restore>", "exec"), namespace)  # noqa: S102
    finally:
        sys.prefix = real_prefix
    assert "colab_wizard" not in namespace  # neither installed nor imported, nothing built


def test_switch_outside_colab_needs_a_path(wizard_env: dict[str, Path]) -> None:
    registered(wizard_env)
    with pytest.raises(ValueError):
        notebook.switch("nb-switch")


def test_on_colab_the_open_notebook_is_read_and_offered(
    wizard_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the stand-in frontend: get_ipynb answers, files.download receives the copy."""
    import colab_host

    from colab_wizard import colab, paths

    host = colab_host.build(tmp_path / "colab-host")
    monkeypatch.syspath_prepend(str(host["site"]))
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    open_nb = original_notebook(tmp_path / "open.ipynb")
    monkeypatch.setenv("COLAB_STANDIN_NOTEBOOK", str(open_nb))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setenv("COLAB_STANDIN_DOWNLOADS", str(downloads))
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.setattr(paths, "COLAB_CONTENT", content)
    monkeypatch.setattr(colab, "DRIVE_ROOT", tmp_path / "drive" / "MyDrive")
    registered(wizard_env)

    written, message = notebook.switch("nb-switch")  # Drive not mounted: a download
    assert written == content / "analysis (nb-switch).ipynb"  # named after metadata.colab.name
    assert (downloads / written.name).exists() and "Downloading" in message
    nbformat.validate(nbformat.read(str(downloads / written.name), as_version=4))

    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)  # Drive mounted: saved there
    written, message = notebook.switch("nb-switch")
    on_drive = tmp_path / "drive" / "MyDrive" / "colab_wizard" / written.name
    assert on_drive.exists() and "Saved to Drive" in message


def test_a_second_switch_never_overwrites_the_first_copy(wizard_env: dict[str, Path],
                                                         tmp_path: Path) -> None:
    registered(wizard_env)
    source = original_notebook(tmp_path / "analysis.ipynb")
    first, _ = notebook.switch("nb-switch", source)
    edited = nbformat.read(str(first), as_version=4)
    edited.cells.append(nbformat.v4.new_code_cell("print('my edits')"))
    nbformat.write(edited, str(first))
    mine = first.read_bytes()
    second, message = notebook.switch("nb-switch", source)
    assert first.read_bytes() == mine
    assert second == tmp_path / "analysis (nb-switch) 2.ipynb" and str(second) in message
    third, _ = notebook.switch("nb-switch", source)
    assert third.name == "analysis (nb-switch) 3.ipynb"


def test_an_nbformat_3_notebook_is_converted(wizard_env: dict[str, Path],
                                            tmp_path: Path) -> None:
    registered(wizard_env)
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_code_cell(input="print('old')")])])
    source = tmp_path / "old.ipynb"
    source.write_text(nbformat.v3.writes_json(v3))
    written, _ = notebook.switch("nb-switch", source)
    nb = json.loads(written.read_text())
    assert nb["nbformat"] == 4 and "worksheets" not in nb
    assert notebook.RESTORE_TAG in nb["cells"][0]["metadata"]["tags"]
    assert "".join(nb["cells"][1]["source"]) == "print('old')"
    nbformat.validate(nbformat.reads(written.read_text(), as_version=4))


@pytest.mark.parametrize("content,words", [
    ("[1, 2]", "holds a JSON list, not a notebook"),
    ("{not json", "is not JSON"),
    ('{"nbformat": 5, "cells": []}', "nbformat 5"),
])
def test_what_is_not_a_notebook_gets_a_sentence(wizard_env: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                content: str, words: str) -> None:
    from colab_wizard import cli

    registered(wizard_env)
    source = tmp_path / "odd.ipynb"
    source.write_text(content)
    with pytest.raises(SpecError, match=words) as caught:
        notebook.switch("nb-switch", source)
    assert caught.value.field == "notebook_path"
    assert cli.main(["switch", str(source), "--name", "nb-switch"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(source) in err and words in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".ipynb") == ["odd.ipynb"]
