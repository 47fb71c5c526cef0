"""Step 1, Python: the version, the display name, the kernel name, and saved kernels to restore."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

import ipywidgets as w

from .. import freshvm
from ..kernels import KernelInfo
from .markup import error_html
from .model import FormState, VersionOptions
from .widgets import FIELD, classes, show


class PythonStep:
    """The first step's widgets; ``page`` is the step."""

    def __init__(self, options: VersionOptions, save_dir: Path) -> None:
        self.version = classes(w.Dropdown(options=options, description="Python", **FIELD),
                               "cw-version")
        self.display_name = classes(w.Text(description="Display name", **FIELD),
                                    "cw-display-name")
        self.kernel_name = classes(w.Text(description="Kernel name", **FIELD), "cw-kernel-name")
        self.python_error = classes(w.HTML(""), "cw-python-error")
        # Shown only when the kernel name belongs to another kernel: says it replaces that.
        self.replace_button = classes(w.Button(description="Replace it", icon="exchange",
                                               button_style="warning"), "cw-replace")
        show(self.replace_button, False)
        saved = freshvm.list_saved(save_dir)
        self.restore_choice = classes(w.Dropdown(
            options=[(f"{m['display_name']} (Python {m['python']})", m["folder"]) for m in saved],
            description="Saved", **FIELD), "cw-restore-choice")
        self.restore_button = classes(w.Button(description="Restore", icon="upload"),
                                      "cw-restore")
        self.restore_box = classes(w.VBox([
            w.HTML(f"<b>Saved kernels found</b> in <code>{html.escape(str(save_dir))}"
                   "</code>: restore one without downloading its packages again."),
            w.HBox([self.restore_choice, self.restore_button]),
        ]), "cw-restore-box")
        show(self.restore_box, bool(saved))
        self.page = classes(w.VBox([
            w.HTML("Which Python should the new kernel run? The kernel name is made from the "
                   "display name; you may change it."),
            self.version, self.display_name, self.kernel_name, self.python_error,
            self.replace_button, self.restore_box,
        ]), "cw-step-python", "cw-page")

    def show_fields(self, state: FormState) -> None:
        """The form's values, as the state holds them (the caller keeps observers quiet)."""
        self.version.value = state.python
        self.display_name.value = state.display_name
        self.kernel_name.value = state.name

    def show_message(self, message: str) -> None:
        self.python_error.value = error_html(message) if message else ""

    def offer_replace(self, existing: Optional[KernelInfo]) -> None:
        """"Replace it" for the kernel of ours an Install would replace; hidden for None."""
        if existing is not None:
            self.replace_button.description = f"Replace '{existing.name}'"
            self.replace_button.tooltip = (
                f"Register this kernel as '{existing.name}' instead of the one for "
                f"{existing.project_dir} (that folder is kept)")
        show(self.replace_button, existing is not None)
