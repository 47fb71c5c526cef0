"""Clicks that reach the kernel while a foreground run holds it (Cancel on Colab).

In foreground mode (driver.py) the whole run happens inside the Install click,
and ipykernel handles one shell message at a time: a click on Cancel would wait
in the kernel's queue until the run is over. :class:`KernelPump` hands the
waiting shell messages to the kernel's own dispatcher every few hundredths of a
second during the run, so the Cancel click reaches its handler while the run
works, and the widget updates that handler makes go out at once.

A cell run meanwhile is not run inside the click (that would run the user's code
in the middle of an install, and interleave its output): its request is kept and
handed back to the kernel's queue, in order, when the run ends.

Why not jupyter-ui-poll, which polls the same way: it hands deferred cells back
on IPython's ``post_run_cell`` event, which fires when a *cell* ends. A run inside
a click handler is not a cell, so a cell run during the install would stay
deferred (and so would every later one) until some other cell ended.

Works with the ipykernel 6 line (Colab: 6.17.1), whose kernel steps through its
shell queue with ``do_one_iteration``. ipykernel 7 handles shell messages in
another thread and has no such step: there :meth:`KernelPump.attach` returns
None, and the kernel's interrupt button stays the way to cancel.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional

# Seconds between two looks at the kernel's queue: a click is handled within this, and an
# idle look costs a few microseconds (a non-blocking read of the shell socket).
INTERVAL = 0.05


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def _supported(kernel: Any) -> bool:
    """The ipykernel 6 shell loop: a queue stepped by do_one_iteration, per-channel parents."""
    return (
        kernel is not None
        and callable(getattr(kernel, "do_one_iteration", None))
        and hasattr(kernel, "msg_queue")
        and hasattr(kernel, "shell_stream")
        and callable(getattr(kernel, "get_parent", None))
        and isinstance(getattr(kernel, "_parent_ident", None), dict)
        and "execute_request" in getattr(kernel, "shell_handlers", {})
    )


class KernelPump:
    """Dispatches the kernel's pending shell messages from inside a running click handler."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        # The click's own request: every widget update of the run belongs to it, so it is
        # made the parent again after each message handled in between.
        self._parent = (kernel._parent_ident["shell"], kernel.get_parent("shell"))
        self._execute: Optional[Callable[..., Any]] = kernel.shell_handlers["execute_request"]
        self.deferred: list[tuple[Any, Any, Any]] = []
        kernel.shell_handlers["execute_request"] = self._defer

    @classmethod
    def attach(cls) -> Optional[KernelPump]:
        """A pump for the running kernel, or None where its shell loop is not ipykernel 6's."""
        kernel = _kernel()
        return cls(kernel) if _supported(kernel) else None

    def _defer(self, stream: Any, ident: Any, parent: Any) -> None:
        self.deferred.append((stream, ident, parent))

    async def step(self) -> int:
        """Handle every shell message waiting now; returns how many there were."""
        kernel = self.kernel
        # ipykernel saves the SIGINT handler around each message it handles: a message
        # handled inside ours would leave the click's handler saved as the idle one.
        saved_sigint = getattr(kernel, "saved_sigint_handler", None)
        handled = 0
        try:
            while True:
                kernel.shell_stream.flush()
                if not kernel.msg_queue.qsize():
                    return handled
                await kernel.do_one_iteration()
                handled += 1
        finally:
            if handled:
                kernel.set_parent(*self._parent, channel="shell")
                if saved_sigint is not None:
                    kernel.saved_sigint_handler = saved_sigint

    def close(self) -> None:
        """Stop deferring cells and queue the deferred ones, in order, before anything newer."""
        if self._execute is None:
            return
        self.kernel.shell_handlers["execute_request"] = self._execute
        self._execute = None
        for request in self.deferred:
            self.kernel.schedule_dispatch(self._run_deferred, *request)
        self.deferred = []

    async def _run_deferred(self, stream: Any, ident: Any, parent: Any) -> None:
        """What ipykernel's dispatch_shell does for an execute_request (already parsed)."""
        kernel = self.kernel
        kernel.set_parent(ident, parent, channel="shell")
        kernel._publish_status("busy", "shell")
        if kernel._aborting:
            kernel._send_abort_reply(stream, parent, ident)
        else:
            kernel.pre_handler_hook()
            try:
                await kernel.execute_request(stream, ident, parent)
            finally:
                kernel.post_handler_hook()
        sys.stdout.flush()
        sys.stderr.flush()
        kernel._publish_status("idle", "shell")
        stream.flush()
