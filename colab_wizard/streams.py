"""Turning a child's raw output into lines.

Output arrives in arbitrary chunks: a UTF-8 character can be split between two
reads, progress bars redraw with ``\\r``, and a line can be longer than
asyncio's ``readline()`` accepts. This splitter handles all three.
"""

from __future__ import annotations

import codecs
import re

# A line longer than this is cut into pieces so one runaway line cannot hold memory.
MAX_LINE = 64 * 1024
_BREAK = re.compile(r"\r\n|\r|\n")


class LineSplitter:
    """Feed bytes, get complete lines (without their ending); ``close()`` flushes the rest."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._max_line = max_line

    def feed(self, data: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(data)
        # A chunk ending in "\r" may be the first half of "\r\n": keep it for the next chunk.
        hold_cr = text.endswith("\r")
        if hold_cr:
            text = text[:-1]
        # Most output has no '\r' at all: str.split is several times faster than the regex.
        parts = _BREAK.split(text) if "\r" in text else text.split("\n")
        self._pending = parts.pop() + ("\r" if hold_cr else "")
        lines = parts
        while len(self._pending) > self._max_line:
            lines.append(self._pending[: self._max_line])
            self._pending = self._pending[self._max_line :]
        return lines

    def close(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        lines = _BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        return lines
