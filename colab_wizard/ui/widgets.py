"""Small helpers the panel's views share for their ipywidgets (7.7.1 and 8.x)."""

from __future__ import annotations

from typing import Any, TypeVar

import ipywidgets as w

W = TypeVar("W", bound=w.Widget)

# A labelled field of the form: the same width and label width on every step.
FIELD: dict[str, Any] = {"layout": {"width": "34em"}, "style": {"description_width": "8em"}}


def classes(widget: W, *names: str) -> W:
    """``widget`` with these CSS classes: the browser tests and the styles find it by them."""
    for name in names:
        widget.add_class(name)
    return widget


def show(widget: w.Widget, visible: bool) -> None:
    """Shown or hidden in place (7.7.1 has no Stack; the widget keeps its slot)."""
    widget.layout.display = None if visible else "none"
