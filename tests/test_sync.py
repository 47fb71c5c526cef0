"""``run_sync``: a coroutine run to completion from sync code, also inside a running loop
(a notebook cell) -- in this process and in a real kernel, interrupt button included."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from faultkit import alive
from jupyter_client.manager import KernelManager

from colab_wizard import api
from colab_wizard.spec import SpecError
from colab_wizard.sync import blocking, run_sync, running_loop


async def child_says(text: str) -> tuple[str, int]:
    """A real subprocess through asyncio (needs a working child watcher on the private loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"print({text!r})", stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    return out.decode().strip(), threading.get_ident()


def test_without_a_loop_result_and_exception() -> None:
    assert run_sync(child_says("plain"))[0] == "plain"

    async def fails() -> None:
        raise ValueError("from the coroutine")

    with pytest.raises(ValueError, match="from the coroutine"):
        run_sync(fails())
    with pytest.raises(RuntimeError):  # no loop is left behind as "running"
        asyncio.get_running_loop()


def test_inside_a_running_loop_same_thread_and_the_loop_is_given_back() -> None:
    async def cell() -> tuple[str, int]:
        outer = asyncio.get_running_loop()
        said = run_sync(child_says("nested"))
        assert asyncio.get_running_loop() is outer
        await asyncio.sleep(0.01)  # the outer loop still runs tasks afterwards
        return said

    loop = asyncio.new_event_loop()  # like a kernel's: no SIGINT handler of asyncio.run's
    try:
        said, thread = loop.run_until_complete(cell())
    finally:
        loop.close()
    assert said == "nested"
    # The interrupt button and widget updates only reach the main thread.
    assert thread == threading.get_ident()


async def echo_async(text: str, times: int = 1) -> str:
    """Says ``text`` ``times`` times, through a real child process."""
    said, _ = await child_says(text * times)
    return said


def test_blocking_twin_same_arguments_with_and_without_a_loop() -> None:
    echo = blocking(echo_async)
    assert echo.__name__ == "echo"
    assert inspect.signature(echo) == inspect.signature(echo_async)
    assert "Blocking :func:`echo_async`" in (echo.__doc__ or "")
    assert echo("ab", times=2) == "abab"

    async def cell() -> str:
        return echo("cd", 3)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(cell()) == "cdcdcd"
    finally:
        loop.close()


def test_create_inside_a_running_loop_validates_first(wizard_env: dict[str, Path]) -> None:
    async def cell() -> None:
        api.create("2.7", [], name="old")

    with pytest.raises(SpecError) as info:
        asyncio.new_event_loop().run_until_complete(cell())
    assert info.value.field == "python"


# -- in a real kernel -------------------------------------------------------------------

SLEEPER = """
import asyncio, os, sys, time
from pathlib import Path
from colab_wizard.runner import Runner, Stage
from colab_wizard.sync import run_sync

async def sleep_long(ctx):
    await ctx.run([sys.executable, "-c",
                   "import os, time; open({pidfile!r}, 'w').write(str(os.getpid())); "
                   "time.sleep(300)"])

runner = Runner([Stage("sleep", "Sleep", 1, sleep_long)], Path({log!r}))
started = time.monotonic()
try:
    print("outcome", run_sync(runner.run()))
except KeyboardInterrupt:
    print("interrupted")
print("seconds", round(time.monotonic() - started))
"""


@pytest.fixture
def kernel(wizard_env: dict[str, Path]) -> Iterator[tuple[Any, Any]]:
    """A kernel of the Python running the tests (it imports this tree's colab_wizard)."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield km, client
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def run_cell(client: Any, code: str, timeout: float = 60) -> str:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")

    reply = client.execute_interactive(code, timeout=timeout, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def test_in_a_kernel_cell_and_its_interrupt_button(kernel: tuple[Any, Any],
                                                   tmp_path: Path) -> None:
    km, client = kernel
    out = run_cell(client,
                   "import asyncio, subprocess, sys, threading\n"
                   "from colab_wizard.sync import run_sync\n"
                   "async def child():\n"
                   "    p = await asyncio.create_subprocess_exec(sys.executable, '-c',\n"
                   "        'print(6 * 7)', stdout=subprocess.PIPE)\n"
                   "    return (await p.communicate())[0].decode().strip()\n"
                   "kernel_loop = asyncio.get_event_loop()\n"
                   "print(kernel_loop.is_running(), run_sync(child()),\n"
                   "      threading.current_thread() is threading.main_thread())\n")
    assert out.split() == ["True", "42", "True"]

    # The stop button while a run's child sleeps: the run is cancelled, the child killed.
    pidfile = tmp_path / "child.pid"
    msg_id = client.execute(SLEEPER.format(pidfile=str(pidfile), log=str(tmp_path / "run.log")))
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline, "the run's child never started"
        time.sleep(0.1)
    child = int(pidfile.read_text())
    km.interrupt_kernel()
    out_lines: list[str] = []
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out_lines.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    text = "".join(out_lines)
    assert "outcome cancelled" in text, text
    seconds = int(text.split("seconds")[1].split()[0])
    assert seconds < 30  # not the child's 300 s
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)

    # The kernel's own loop is back: top-level await works in the next cell.
    assert run_cell(client, "await asyncio.sleep(0.01)\nprint('loop back')").strip() == (
        "loop back")


def test_running_loop_is_the_loop_of_this_thread_or_none() -> None:
    assert running_loop() is None

    async def inside() -> bool:
        return running_loop() is asyncio.get_running_loop()

    assert asyncio.run(inside())
