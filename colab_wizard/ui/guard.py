"""The one guard every click handler of the wizard's widgets runs in.

An exception escaping a widget callback is invisible in a notebook (ipykernel
only logs it), so a click would seem to do nothing. Every handler is wired
through :meth:`ClickGuard.on_click`: whatever it raises becomes a sentence in
the widget's message area, and the traceback goes to a log file.
No widget is created here; ``notify`` shows the sentence.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from .. import paths

LOG_NAME = "panel-errors.log"


class ClickGuard:
    def __init__(self, notify: Callable[[str], None]) -> None:
        self.notify = notify
        # Every handler made here: a test checks that no button has any other.
        self.handlers: list[Callable[[Any], None]] = []

    def on_click(self, button: Any, action: Callable[[], object]) -> None:
        """Wire ``button`` (an ipywidgets Button) to ``action`` through :meth:`wrap`."""
        button.on_click(self.wrap(action))

    def wrap(self, action: Callable[[], object]) -> Callable[[Any], None]:
        def handler(_: Any = None) -> None:
            try:
                action()
            except KeyboardInterrupt:
                self.notify("Stopped by the interrupt button.")
            except Exception as exc:
                self.notify(sentence(exc, _log(exc)))

        self.handlers.append(handler)
        return handler


def _log(exc: BaseException) -> str:
    """Append the traceback to the wizard's error log; its path ("" if it cannot be written)."""
    log = paths.logs_dir() / LOG_NAME
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except OSError:
        return ""
    return str(log)


def sentence(exc: BaseException, log: str) -> str:
    what = str(exc) or type(exc).__name__
    where = f" The details are in {log}." if log else ""
    return (f"That did not work: {what}.{where} Try again; if it keeps failing, run "
            "colab_wizard.doctor() in a cell and include its report when you ask for help.")
