"""What the runner tells its views.

The runner emits these plain data objects and never looks at who listens: the
widget panel, the terminal view and the log file all subscribe the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Optional, Union

if TYPE_CHECKING:  # this module imports nothing at run time: any module can import it
    from .errors import StageError


@dataclass(frozen=True)
class StageInfo:
    """A stage as views need it: a key, a label for people, and its share of the bar."""

    key: str
    label: str
    weight: float


@dataclass(frozen=True)
class RunStarted:
    stages: tuple[StageInfo, ...]
    log_path: Path


@dataclass(frozen=True)
class StageStarted:
    stage: str
    index: int


@dataclass(frozen=True)
class StageProgress:
    """Progress inside a stage; ``total`` None means it cannot be known (indeterminate)."""

    stage: str
    done: float
    total: Optional[float]
    unit: str = "steps"  # "bytes", "packages" or "steps"


@dataclass(frozen=True)
class StageLine:
    """One line of a tool's output (``\\r`` redraws arrive as separate lines)."""

    stage: str
    text: str


@dataclass(frozen=True)
class StageDone:
    stage: str
    skipped: bool
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class StageFailed:
    stage: str
    error: StageError


@dataclass(frozen=True)
class StageCancelled:
    stage: str


# How a run ends: every stage done (or skipped), one failed, or stopped on request.
Outcome = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True)
class RunFinished:
    """The last event of every run: ``outcome`` is "done", "failed" or "cancelled"."""

    outcome: Outcome
    seconds: float
    log_path: Path
    result: Optional[object] = None


Event = Union[
    RunStarted,
    StageStarted,
    StageProgress,
    StageLine,
    StageDone,
    StageFailed,
    StageCancelled,
    RunFinished,
]
Listener = Callable[[Event], None]
