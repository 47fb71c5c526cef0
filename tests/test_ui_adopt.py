"""The Dependencies step's "Use a project folder or repository" choice, headless."""

from __future__ import annotations

from pathlib import Path

import adopt_project

from colab_wizard.ui import Panel, model

VERSIONS = [("3.12 \u2014 installed here (3.12.1)", "3.12"), ("3.10 \u2014 installed here", "3.10")]


def make_panel(state: model.FormState) -> Panel:
    return Panel(state=state, mode="background", versions=lambda: list(VERSIONS),
                 host="jupyter", check_index=False)


def test_project_choice_shows_what_will_change_and_keeps_what_was_typed(
        wizard_env: dict[str, Path], tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    before = adopt_project.snapshot(folder)
    state = model.FormState()
    panel = make_panel(state)
    panel.go(1)
    assert panel.adopt.box.layout.display == "none" and not panel.install_button.disabled
    panel.adopt.choice.value = "project"
    assert panel.deps_step.deps_list.layout.display == "none"
    assert panel.adopt.box.layout.display is None
    assert panel.install_button.disabled, "nothing typed yet"
    panel.adopt.source.value = str(folder)
    assert not panel.install_button.disabled
    panel.adopt.check.click()
    summary = panel.adopt.summary.value
    assert "colab-wizard" in summary and "in-project" in summary and "myproj" in summary
    assert "Python 3.12" in summary, "the step-1 pick, which the project allows"
    assert adopt_project.snapshot(folder) == before, "checking writes nothing"

    # A pick the project does not allow: the sentence names both, next to the field.
    (folder / "pyproject.toml").write_text(adopt_project.PYPROJECT.replace(
        '">=3.9"', '">=3.10,<3.11"'))
    panel.adopt.check.click()
    error = panel.adopt.error.value
    assert "3.12" in error and "&gt;=3.10,&lt;3.11" in error and panel.adopt.summary.value == ""

    # Install shows what will change first; only a second click (nothing changed since)
    # would write.
    (folder / "pyproject.toml").write_text(adopt_project.PYPROJECT)
    panel.adopt.source.value = str(folder) + "/"
    panel.install_button.click()
    assert "What will change" in panel.adopt.summary.value and panel.job is None
    assert panel.state.step == 1 and adopt_project.snapshot(folder) == before
    panel.adopt.relock.value = True
    assert panel.adopt.summary.value == "", "a changed choice needs a new look"

    # A new panel (a re-run of show()) comes back with the choice and the text.
    again = make_panel(state)
    assert again.adopt.active and again.adopt.source.value == str(folder) + "/"
    assert again.adopt.relock.value
