"""Run a coroutine to completion from sync code, including from a notebook cell.

A notebook cell (and a widget's click handler) already runs inside the kernel's
event loop, where ``asyncio.run`` refuses to start. A worker thread would dodge
that, but the interrupt button then stops only the waiting main thread (the run
and its processes go on), and widget updates sent from another thread never
reach Colab's page. So the coroutine runs on a private loop in *this* thread:
the kernel's loop steps aside for the duration and is put back afterwards.
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, Awaitable, Callable, Iterator, Optional, TypeVar

if TYPE_CHECKING:  # typing.ParamSpec is 3.10+; only the type checker needs it
    from typing_extensions import ParamSpec

    P = ParamSpec("P")

T = TypeVar("T")


def running_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The event loop running in this thread (a notebook cell's, a click's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@contextmanager
def private_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop usable in this thread even while another loop is running here."""
    outer = running_loop()
    loop = asyncio.new_event_loop()
    if outer is not None:
        # asyncio refuses to run a loop while it believes another one runs in this thread.
        asyncio.events._set_running_loop(None)
    try:
        yield loop
    finally:
        try:
            _cancel_leftover_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
            if outer is not None:
                asyncio.events._set_running_loop(outer)


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does on the way out: no task outlives its loop."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def run_sync(work: Awaitable[T], on_interrupt: Optional[Callable[[], None]] = None,
             on_start: Optional[Callable[[asyncio.Task[T]], None]] = None) -> T:
    """Run ``work`` to completion and return its result (or raise its exception).

    Works with or without a running loop in this thread. An interrupt (Ctrl-C, the
    notebook's stop button) calls ``on_interrupt`` (default: cancel ``work``) and
    keeps the loop running until ``work`` has cleaned up, so no child process
    outlives it; if ``work`` then ends cancelled, KeyboardInterrupt is raised.
    ``on_start`` gets the task running ``work`` as soon as it exists: to keep it, or
    to start more work beside it on its loop (cancelled when ``work`` is over).
    """
    with private_loop() as loop:
        task = loop.create_task(_awaited(work))
        if on_start is not None:
            on_start(task)
        stop = on_interrupt if on_interrupt is not None else task.cancel
        while True:
            try:
                return loop.run_until_complete(task)
            except KeyboardInterrupt:
                if task.done():
                    raise
                stop()
            except asyncio.CancelledError:
                raise KeyboardInterrupt from None


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def blocking(work: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """The blocking twin of the coroutine function ``work``: the same arguments, run to
    completion with :func:`run_sync`, so scripts and notebook cells get one behaviour and
    the argument list is written once (``create = blocking(create_async)``)."""

    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(work(*args, **kwargs))

    run.__name__ = work.__name__.removesuffix("_async")
    run.__qualname__ = work.__qualname__.removesuffix("_async")
    run.__doc__ = (f"Blocking :func:`{work.__name__}`, for scripts and notebook cells alike "
                   f"(the cell's interrupt button cancels it).\n\n{work.__doc__ or ''}")
    return run
