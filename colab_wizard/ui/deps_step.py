"""Step 2, Dependencies: one requirement per line (or the whole pyproject.toml), or a project."""

from __future__ import annotations

import html

import ipywidgets as w

from .adopt_box import AdoptBox
from .markup import error_html, escape
from .model import FormState, Nav
from .widgets import classes, show


class DepsStep:
    """The second step's widgets; ``page`` is the step, ``adopt`` its project choice."""

    def __init__(self, state: FormState) -> None:
        self.deps_help = w.HTML("")
        self.pyproject_toggle = classes(w.ToggleButton(
            value=False, description="Edit pyproject.toml",
            tooltip="Show and edit the whole pyproject.toml instead of one package per line"),
            "cw-pyproject-toggle")
        self.requirements = classes(w.Textarea(
            continuous_update=False, placeholder="numpy>=1.26\npandas\n# comments are fine",
            layout={"width": "100%", "height": "12em"}), "cw-requirements")
        self.deps_error = classes(w.HTML(""), "cw-deps-error")
        self.deps_warnings = classes(w.HTML(""), "cw-deps-warnings")
        self.index_warning = classes(w.HTML(""), "cw-index-warning")
        self.adopt = AdoptBox(state)
        self.deps_list = w.VBox([self.deps_help, self.pyproject_toggle, self.requirements,
                                 self.deps_error, self.deps_warnings, self.index_warning])
        self.page = classes(w.VBox([self.adopt.choice, self.deps_list, self.adopt.box]),
                            "cw-step-deps", "cw-page")

    def show_text(self, state: FormState, text: str) -> None:
        """The editor's view and text (the caller keeps observers quiet)."""
        self.pyproject_toggle.value = state.pyproject_mode
        self.requirements.value = text

    def show_messages(self, error: str, notes: list[str]) -> None:
        self.deps_error.value = error_html(error) if error else ""
        self.deps_warnings.value = escape("\n".join(notes)) if notes else ""

    def show_missing(self, missing: list[str]) -> None:
        """Names the package index does not know ([] clears the warning)."""
        self.index_warning.value = (
            "<span style='color:#b26a00'>Not found on the package index: "
            f"{html.escape(', '.join(missing))}. Check the spelling.</span>" if missing else "")

    def show_nav(self, nav: Nav) -> None:
        show(self.deps_list, nav.deps_list)
        show(self.adopt.box, nav.adopt_box)
        self.deps_help.value = nav.deps_help
        self.requirements.layout.height = nav.deps_height
