"""The panel inside a real IPython kernel (jupyter_client), counting what reaches the page.

Every widget update the browser would get is an iopub ``comm_msg``; this test
counts them while a stage prints 100 000 lines, in both driving modes, under
whichever ipywidgets the running Python has (8.x here, 7.7.1 in run.sh's venv).
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from jupyter_client.manager import KernelManager

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

SETUP = """
import sys, json
sys.path[:0] = [{tests!r}, {root!r}]
from pathlib import Path
from ui_plans import chatty, quick_plan
from colab_wizard.ui import Panel
p = Panel(mode={mode!r}, host="jupyter", versions=lambda: [("3.12", "3.12")], check_index=False,
          plan_factory=quick_plan(Path({marks!r}), middle=chatty({lines})))
p.next.click()
p.deps_step.requirements.value = "tabulate"
"""


@pytest.fixture
def km_holder(wizard_env: dict[str, Path]) -> Iterator[Any]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(km_holder: Any) -> Iterator[Any]:
    """A kernel of the Python running the tests (its own ipywidgets and ipykernel)."""
    client = km_holder.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield client
    finally:
        client.stop_channels()


def execute(client: Any, code: str, messages: list[dict[str, Any]], timeout: float = 120
            ) -> str:
    """Run ``code``; collect every iopub message until the kernel is idle; return stdout."""
    msg_id = client.execute(code)
    out = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no idle after {timeout}s; stdout so far: {''.join(out)}"
                                 ) from None
        messages.append(msg)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


@pytest.mark.parametrize("mode", ["foreground", "background"])
def test_100k_lines_reach_the_page_as_a_bounded_number_of_messages(
        kernel: Any, tmp_path: Path, mode: str) -> None:
    setup: list[dict[str, Any]] = []
    import ipywidgets

    version = execute(kernel, "import ipywidgets; print(ipywidgets.__version__)", setup)
    assert version.strip() == ipywidgets.__version__  # the kernel runs our widget stack
    execute(kernel, SETUP.format(tests=str(TESTS), root=str(ROOT), mode=mode,
                                 marks=str(tmp_path / "marks"), lines=100_000), setup)
    run: list[dict[str, Any]] = []
    started = time.monotonic()
    execute(kernel, "p.install_button.click()", run)
    report = ""
    while time.monotonic() - started < 120:
        report = execute(kernel, "print(json.dumps([p.install.outcome, p.renders]))", run)
        if json.loads(report)[0] != "running":
            break
        time.sleep(0.2)
    seconds = time.monotonic() - started
    outcome, renders = json.loads(report)
    assert outcome == "done"
    updates = [m for m in run if m["msg_type"] == "comm_msg"
               and m["content"]["data"].get("method") == "update"]
    tail = execute(kernel, "print(p.install_step.log.value.splitlines()[-1])", [])
    assert tail.strip() == "registered"
    print(f"\n{mode}: 100k lines in {seconds:.1f}s: {renders} redraws, "
          f"{len(updates)} comm update messages")
    assert renders <= seconds * 10 + 20
    assert len(updates) <= renders * 12 + 40
    assert len(updates) < 1500


def test_foreground_run_is_cancelled_by_the_interrupt_button(kernel: Any, km_holder: Any,
                                                             tmp_path: Path) -> None:
    """Colab's mode: the run holds the cell; the kernel interrupt cancels it and kills its
    processes, and the panel says so."""
    pid_file = tmp_path / "pid"
    setup = SETUP.replace("middle=chatty({lines})", "middle=sleeper(Path({pid!r}))").replace(
        "import chatty, quick_plan", "import quick_plan, sleeper")
    execute(kernel, setup.format(tests=str(TESTS), root=str(ROOT), mode="foreground",
                                 marks=str(tmp_path / "marks"), pid=str(pid_file)), [])
    msg_id = kernel.execute("p.install_button.click()\nprint('after', p.install.outcome)")
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    km_holder.interrupt_kernel()
    reply = kernel.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:  # replies to the setup cells
        reply = kernel.get_shell_msg(timeout=30)
    assert time.monotonic() - started < 10
    report = execute(kernel, "print(json.dumps([p.install.outcome, "
                             "p.install_step.row_views['middle'].icon.value, "
                             "p.install_step.status.value]))", [])
    outcome, icon, status = json.loads(report)
    assert outcome == "cancelled" and icon == "\u25a0" and status.startswith("Cancelled")
    pid = int(pid_file.read_text())
    try:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().split()[2] == "Z"
    except FileNotFoundError:
        pass


def _click(client: Any, model_id: str) -> None:
    """What the page sends when a Button is clicked: a comm_msg on the shell channel."""
    msg = client.session.msg("comm_msg", {"comm_id": model_id, "data": {
        "method": "custom", "content": {"event": "click"}}})
    client.shell_channel.send(msg)


def _outputs_until_idle(client: Any, msg_id: str, timeout: float = 30) -> dict[str, str]:
    """Stdout per request, from the iopub messages up to ``msg_id``'s idle status."""
    out: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id", "")
        if msg["msg_type"] == "stream":
            out[parent] = out.get(parent, "") + msg["content"]["text"]
        elif (parent == msg_id and msg["msg_type"] == "status"
              and msg["content"]["execution_state"] == "idle" and parent in out):
            return out


def _reply_to(client: Any, msg_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return dict(reply)


def test_foreground_run_is_cancelled_by_the_panels_cancel_button(kernel: Any,
                                                                 tmp_path: Path) -> None:
    """Colab's mode with Colab's ipykernel: the Install click holds the kernel, yet a click
    on Cancel is handled at once and kills the stage's process; a cell run meanwhile runs
    after the install, not inside it."""
    import ipykernel

    if int(ipykernel.__version__.split(".")[0]) >= 7:
        pytest.skip("ipykernel 7 has no do_one_iteration: the interrupt button cancels there "
                    "(run.sh runs this file under Colab's ipykernel 6.17.1)")
    pid_file = tmp_path / "pid"
    setup = SETUP.replace("middle=chatty({lines})", "middle=sleeper(Path({pid!r}))").replace(
        "import chatty, quick_plan", "import quick_plan, sleeper")
    execute(kernel, setup.format(tests=str(TESTS), root=str(ROOT), mode="foreground",
                                 marks=str(tmp_path / "marks"), pid=str(pid_file)), [])
    cancel_id = execute(kernel, "print(p.install_step.cancel.model_id)", []).strip()
    run_id = kernel.execute("p.install_button.click()\n"
                            "print('after', p.install.outcome, "
                            "p.install_step.cancel.layout.display)")
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    later_id = kernel.execute("print('later cell ran', p.install.outcome)")
    time.sleep(0.3)
    started = time.monotonic()
    _click(kernel, cancel_id)
    reply = _reply_to(kernel, run_id)
    assert reply["content"]["status"] == "ok"
    assert time.monotonic() - started < 10  # not the sleeper's 60 s
    assert _reply_to(kernel, later_id)["content"]["status"] == "ok"
    printed = _outputs_until_idle(kernel, later_id)
    assert printed[run_id].split() == ["after", "cancelled", "none"]
    assert printed[later_id].split() == ["later", "cell", "ran", "cancelled"]
    report = execute(kernel, "print(json.dumps([p.install.outcome, p.install_step.status.value, "
                             "p.install_step.row_views['middle'].icon.value, "
                             "p.driver.pump is None]))", [])
    outcome, status, icon, detached = json.loads(report)
    assert outcome == "cancelled" and status.startswith("Cancelled") and icon == "\u25a0"
    assert detached
    try:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().split()[2] == "Z"
    except FileNotFoundError:
        pass
