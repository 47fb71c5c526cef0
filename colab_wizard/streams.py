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
        pending = parts.pop()
        lines = parts
        if lines and max(map(len, lines)) > self._max_line:
            lines = [piece for part in parts for piece in self._cut(part)]
        while len(pending) > self._max_line:
            lines.append(pending[: self._max_line])
            pending = pending[self._max_line :]
        self._pending = pending + ("\r" if hold_cr else "")
        return lines

    def _cut(self, line: str) -> list[str]:
        if len(line) <= self._max_line:
            return [line]
        return [line[i : i + self._max_line] for i in range(0, len(line), self._max_line)]

    def close(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        lines = _BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        return [piece for line in lines for piece in self._cut(line)]
