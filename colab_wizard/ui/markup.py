"""The HTML the panel's views write into their ``HTML`` widgets (strings only, no ipywidgets).

Every error the panel, the adoption box or the status card shows is made by
:func:`error_html`, so it is escaped once and looks the same everywhere.
"""

from __future__ import annotations

import html

ERROR_COLOUR = "#d32f2f"


def escape(text: str) -> str:
    """Plain text as an element's content (never an attribute's): escaped, line breaks kept."""
    return html.escape(text, quote=False).replace("\n", "<br>")


def error_html(message: str, title: str = "", banner: bool = False, after: str = "") -> str:
    """An error for people: ``message`` (plain text) in red, or with ``banner`` set beside a
    red bar (for what stopped a run or a click); ``title`` (plain text) in bold above it;
    ``after`` is markup already safe to show (say, a cell to run instead)."""
    body = escape(message) + after
    if title:
        body = f"<b>{escape(title)}</b><br>{body}"
    if banner:
        return f"<div style='border-left:4px solid {ERROR_COLOUR};padding:4px 8px'>{body}</div>"
    return f"<span style='color:{ERROR_COLOUR}'>{body}</span>"
