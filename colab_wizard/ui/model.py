"""The panel's view model: plain data and rules, no ipywidgets.

The widgets in :mod:`colab_wizard.ui.panel` only copy these values onto the
screen; everything that can be decided without a browser (which versions to
offer, what the form holds, how runner events change the Install step, how
often the page may be updated, what to say when done) lives here and is
tested without widgets.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

from .. import api, events, paths, pythons, requirements_text
from ..errors import SpecError, StageError
from ..kernels import KernelInfo
from ..naming import WouldReplace
from ..progress import OverallProgress
from ..spec import (
    EnvSpec,
    check_display_name,
    check_name,
    default_display_name,
    name_from_display_name,
    parse_python,
)
from ..sync import running_loop

# As many lines as the log box shows at once: a textarea scrolls back to its top on every
# update, so lines below its fold would never be seen while a stage runs.
TAIL_LINES = 12
MAX_LINE_CHARS = 300
# Seconds between redraws: about 8 a second, each one message (the log tail) while lines
# stream, plus the elapsed clock once a second: at most 10 widget messages a second.
UPDATE_INTERVAL = 0.12
TICK_INTERVAL = 1.0  # the elapsed-time clock while nothing else happens

# A stage's row on the Install step: not reached yet, running, or how the stage ended.
RowState = Literal["pending", "running", "done", "skipped", "failed", "cancelled"]
# The Install step's run: not started (""), running, or how it ended.
RunState = Union[Literal["", "running"], events.Outcome]

ICONS: dict[RowState, str] = {
    "pending": "\u25cb",  # ○
    "running": "\u25d0",  # ◐
    "done": "\u2714",  # ✔
    "skipped": "\u2714",
    "failed": "\u2716",  # ✖
    "cancelled": "\u25a0",  # ■
}

VersionOptions = list[tuple[str, str]]


# -- versions ------------------------------------------------------------------------

_offers_cache: dict[Path, list[pythons.Offer]] = {}


def _offers() -> list[pythons.Offer]:
    """Probing interpreters costs a few hundred ms: once per kernel is enough. Keyed by
    the wizard's own pythons folder, so a panel for another home never shows this one's."""
    folder = paths.pythons_dir()
    if folder not in _offers_cache:
        _offers_cache[folder] = pythons.available()
    return _offers_cache[folder]


def version_options() -> VersionOptions:
    """(label, value) for 3.9-3.14 and the free-threaded builds, newest first, each saying
    whether it is installed here or what downloading it costs."""
    host = f"3.{sys.version_info[1]}"
    offers = sorted(_offers(), key=lambda o: (int(o.label[2:].rstrip("t")), not o.free_threaded),
                    reverse=True)
    options: VersionOptions = []
    for offer in offers:
        if offer.free_threaded and not offer.available:
            continue
        label = f"{offer.label} \u2014 {offer.status()}"
        if offer.label == host:
            label += ", same as this notebook"
        options.append((label, offer.label))
    return options


def default_version(options: VersionOptions, host_minor: Optional[int] = None) -> str:
    """The newest stable version that differs from the host's, preferring ones installed here."""
    host = f"3.{sys.version_info[1] if host_minor is None else host_minor}"
    stable = [v for _, v in options if not v.endswith("t") and v != host]
    ready = [v for label, v in options if v in stable and "installed here" in label]
    ordered = sorted(ready or stable, key=lambda v: int(v.split(".")[1]), reverse=True)
    if ordered:
        return ordered[0]
    return options[0][1] if options else host


# -- the form ------------------------------------------------------------------------


@dataclass
class FormState:
    """What the user typed; kept per kernel so a re-``show()`` loses nothing."""

    python: str = ""
    display_name: str = ""
    name: str = ""
    name_edited: bool = False
    requirements: str = ""
    pyproject: str = ""
    pyproject_mode: bool = False
    step: int = 0
    # "Use a project folder or repository" (adoption.py): the folder or git URL typed.
    adopt_mode: bool = False
    adopt_source: str = ""
    adopt_relock: bool = False


# The first step's fields share one message line: it starts with the field's label.
FIELD_LABELS = {"python": "Python", "display_name": "Display name", "name": "Kernel name"}
REQUIREMENTS_HELP = ("One requirement per line, like <code>numpy&gt;=1.26</code>; "
                     "<code># comments</code> are fine. Pasting a requirements.txt or a "
                     "pyproject.toml works too.")
PYPROJECT_HELP = ("The whole <code>pyproject.toml</code>: edit freely; the wizard changes "
                  "only the keys it owns.")


def field_message(exc: SpecError) -> str:
    """A first-step field's error, starting with the field's label."""
    label = FIELD_LABELS.get(exc.field)
    return f"{label}: {exc.message}" if label else exc.message


def line_message(exc: SpecError) -> str:
    """A dependency error, starting with its line number when it has one."""
    return (f"Line {exc.line}: " if exc.line is not None else "") + exc.message


def _default_display_name(python: str) -> str:
    return default_display_name(parse_python(python))


@dataclass(frozen=True)
class Nav:
    """Which of Back, Next and Install show, and which can be clicked; the Dependencies
    step's view (the list or the project box, its help text and height)."""

    back: bool
    back_disabled: bool
    next: bool
    next_disabled: bool
    install: bool
    install_disabled: bool
    deps_list: bool
    adopt_box: bool
    deps_help: str
    deps_height: str


class Form:
    """The form's rules over :class:`FormState`: what follows from what was typed.

    The panel hands every change in here and copies the state and the messages back onto
    its widgets; nothing here knows a widget.
    """

    def __init__(self, state: FormState, options: VersionOptions) -> None:
        self.state = state
        self.python_message = ""  # the first step's message line ("" when all is well)
        self.deps_message = ""  # the dependency editor's message ("" when all is well)
        # The kernel registered under this name may be replaced: the user said so, for the
        # name shown then (any other name asks again).
        self.replace_confirmed: Optional[str] = None
        # The kernel of ours an Install would replace, offered with "Replace it"; or None.
        self.replace_offer: Optional[KernelInfo] = None
        self.parsed = requirements_text.parse("")
        self._fill(options)

    def _fill(self, options: VersionOptions) -> None:
        """What is missing from the state gets its default: the version from ``options``, the
        display name from the version, the kernel name from the display name."""
        state = self.state
        if state.python not in [v for _, v in options]:
            state.python = default_version(options)
        if not state.display_name:
            state.display_name = _default_display_name(state.python)
        if not state.name_edited or not state.name:
            state.name = name_from_display_name(state.display_name)

    # -- step 1 -------------------------------------------------------------------------

    def choose_python(self, python: str) -> None:
        """A display name still at the old version's default follows the new version."""
        old, self.state.python = self.state.python, python
        if old and self.state.display_name == _default_display_name(old):
            self.type_display_name(_default_display_name(python))

    def type_display_name(self, text: str) -> None:
        """The kernel name follows the display name until the user types one."""
        self.state.display_name = text
        if not self.state.name_edited:
            self._set_name(name_from_display_name(text))

    def type_kernel_name(self, text: str) -> None:
        """A name typed is kept; cleared, it follows the display name again."""
        self._set_name(text)
        self.state.name_edited = bool(text.strip())

    def _set_name(self, name: str) -> None:
        if name != self.state.name:
            # A confirmed replacement was for the name shown then, not for whatever comes next.
            self.replace_confirmed = self.replace_offer = None
        self.state.name = name

    def check_python(self) -> bool:
        """Whether the first step's fields are valid; the message line says why not."""
        try:
            parse_python(self.state.python or "")
            check_display_name(self.state.display_name)
            check_name(self.state.name)
        except SpecError as exc:
            self.python_message = field_message(exc)
            return False
        self.python_message = ""
        return True

    def confirm_replace(self) -> None:
        self.replace_confirmed = self.state.name
        self.replace_offer = None
        self.python_message = ""

    # -- steps ----------------------------------------------------------------------------

    def move(self, step: int) -> bool:
        """Go to ``step`` (kept within the four); not past the first while it is invalid."""
        step = max(0, min(step, len(STEPS) - 1))
        if step == 1 and self.state.step == 0 and not self.check_python():
            return False
        self.state.step = step
        return True

    def nav(self, running: bool, adopting: bool, adopt_source: str) -> Nav:
        step = self.state.step
        ready = bool(adopt_source.strip()) if adopting else self.parsed.ok
        return Nav(
            back=step in (1, 2, 3) and not running, back_disabled=running,
            next=step == 0, next_disabled=step == 0 and bool(self.python_message),
            install=step == 1, install_disabled=not ready or running,
            deps_list=not adopting, adopt_box=adopting,
            deps_help=PYPROJECT_HELP if self.state.pyproject_mode else REQUIREMENTS_HELP,
            deps_height="22em" if self.state.pyproject_mode else "12em")

    # -- step 2 ---------------------------------------------------------------------------

    @property
    def deps_text(self) -> str:
        """What the dependency editor shows: the pyproject.toml or the requirements list."""
        return self.state.pyproject if self.state.pyproject_mode else self.state.requirements

    def type_deps(self, text: str) -> None:
        if self.state.pyproject_mode:
            self.state.pyproject = text
        else:
            self.state.requirements = text

    def switch_view(self, to_pyproject: bool) -> bool:
        """The editor shows the other view, converted; False (and the message says why) when
        what is there cannot be converted: switching would lose it."""
        text = self.deps_text
        try:
            if to_pyproject and requirements_text.looks_like_pyproject(text):
                converted = text  # a pasted pyproject.toml: edit it as it is
            elif to_pyproject:
                converted = requirements_text.to_pyproject(
                    text, self.state.pyproject, self.state.name,
                    parse_python(self.state.python).minor)
            else:
                converted = requirements_text.from_pyproject(text)
        except SpecError as exc:
            self.deps_message = f"Fix this first, then switch: {line_message(exc)}"
            return False
        self.state.pyproject_mode = to_pyproject
        self.type_deps(converted)
        return True

    def check_deps(self) -> bool:
        """Parse the dependencies; the message names every bad line."""
        self.parsed = requirements_text.parse(self.deps_text)
        self.deps_message = "" if self.parsed.ok else self.parsed.message()
        return self.parsed.ok

    def deps_notes(self) -> list[str]:
        """What was understood but is worth saying (ignored options, a pasted pyproject)."""
        notes = list(self.parsed.warnings)
        if self.parsed.ok and not self.state.pyproject_mode and self.parsed.kind == "pyproject":
            notes.append("Understood as a pyproject.toml: its dependencies will be installed.")
        return notes

    def adopt_choices(self) -> tuple[str, Optional[str], Optional[str]]:
        """The Python, kernel name and display name for adopting a project: the first step's
        choices where the user made them (None: the project's name and newest fitting Python
        decide)."""
        state = self.state
        shown = state.display_name
        default_shown = _default_display_name(state.python) if state.python else ""
        return (state.python, state.name if state.name_edited else None,
                None if shown == default_shown else shown)

    @property
    def edited_pyproject(self) -> Optional[str]:
        """The pyproject.toml the user edited in full, to go into the project; else None."""
        if self.state.pyproject_mode and self.state.pyproject.strip():
            return self.state.pyproject
        return None

    # -- Install --------------------------------------------------------------------------

    def spec(self) -> Optional[EnvSpec]:
        """The validated spec to install; None when something must change first: the message
        is then on the step of the field at fault (``state.step`` says which)."""
        if not self.check_python() or not self.check_deps():
            return None
        state = self.state
        try:
            return api.make_spec(state.python, list(self.parsed.requirements), name=state.name,
                                 display_name=state.display_name,
                                 replace=self.replace_confirmed == state.name)
        except SpecError as exc:
            self.refused(exc)
            return None

    def refused(self, exc: SpecError) -> None:
        if isinstance(exc, WouldReplace):
            self.replace_offer = exc.existing
        if exc.field in FIELD_LABELS:
            self.state.step = 0  # the field at fault is on the first step: show it there
            self.python_message = field_message(exc)
        else:
            self.deps_message = line_message(exc)


STEPS = ("Python", "Dependencies", "Install", "Done")


def step_indicator_html(current: int) -> str:
    parts = []
    for index, title in enumerate(STEPS):
        text = f"{index + 1}. {title}"
        if index == current:
            parts.append(f"<b class='cw-step-current'>{text}</b>")
        elif index < current:
            parts.append(f"<span style='opacity:0.75'>{text}</span>")
        else:
            parts.append(f"<span style='opacity:0.5'>{text}</span>")
    return " &nbsp;\u203a&nbsp; ".join(parts)


# -- the Install step ------------------------------------------------------------------


@dataclass
class StageRow:
    key: str
    label: str
    status: RowState = "pending"
    done: float = 0.0
    total: Optional[float] = None
    unit: str = "steps"
    detail: str = ""

    @property
    def icon(self) -> str:
        return ICONS[self.status]

    @property
    def fraction(self) -> Optional[float]:
        """0..1, or None while running with no known total (an indeterminate bar)."""
        if self.status in ("done", "skipped"):
            return 1.0
        if self.total:
            return max(0.0, min(1.0, self.done / self.total))
        return None if self.status == "running" else 0.0

    @property
    def text(self) -> str:
        if self.status == "running":
            return self._progress_text()
        if self.status == "skipped":
            return "already done"
        return self.detail if self.status == "done" else self.status if self.status != \
            "pending" else ""

    def _progress_text(self) -> str:
        """How far a running stage is: of a known total, or how much so far."""
        if self.total and self.unit == "bytes":
            return f"{_mb(self.done)} of {_mb(self.total)}"
        if self.total and self.unit == "packages":
            return f"{self.done:.0f} of {self.total:.0f} packages"
        if self.total:
            return f"{self.done:.0f} of {self.total:.0f}"
        if self.done and self.unit == "bytes":
            return _mb(self.done)
        if self.done:
            return f"working\u2026 ({self.done:.0f} steps)"
        return "working\u2026"


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


@dataclass
class InstallModel:
    """Folds runner events into what the Install step shows (a reducer, no widgets)."""

    rows: dict[str, StageRow] = field(default_factory=dict)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    overall: OverallProgress = field(default_factory=OverallProgress)
    log_path: Optional[Path] = None
    outcome: RunState = ""
    error: Optional[StageError] = None
    result: Optional[object] = None
    started: Optional[float] = None
    seconds: Optional[float] = None
    changes: int = 0  # bumped by every event: the view redraws when it moved

    def apply(self, event: events.Event) -> None:
        self.changes += 1
        if isinstance(event, events.StageLine):  # first: nearly every event is a line
            text = event.text
            self.tail.append(text if len(text) <= MAX_LINE_CHARS else
                             text[:MAX_LINE_CHARS] + "\u2026")
            return
        self.overall.update(event)
        fold = _FOLDS.get(type(event))
        if fold is not None:
            fold(self, event)

    def _run_started(self, event: events.RunStarted) -> None:
        self.rows = {s.key: StageRow(s.key, s.label) for s in event.stages}
        self.log_path = event.log_path
        self.outcome = "running"
        self.error = None
        self.result = None
        self.started = time.monotonic()
        self.seconds = None

    def _stage_started(self, event: events.StageStarted) -> None:
        row = self._row(event.stage)
        row.status, row.done, row.total, row.detail = "running", 0.0, None, ""

    def _stage_progress(self, event: events.StageProgress) -> None:
        row = self._row(event.stage)
        row.done, row.total, row.unit = event.done, event.total, event.unit

    def _stage_done(self, event: events.StageDone) -> None:
        row = self._row(event.stage)
        row.status = "skipped" if event.skipped else "done"
        row.detail = event.detail if event.skipped else (
            f"{event.seconds:.1f}s" + (f" \u2014 {event.detail}" if event.detail else ""))

    def _stage_failed(self, event: events.StageFailed) -> None:
        self._row(event.stage).status = "failed"
        self.error = event.error

    def _stage_cancelled(self, event: events.StageCancelled) -> None:
        self._row(event.stage).status = "cancelled"

    def _run_finished(self, event: events.RunFinished) -> None:
        self.outcome = event.outcome
        self.seconds = event.seconds
        self.result = event.result

    def begin(self) -> None:
        """A run is about to start: shown as running, no banner left from the last one."""
        self.error = None
        self.outcome = "running"

    def interrupted(self) -> None:
        """The run stopped (an interrupt) before the runner could say so: it was cancelled."""
        if self.running:
            self._end("cancelled")

    def broke(self) -> None:
        """Something outside the runner's own reporting stopped the run: it failed, with no
        stage error to retry from (the panel shows the exception instead)."""
        self.error = None
        self._end("failed")

    def _end(self, outcome: Literal["failed", "cancelled"]) -> None:
        self.outcome = outcome
        for row in self.rows.values():
            if row.status == "running":
                row.status = outcome

    @property
    def retry_from(self) -> Optional[str]:
        """The stage a retry starts at: the one that failed, if a stage failed."""
        return self.error.stage if self.error is not None else None

    def _row(self, key: str) -> StageRow:
        if key not in self.rows:
            self.rows[key] = StageRow(key, key)
        return self.rows[key]

    @property
    def running(self) -> bool:
        return self.outcome == "running"

    def elapsed(self, now: Optional[float] = None) -> float:
        if self.seconds is not None:
            return self.seconds
        if self.started is None:
            return 0.0
        return (time.monotonic() if now is None else now) - self.started

    def elapsed_text(self, now: Optional[float] = None) -> str:
        total = int(self.elapsed(now))
        return f"Elapsed {total // 60}:{total % 60:02d}"

    def status_text(self) -> str:
        if self.outcome == "running":
            current = next((r for r in self.rows.values() if r.status == "running"), None)
            return f"Working: {current.label}" if current else "Working\u2026"
        return {
            "done": "Finished.",
            "failed": "Stopped: a step failed.",
            "cancelled": "Cancelled. Nothing was registered; you can start again.",
        }.get(self.outcome, "")

    def banner(self) -> tuple[str, str]:
        """After a failure: what failed, in plain words, and what to try."""
        if self.error is None:
            return "", ""
        row = self.rows.get(self.error.stage)
        label = row.label if row else self.error.stage
        title = f"\u201c{label}\u201d failed: {self.error.message}"
        advice = self.error.hint or "Look at the last lines of the log below, then retry."
        return title, advice

    def tail_text(self) -> str:
        return "\n".join(self.tail)


# One method per event type (StageLine, nearly every event, is folded in apply itself).
_FOLDS: dict[type, Callable[[InstallModel, Any], None]] = {
    events.RunStarted: InstallModel._run_started,
    events.StageStarted: InstallModel._stage_started,
    events.StageProgress: InstallModel._stage_progress,
    events.StageDone: InstallModel._stage_done,
    events.StageFailed: InstallModel._stage_failed,
    events.StageCancelled: InstallModel._stage_cancelled,
    events.RunFinished: InstallModel._run_finished,
}


class Throttle:
    """At most one redraw per ``interval``; says how long to wait otherwise."""

    def __init__(self, interval: float = UPDATE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last = float("-inf")

    def wait(self) -> float:
        """0 if a redraw may happen now, else the seconds until it may."""
        return max(0.0, self.last + self.interval - self.clock())

    def mark(self) -> None:
        self.last = self.clock()


class Redraws:
    """When the Install step is redrawn: at once for what a person must see now, otherwise at
    most once per throttle interval (one redraw pending at a time, showing every event since),
    and once a second for the elapsed clock while the run goes on. ``draw`` redraws (and
    calls :meth:`drawing` first); timers need the kernel's running loop, and without one
    every redraw happens at once."""

    def __init__(self, draw: Callable[[], None], running: Callable[[], bool],
                 throttle: Optional[Throttle] = None) -> None:
        self.draw = draw
        self.running = running
        self.throttle = throttle or Throttle()
        self._pending: Optional[asyncio.TimerHandle] = None
        self._tick: Optional[asyncio.TimerHandle] = None

    def request(self, now: bool = False) -> None:
        if now:
            self.draw()
            return
        if self._pending is not None:  # a redraw is already due: it will show this too
            return
        wait = self.throttle.wait()
        loop = running_loop() if wait > 0 else None
        if loop is None:
            self.draw()
        else:
            self._pending = loop.call_later(wait, self.draw)

    def drawing(self) -> None:
        """A redraw starts: it shows everything so far, nothing stays pending."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.throttle.mark()

    def keep_clock(self) -> None:
        """After a redraw: the clock goes on while the run does, and stops with it."""
        if not self.running():
            self.stop()
            return
        loop = running_loop()
        if self._tick is None and loop is not None:
            self._tick = loop.call_later(TICK_INTERVAL, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        if self.running():
            self.draw()

    def stop(self) -> None:
        for handle in (self._pending, self._tick):
            if handle is not None:
                handle.cancel()
        self._pending = self._tick = None


# -- the Done step ------------------------------------------------------------------------


def switch_sentence(host: str, display_name: str) -> str:
    """How to start using the new kernel on this host, in one sentence."""
    name = f"\u201c{display_name}\u201d"
    if host == "colab":
        return (f"\u201cUse it in this notebook\u201d restarts this notebook's kernel on {name}; "
                "or copy the notebook onto it.")
    if host == "vscode":
        return f"Click the kernel picker at the top right of the notebook and choose {name}."
    if host == "jupyter":
        # JupyterLab and Notebook 7 ask the server for new kernels about once a minute; a
        # reload asks at once (seen in Notebook 7.6: missing for ~40 s after Done).
        return (f"Choose Kernel \u203a Change Kernel\u2026 and pick {name}; if it is not "
                "listed yet, reload this page first.")
    return f"Start Jupyter and pick the kernel {name} for your notebook."
