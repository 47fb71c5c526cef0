"""The bad-input table of test_bad_inputs.py, typed into the panel's fields.

Every row that a person can type (display name, kernel name, the requirements textarea,
the text of the "Edit pyproject.toml" view; a version cannot be typed: it is a dropdown)
goes into a headless Panel. Each must give a message naming the field or the line,
keep Next / Install disabled, start no process (the audit hook of test_bad_inputs.py),
and leave the typed text in the widget.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
import traitlets
from test_bad_inputs import PYPROJECT_ROWS, ROWS, no_process_started

from colab_wizard.ui import Panel

VERSIONS = [("3.13", "3.13"), ("3.12", "3.12")]
LABELS = {"name": "Kernel name", "display_name": "Display name"}


def make_panel() -> Panel:
    return Panel(mode="background", versions=lambda: list(VERSIONS), host="jupyter",
                 check_index=False)


def text_of(widget: Any) -> str:
    """What the person reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", widget.value.replace("<br>", "\n")))


FIELD_ROWS = [r for r in ROWS if r[1] in LABELS and isinstance(r[2][r[1]], str)]
# One requirement per line in the textarea; rows that only the Python API can express
# (not text, not a list) or that a textarea allows (an empty line) are left out.
DEP_ROWS = [r for r in ROWS if r[1] == "dependencies" and isinstance(r[2]["dependencies"], list)
            and all(isinstance(d, str) and d for d in r[2]["dependencies"])]
# A pasted newline splits the line in two: the second line is the bad requirement.
DEP_WORDS = {"dep-newline": "Line 2: 'rm -rf ~' is not a valid requirement"}
# A [project] with no name is fine in the panel: the wizard writes the kernel's name there.
TOML_ROWS = [r for r in PYPROJECT_ROWS if r[0] != "toml-project-no-name"]


@pytest.mark.parametrize("case,field,row,words", FIELD_ROWS, ids=[r[0] for r in FIELD_ROWS])
def test_bad_first_step_field(case: str, field: str, row: dict[str, Any], words: str,
                              wizard_env: dict[str, Path]) -> None:
    foreign = wizard_env["jupyter"] / "kernels" / "someone-elses"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps(
        {"argv": ["python3"], "display_name": "Not ours", "language": "python"}))
    panel = make_panel()
    widget = panel.python_step.kernel_name if field == "name" else panel.python_step.display_name
    typed = row[field]
    with no_process_started():
        widget.value = typed
        if case == "name-foreign":
            # Only the Install button looks at installed kernels: judged there, shown here.
            panel.next.click()
            panel.deps_step.requirements.value = "tabulate"
            panel.install_button.click()
            words = "not made by colab_wizard"
        else:
            panel.next.click()
        message = text_of(panel.python_step.python_error)
    assert message.startswith(LABELS[field] + ": "), message
    assert words.lower() in message.lower(), message
    assert panel.next.disabled and panel.state.step == 0 and panel.job is None
    assert widget.value == typed


@pytest.mark.parametrize("case,field,row,words", DEP_ROWS, ids=[r[0] for r in DEP_ROWS])
def test_bad_requirement_line(case: str, field: str, row: dict[str, Any], words: str,
                              wizard_env: dict[str, Path]) -> None:
    panel = make_panel()
    panel.next.click()
    typed = "\n".join(row["dependencies"])
    with no_process_started():
        panel.deps_step.requirements.value = typed
        panel.install_button.click()
        message = text_of(panel.deps_step.deps_error)
    words = DEP_WORDS.get(case, words)
    assert re.search(r"Line \d+: ", message), message
    assert words.lower() in message.lower(), message
    assert panel.install_button.disabled and panel.state.step == 1 and panel.job is None
    assert panel.deps_step.requirements.value == typed


@pytest.mark.parametrize("case,text,words", TOML_ROWS, ids=[r[0] for r in TOML_ROWS])
def test_bad_pyproject_in_the_edit_view(case: str, text: str, words: str,
                                        wizard_env: dict[str, Path]) -> None:
    panel = make_panel()
    panel.next.click()
    panel.deps_step.pyproject_toggle.value = True
    assert panel.state.pyproject_mode and "[project]" in panel.deps_step.requirements.value
    with no_process_started():
        panel.deps_step.requirements.value = text
        panel.install_button.click()
        message = text_of(panel.deps_step.deps_error)
        assert words.lower() in message.lower(), message
        assert "pyproject.toml" in message or "[project]" in message, message
        if case.startswith("toml-unclosed"):
            assert re.match(r"Line \d+: ", message), message
        assert panel.install_button.disabled and panel.job is None
        panel.deps_step.pyproject_toggle.value = False  # refused: switching would lose the text
    assert panel.deps_step.pyproject_toggle.value is True
    assert "Fix this first" in panel.deps_step.deps_error.value
    assert panel.deps_step.requirements.value == text and panel.state.pyproject == text


def test_a_version_cannot_be_typed(wizard_env: dict[str, Path]) -> None:
    panel = make_panel()
    before = panel.python_step.version.value
    for bad in ("3.15", "3.12; rm -rf ~", "2.7"):
        with pytest.raises(traitlets.TraitError):
            panel.python_step.version.value = bad
    assert panel.python_step.version.value == before and panel.python_step.python_error.value == ""


def test_the_table_covers_the_panel_fields() -> None:
    assert len(FIELD_ROWS) >= 15 and len(DEP_ROWS) >= 15 and len(TOML_ROWS) >= 6
