"""The Dependencies step's other choice: use a project folder or git repository as it is.

The box only shows what :func:`colab_wizard.adoption.prepare` says (the project
read, a repository cloned, what the run will change) and keeps what was typed
in the form state; the panel runs the prepared adoption like any install.
"""

from __future__ import annotations

import html
from typing import Any, Optional

import ipywidgets as w

from .. import adoption, api
from ..spec import SpecError
from .markup import error_html
from .model import FormState
from .widgets import classes

LIST, PROJECT = "list", "project"
CHOICES = [("Type the dependencies", LIST), ("Use a project folder or repository", PROJECT)]


class AdoptBox:
    """The folder-or-URL field, the re-lock choice, and the summary of what will change."""

    def __init__(self, state: FormState) -> None:
        self.state = state
        self.choice = classes(w.ToggleButtons(options=CHOICES, value=LIST,
                                               style={"button_width": "auto"}),
                               "cw-deps-choice")
        self.source = classes(w.Text(
            description="Project", placeholder="/content/my-project or "
            "https://github.com/me/my-project.git", layout={"width": "34em"},
            style={"description_width": "8em"}), "cw-adopt-source")
        self.check = classes(w.Button(description="Check project", icon="search"),
                              "cw-adopt-check")
        self.relock = classes(w.Checkbox(
            description="Re-lock if poetry.lock does not match pyproject.toml", indent=False,
            layout={"width": "auto"}), "cw-adopt-relock")
        self.error = classes(w.HTML(""), "cw-adopt-error")
        self.summary = classes(w.HTML(""), "cw-adopt-summary")
        self.box = classes(w.VBox([
            w.HTML("Your own Poetry project: a folder holding its <code>pyproject.toml</code>, "
                   "or a git repository (cloned into the projects folder). Its dependencies "
                   "and <code>poetry.lock</code> are used as they are; the kernel's own "
                   "packages go into a group of their own."),
            w.HBox([self.source, self.check]), self.relock, self.error, self.summary,
        ]), "cw-adopt-box")
        # What will change is on screen for exactly what the form now says.
        self.reviewed = False
        self.source.observe(self._on_source, "value")
        self.relock.observe(self._on_relock, "value")
        self.restore()

    @property
    def active(self) -> bool:
        return self.choice.value == PROJECT

    def restore(self) -> None:
        self.choice.value = PROJECT if self.state.adopt_mode else LIST
        self.source.value = self.state.adopt_source
        self.relock.value = self.state.adopt_relock

    def forget(self) -> None:
        """What was shown is about other text or choices: the next Install shows it again."""
        self.summary.value = ""
        self.reviewed = False

    def _on_source(self, change: dict[str, Any]) -> None:
        self.state.adopt_source = change["new"]
        self.forget()  # what it said was about the old text

    def _on_relock(self, change: dict[str, Any]) -> None:
        self.state.adopt_relock = bool(change["new"])
        self.forget()

    def prepare(self, python: str, name: Optional[str], display_name: Optional[str]
                ) -> Optional[adoption.Adoption]:
        """Read (clone) the project and show what will change; None, with the reason, if not."""
        self.forget()
        self.error.value = ""
        self.summary.value = ("Reading the project\u2026" if not adoption.is_git_url(
            self.source.value) else "Cloning the repository\u2026")
        try:
            adopted = api.prepare_adoption(adoption.Request(
                self.source.value.strip(), python, name, display_name,
                relock=self.relock.value))
        except SpecError as exc:
            self.summary.value = ""
            self.error.value = error_html(exc.message)
            return None
        spec = adopted.spec
        items = "".join(f"<li>{html.escape(line)}</li>" for line in adopted.changes)
        self.summary.value = (
            f"<b>Kernel {html.escape(spec.display_name)}</b> "
            f"(<code>{html.escape(spec.name)}</code>) from "
            f"<code>{html.escape(str(spec.project_dir))}</code>. What will change:"
            f"<ul style='margin:2px 0'>{items}</ul>Press Install to go ahead.")
        self.reviewed = True
        return adopted
