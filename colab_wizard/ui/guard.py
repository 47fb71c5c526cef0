"""The one guard every click handler of the wizard's widgets runs in.

An exception escaping a widget callback is invisible in a notebook (ipykernel
only logs it), so a click would seem to do nothing. Every handler is wired
through :meth:`ClickGuard.on_click`: whatever it raises becomes a sentence in
the widget's message area, and the traceback goes to a log file.
No widget is created here; ``notify`` shows the sentence.

A click whose action has a place for its result (``result``) shows there the errors
that are the user's to act on (:data:`EXPECTED`), as they are: this is the one place
the panel catches them.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional

from .. import paths
from ..errors import WizardError
from .markup import error_html

LOG_NAME = "panel-errors.log"
# What an action may raise for the user to act on: every error of ours, and the file
# system's own (a full or read-only Drive, a folder without permission). Those are not
# wrapped: an OSError's words already name the path and what the system refused.
EXPECTED = (WizardError, OSError)


class ClickGuard:
    def __init__(self, notify: Callable[[str], None]) -> None:
        self.notify = notify
        # Every handler made here: a test checks that no button has any other.
        self.handlers: list[Callable[[Any], None]] = []

    def on_click(self, button: Any, action: Callable[[], object],
                 result: Optional[Any] = None) -> None:
        """Wire ``button`` (an ipywidgets Button) to ``action`` through :meth:`wrap`; an
        expected error goes into ``result`` (an HTML widget) when given."""
        button.on_click(self.wrap(action, result))

    def wrap(self, action: Callable[[], object],
             result: Optional[Any] = None) -> Callable[[Any], None]:
        def handler(_: Any = None) -> None:
            try:
                action()
            except EXPECTED as exc:
                if result is None:
                    self.notify(sentence(exc, _log(exc)))
                else:
                    result.value = error_html(str(exc))
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
