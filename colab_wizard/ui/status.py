"""What ``show()`` opens on in a switched kernel (or after a switch that fell back).

A short status: which kernel this notebook runs, its project folder, a
"Back to Colab's Python" button, and the way on to the wizard itself. The
switch and its undoing are :mod:`colab_wizard.inplace`'s; this only shows them.
"""

from __future__ import annotations

from typing import Callable, Optional

import ipywidgets as w

from .. import inplace
from .guard import ClickGuard
from .markup import error_html, escape
from .widgets import classes

BOX = {"border": "1px solid rgba(128,128,128,0.4)", "padding": "8px", "max_width": "60em"}


class StatusView:
    """``StatusView(open_wizard).widget``; ``open_wizard()`` returns the wizard's widget."""

    def __init__(self, open_wizard: Callable[[], w.Widget],
                 switch: Optional[inplace.Switch] = None,
                 fell_back: Optional[inplace.FellBack] = None) -> None:
        self.open_wizard = open_wizard
        self.switch = switch
        self.fell_back = fell_back
        self.text = classes(w.HTML(self._text()), "cw-status-text")
        self.back = classes(w.Button(
            description="Back to Colab's Python", icon="undo", button_style="warning",
            layout={"width": "auto"},
            tooltip="Colab's own launcher back in place, then this kernel restarts on it"),
            "cw-use-back")
        self.wizard = classes(w.Button(description="New kernel\u2026", icon="plus",
                                        layout={"width": "auto"}), "cw-open-wizard")
        self.result = classes(w.HTML(""), "cw-use-result")
        self.back.layout.display = None if switch is not None else "none"
        self.clicks = ClickGuard(self._notify)
        self.clicks.on_click(self.back, self.go_back, self.result)
        self.clicks.on_click(self.wizard, self.show_wizard)
        self.card = classes(w.VBox([
            w.HTML("<b style='font-size:1.15em'>colab_wizard</b>"), self.text,
            w.HBox([self.back, self.wizard]), self.result], layout=BOX), "cw-status")
        self.widget = w.VBox([self.card])

    def _notify(self, text: str) -> None:
        self.result.value = error_html(text)

    def _text(self) -> str:
        if self.switch is not None:
            s = self.switch
            return (f"This notebook runs on <b>{escape(s.display_name)}</b> (kernel "
                    f"<code>{escape(s.name)}</code>, Python {escape(inplace.running_python())}) "
                    f"instead of Colab's own Python.<br>Project folder: "
                    f"<code>{escape(str(s.project_dir))}</code>")
        if self.fell_back is not None:
            return error_html(self.fell_back.sentence(), banner=True)
        return "This notebook runs on Colab's own Python."

    def go_back(self) -> None:
        inplace.reset()
        self.back.disabled = True
        self.result.value = ("Colab's own launcher is back. Restarting this kernel on Colab's "
                             "Python now\u2026 run your cells again when it is back.")
        if inplace.in_kernel():
            inplace.restart_kernel()

    def show_wizard(self) -> None:
        self.widget.children = (self.open_wizard(),)
