"""The asyncio runner: stages in order, output streamed as events, no widget in sight.

A stage is a small coroutine that gets a :class:`StageContext`; the context
starts subprocesses (argument lists, a cleaned environment, their own process
group), streams their output as :class:`~colab_wizard.events.StageLine`
events and into the log file, and kills the whole group when the stage is
cancelled or times out, so no child outlives the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Iterable, Mapping, Optional, Sequence, TextIO

from .errors import StageError, WizardError
from .events import (
    Event,
    Listener,
    Outcome,
    RunFinished,
    RunStarted,
    StageCancelled,
    StageDone,
    StageFailed,
    StageInfo,
    StageLine,
    StageProgress,
    StageStarted,
)
from .procenv import clean_env
from .streams import LineSplitter

TAIL_LINES = 30
KILL_GRACE = 3.0
NO_SPACE = "No space left on device"


class ProgressParser:
    """Reads progress out of a tool's output; subclasses override :meth:`feed`."""

    unit = "steps"

    def feed(self, line: str) -> Optional[tuple[float, Optional[float]]]:
        return None


@dataclass
class Stage:
    """One step of a plan.

    ``action`` does the work and may return a short detail for the views;
    ``is_done`` says, cheaply and without side effects, that a previous run
    already did it, so an unchanged re-run skips it.
    """

    key: str
    label: str
    weight: float
    action: Callable[[StageContext], Awaitable[Optional[str]]]
    is_done: Callable[[], bool] = field(default=lambda: False)
    timeout: float = 1800.0

    @property
    def info(self) -> StageInfo:
        return StageInfo(self.key, self.label, self.weight)


class StageContext:
    """What a running stage may do: run commands, report progress, log lines."""

    def __init__(self, runner: Runner, stage: Stage, log_key: Optional[str] = None) -> None:
        self._runner = runner
        self.stage = stage
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.log_path = runner.log_path
        self._log_key = log_key or stage.key

    def beside(self, name: str) -> StageContext:
        """A context for work run beside this stage's own: the same events, its own tail,
        and its own key in the log (``[stage:name]``), so that neither this stage's error
        nor the plain-words diagnosis of its output (which reads ``[stage]`` lines) mixes
        in the other work's lines."""
        return StageContext(self._runner, self.stage, f"{self.stage.key}:{name}")

    def line(self, text: str) -> None:
        self.tail.append(text)
        self._runner._write_log(f"[{self._log_key}] {text}")
        self._runner.emit(StageLine(self.stage.key, text))

    def lines(self, texts: Sequence[str], parser: Optional[ProgressParser] = None) -> None:
        """Many lines at once (one read's worth): the same events, in the same order, as
        calling :meth:`line` (and ``parser``) for each, with one log write for all."""
        if not texts:
            return
        key = self.stage.key
        self.tail.extend(texts)
        self._runner._write_log("\n".join([f"[{self._log_key}] {text}" for text in texts]))
        if parser is None:
            events: list[Event] = [StageLine(key, text) for text in texts]
        else:
            events = []
            for text in texts:
                events.append(StageLine(key, text))
                found = parser.feed(text)
                if found is not None:
                    events.append(StageProgress(key, found[0], found[1], parser.unit))
        self._runner.emit_many(events)

    def progress(self, done: float, total: Optional[float], unit: str = "steps") -> None:
        self._runner.emit(StageProgress(self.stage.key, done, total, unit))

    def fail(
        self,
        message: str,
        hint: str = "",
        command: Sequence[str] = (),
        exit_code: Optional[int] = None,
    ) -> StageError:
        """A StageError for this stage, carrying the tail of its output and the log path."""
        return StageError(
            stage=self.stage.key,
            message=message,
            command=tuple(command),
            exit_code=exit_code,
            tail=tuple(self.tail)[-10:],
            log_path=self.log_path,
            hint=hint,
        )

    async def run(
        self,
        argv: Sequence[str],
        cwd: Optional[Path] = None,
        env: Optional[Mapping[str, str]] = None,
        parser: Optional[ProgressParser] = None,
        hint: str = "",
        check: bool = True,
    ) -> int:
        """Run ``argv`` to completion, streaming its output; raise StageError on failure."""
        command = [str(a) for a in argv]
        self._runner._write_log(f"[{self._log_key}] $ {' '.join(command)}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=str(cwd) if cwd else None,
                env=clean_env(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise self.fail(f"could not start {command[0]}: {exc}", hint, command) from None
        self._runner._children.add(proc.pid)
        try:
            await self._pump(proc, parser)
            code = await proc.wait()
        finally:
            # Reached normally too: a child may have left grandchildren in its group.
            await _kill_group_to_the_end(proc)
            self._runner._children.discard(proc.pid)
        if check and code != 0:
            program = os.path.basename(command[0])
            message = f"{program} exited with code {code}"
            if code < 0:
                message = f"{program} was stopped by signal {_signal_name(-code)}"
            if any(NO_SPACE in text for text in self.tail):
                message = f"{program} ran out of disk space ({NO_SPACE})"
                hint = (f"The disk is full. Free some space (or choose a project folder on "
                        f"another disk), then retry. {hint}").strip()
            raise self.fail(message, hint, command, code)
        return code

    async def _pump(self, proc: asyncio.subprocess.Process, parser: Optional[ProgressParser]
                    ) -> None:
        assert proc.stdout is not None
        splitter = LineSplitter()

        def handle(lines: Sequence[str]) -> None:
            self.lines(lines, parser)

        reader = proc.stdout
        wait_exit = asyncio.ensure_future(proc.wait())
        try:
            while True:
                read = asyncio.ensure_future(reader.read(65536))
                await asyncio.wait({read, wait_exit}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    # The child exited; a grandchild may still hold the pipe open, so
                    # drain what is there for a moment rather than waiting for EOF.
                    try:
                        chunk = await asyncio.wait_for(read, timeout=2.0)
                    except asyncio.TimeoutError:
                        break
                else:
                    chunk = read.result()
                if not chunk:
                    break
                handle(splitter.feed(chunk))
        finally:
            if not wait_exit.done():
                wait_exit.cancel()
        handle(splitter.close())


async def _settle(task: asyncio.Future[Optional[str]]) -> None:
    """Wait for ``task`` to finish; a cancel of the waiter is passed on, not obeyed."""
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


async def _kill_group_to_the_end(proc: asyncio.subprocess.Process) -> None:
    """:func:`_kill_group`, finished even when the stage is cancelled (again) meanwhile:
    a second Cancel click must not leave a child that ignores SIGTERM running."""
    kill = asyncio.ensure_future(_kill_group(proc))
    cancelled = False
    while not kill.done():
        try:
            await asyncio.shield(kill)
        except asyncio.CancelledError:
            cancelled = True
    kill.result()
    if cancelled:
        raise asyncio.CancelledError


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after a grace period."""
    pgid = proc.pid
    if not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    while time.monotonic() < deadline:
        if proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                pass
        else:
            await asyncio.sleep(0.05)
        if not _group_alive(pgid):
            return
    _signal_group(pgid, signal.SIGKILL)
    if proc.returncode is None:
        await proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runner:
    """Runs a plan's stages in order and tells listeners everything as events."""

    def __init__(
        self,
        stages: Sequence[Stage],
        log_path: Path,
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.stages = list(stages)
        self.log_path = Path(log_path)
        self._listeners: list[Listener] = list(listeners)
        self._log: Optional[TextIO] = None
        self._task: Optional[asyncio.Future[Optional[str]]] = None
        self._cancel_requested = False
        self._children: set[int] = set()
        self.failed: Optional[StageError] = None

    @property
    def children(self) -> list[int]:
        """Process groups of the commands running now (each child leads its own group)."""
        return sorted(self._children)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        self.emit_many((event,))

    def emit_many(self, events: Iterable[Event]) -> None:
        """Tell every listener each event in turn (a chunk of output lines: one call)."""
        listeners = list(self._listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a broken view must not break the install
                    self._write_log("[view] " + traceback.format_exc())

    def _write_log(self, text: str) -> None:
        if self._log is not None:
            self._log.write(text + "\n")

    def cancel(self) -> None:
        """Ask the run to stop; the current stage's processes are killed."""
        self._cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self, start_at: Optional[str] = None, result: object = None) -> Outcome:
        """Run the stages; returns "done", "failed" or "cancelled" (also sent as RunFinished)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.failed = None
        self._cancel_requested = False
        outcome: Outcome = "done"
        with open(self.log_path, "a", encoding="utf-8", buffering=1) as log:
            self._log = log
            self._write_log(f"=== colab_wizard run {time.strftime('%Y-%m-%d %H:%M:%S')}")
            self.emit(RunStarted(tuple(s.info for s in self.stages), self.log_path))
            keys = [s.key for s in self.stages]
            first = keys.index(start_at) if start_at in keys else 0
            try:
                for index, stage in enumerate(self.stages):
                    outcome = await self._run_stage(index, stage, force=index == first
                                                    and start_at is not None)
                    if outcome != "done":
                        break
            finally:
                self._write_log(f"=== {outcome} after {time.monotonic() - started:.1f}s")
                self._log = None
        self.emit(RunFinished(outcome, time.monotonic() - started, self.log_path,
                              result if outcome == "done" else None))
        return outcome

    async def _run_stage(self, index: int, stage: Stage, force: bool = False) -> Outcome:
        begin = time.monotonic()
        if self._cancel_requested:
            self.emit(StageCancelled(stage.key))
            return "cancelled"
        self.emit(StageStarted(stage.key, index))
        if self._cancel_requested:
            # Asked while StageStarted was being delivered: stop this stage, not the next.
            self._write_log(f"[{stage.key}] cancelled")
            self.emit(StageCancelled(stage.key))
            return "cancelled"
        if not force and stage.is_done():
            self._write_log(f"[{stage.key}] already done, skipped")
            self.emit(StageDone(stage.key, True, time.monotonic() - begin, "already done"))
            return "done"
        context = StageContext(self, stage)
        task = self._task = asyncio.ensure_future(stage.action(context))
        # The stage's task is always awaited to its end (its clean-up kills its processes),
        # whether it times out, is cancelled once or many times, or this run is cancelled.
        timed_out = False
        try:
            done, _ = await asyncio.wait({task}, timeout=stage.timeout)
            if not done:
                timed_out = True
                task.cancel()
        except asyncio.CancelledError:
            task.cancel()
        await _settle(task)
        try:
            detail = task.result()
        except asyncio.CancelledError:
            if timed_out:
                return self._failed(context.fail(
                    f"took longer than {stage.timeout:.0f} seconds and was stopped",
                    "Check the network connection, then retry this stage.",
                ))
            self._write_log(f"[{stage.key}] cancelled")
            self.emit(StageCancelled(stage.key))
            return "cancelled"
        except StageError as error:
            return self._failed(error)
        except WizardError as exc:  # already a sentence saying what to do: shown as it is
            return self._failed(context.fail(str(exc)))
        except Exception as exc:  # an unexpected bug still ends as a readable failure
            self._write_log(traceback.format_exc())
            return self._failed(context.fail(f"{type(exc).__name__}: {exc}"))
        finally:
            self._task = None
        self.emit(StageDone(stage.key, False, time.monotonic() - begin, detail or ""))
        return "done"

    def _failed(self, error: StageError) -> Outcome:
        self._write_log(f"[{error.stage}] FAILED: {error.message}")
        self.failed = error
        self.emit(StageFailed(error.stage, error))
        return "failed"
