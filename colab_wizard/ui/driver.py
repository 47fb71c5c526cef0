"""Running the engine from a click: as a background task, or in the foreground.

Both modes take the same coroutine factory and a cancel function; nothing here
touches a widget and nothing here starts a process (the engine's runner does).

* ``background``: an asyncio task on the kernel's running loop. The click
  handler returns at once, the page stays interactive (Cancel is clickable),
  and updates go out from the kernel's main thread. The task is kept and its
  exception is handed to ``on_error``, never lost.
* ``foreground``: the run completes inside the click handler on a private
  event loop, so every update is sent while that request is active (what
  Colab needs). Beside the run, a :class:`~.pump.KernelPump` hands the
  kernel's waiting messages to their handlers, so the panel's Cancel button
  works (``can_cancel``). The kernel's interrupt button works too
  (:func:`~colab_wizard.sync.run_sync`): the KeyboardInterrupt is turned into
  ``cancel()`` and the loop keeps running until the runner has killed its children.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any, Awaitable, Callable, Iterable, Literal, Optional

from ..errors import SpecError
from ..host import detect_host
from ..sync import run_sync, running_loop
from .pump import INTERVAL, KernelPump

Mode = Literal["background", "foreground"]
MODES: tuple[Mode, ...] = ("background", "foreground")


def default_mode(host: Optional[str] = None) -> Mode:
    """Foreground where background updates are known not to reach the page (Colab)."""
    return "foreground" if (host or detect_host()) == "colab" else "background"


class Driver:
    def __init__(self, mode: str, on_error: Callable[[BaseException], None]) -> None:
        known = [m for m in MODES if m == mode]
        if not known:
            raise SpecError("mode", f"{mode!r} is not a way to run; choose "
                            f"{' or '.join(repr(m) for m in MODES)} (or leave it out).")
        self.mode: Mode = known[0]
        self.on_error = on_error
        self.task: Optional[asyncio.Future[Any]] = None
        self.pump: Optional[KernelPump] = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def can_cancel(self) -> bool:
        """Whether a click on Cancel reaches the kernel while this run works."""
        return self.mode == "background" or self.pump is not None

    def start(self, make: Callable[[], Awaitable[Any]], cancel: Callable[[], None],
              children: Callable[[], Iterable[int]] = tuple) -> None:
        loop = running_loop()
        if self.mode == "background" and loop is not None:
            self.task = asyncio.ensure_future(make())
            self.task.add_done_callback(self._finished)
            return
        self._foreground(make, cancel, children)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.on_error(error)

    def _foreground(self, make: Callable[[], Awaitable[Any]], cancel: Callable[[], None],
                    children: Callable[[], Iterable[int]]) -> None:
        # The kernel's own loop is running this click handler: a private loop in this
        # thread (sync.run_sync) runs the job, so every update goes out in this request.
        self.pump = KernelPump.attach()
        try:
            run_sync(_as_coroutine(make), on_interrupt=cancel, on_start=self._started)
        except KeyboardInterrupt:
            pass  # the interrupt button: the run was stopped and has cleaned up
        except BaseException as exc:  # noqa: B036 - surfaced in the panel, never lost
            self.on_error(exc)
        finally:
            _kill_leftovers(children())
            if self.pump is not None:
                self.pump.close()
                self.pump = None

    def _started(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        if self.pump is not None:  # cancelled with the loop's other leftovers on the way out
            task.get_loop().create_task(_pump_until(self.pump, task))


async def _pump_until(pump: KernelPump, task: asyncio.Future[Any]) -> None:
    """Let clicks in while ``task`` runs (a Cancel click cancels it from in here)."""
    while not task.done():
        await pump.step()
        await asyncio.sleep(INTERVAL)


async def _as_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


def _kill_leftovers(groups: Iterable[int]) -> None:
    """Last resort after an interrupt landed mid-cleanup: no child outlives the run."""
    for pgid in list(groups):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
