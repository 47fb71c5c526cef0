"""Reading progress out of tools' output, and the overall bar views share.

The parsers turn lines into (done, total); :class:`OverallProgress` folds stage
events into one fraction that never moves backwards, whatever the view.
"""

from __future__ import annotations

import re
from typing import Optional

from . import events
from .runner import ProgressParser

_OPERATIONS = re.compile(
    r"Package operations:\s*(\d+)\s+installs?,\s*(\d+)\s+updates?,\s*(\d+)\s+removals?"
)
_OPERATION = re.compile(r"^\s*-\s+(Installing|Updating|Downgrading|Removing)\s+(\S+)")
_UV_COUNT = re.compile(r"^(Resolved|Installed|Audited|Uninstalled) (\d+) packages?\b")
# A download's second line (" Downloading numpy", indented) says it finished.
_UV_STEP = re.compile(r"^ (Downloading|Downloaded|Building|Built) \S")
_PIP_STEP = re.compile(r"^(Collecting|Downloading|Installing collected packages)\b")


class PoetryInstallProgress(ProgressParser):
    """``Package operations: N installs, ...`` then one line per package: N of M."""

    unit = "packages"

    def __init__(self) -> None:
        self.total: Optional[int] = None
        self.seen: set[str] = set()

    def feed(self, line: str) -> Optional[tuple[float, Optional[float]]]:
        match = _OPERATIONS.search(line)
        if match:
            self.total = sum(int(g) for g in match.groups())
            return 0, self.total
        match = _OPERATION.match(line)
        if match and self.total is not None:
            # With a terminal Poetry redraws each package line; count each package once.
            self.seen.add(match.group(2))
            return min(len(self.seen), self.total), self.total
        return None


class UvProgress(ProgressParser):
    """uv says how many packages it resolved, then names each download as it ends and each
    install once done: N of M as those lines come."""

    unit = "packages"

    def __init__(self) -> None:
        self.total: Optional[int] = None
        self.done = 0

    def feed(self, line: str) -> Optional[tuple[float, Optional[float]]]:
        match = _UV_COUNT.match(line)
        if match and match.group(1) == "Resolved":
            self.total = int(match.group(2))
            self.done = 0
        elif match and match.group(1) in ("Installed", "Audited", "Uninstalled"):
            self.done = self.total or 0
        elif self.total is not None and _UV_STEP.match(line):
            self.done = min(self.done + 1, max(self.total - 1, 0))
        else:
            return None
        return self.done, self.total


class PipProgress(ProgressParser):
    """pip gives no total up front: count steps, leave the bar indeterminate."""

    def __init__(self) -> None:
        self.steps = 0

    def feed(self, line: str) -> Optional[tuple[float, Optional[float]]]:
        if _PIP_STEP.match(line):
            self.steps += 1
            return self.steps, None
        return None


class OverallProgress:
    """One fraction 0..1 for the whole run, weighted by stage, never decreasing."""

    def __init__(self) -> None:
        self.weights: dict[str, float] = {}
        self.fractions: dict[str, float] = {}
        self.value = 0.0

    def update(self, event: events.Event) -> float:
        if isinstance(event, events.StageLine):  # most events by far, and they never move the bar
            return self.value
        if isinstance(event, events.RunStarted):
            total = sum(s.weight for s in event.stages) or 1.0
            self.weights = {s.key: s.weight / total for s in event.stages}
            self.fractions = {}
        elif isinstance(event, events.StageStarted):
            self.fractions.setdefault(event.stage, 0.0)
        elif isinstance(event, events.StageProgress) and event.total:
            fraction = max(0.0, min(1.0, event.done / event.total))
            self.fractions[event.stage] = max(self.fractions.get(event.stage, 0.0), fraction)
        elif isinstance(event, events.StageDone):
            self.fractions[event.stage] = 1.0
        elif isinstance(event, (events.StageFailed, events.StageCancelled)):
            pass
        current = sum(self.weights.get(k, 0.0) * f for k, f in self.fractions.items())
        self.value = max(self.value, min(1.0, current))
        return self.value
