"""A kernel on the Colab-shaped host, driven by a jupyter_client peer that plays Colab's page.

Colab's page is a client of the kernel like any other, with one extra: when the
kernel sends a ``colab_request`` on iopub (``google.colab._message.send_request``),
the page answers with an ``input_reply`` on the stdin channel whose value is
``{"type": "colab_reply", "colab_msg_id": N, "data": ...}`` (or ``"error": ...``),
which ``_message.read_reply_from_input`` picks up. :class:`Page` does that here,
in one of several moods, and clicks widgets the way the page does (a ``comm_msg``).
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any, Optional

from colab_host import Host
from jupyter_client.manager import KernelManager

# For the stand-in google.colab only: the kernel side of the same protocol, written for
# these tests from the description above (the real module is used when the host has it).
PROTOCOL_MESSAGE = '''
import time

import zmq
from IPython import get_ipython


class MessageError(RuntimeError):
    """The page answered with an error."""


_last_id = 0


def blocking_request(request_type, request="", timeout_sec=5, parent=None):
    global _last_id
    _last_id += 1
    kernel = get_ipython().kernel
    msg = kernel.session.msg("colab_request", content={"request": request},
                             metadata={"colab_request_type": request_type,
                                       "colab_msg_id": _last_id})
    kernel.session.send(kernel.iopub_socket, msg)
    deadline = time.time() + timeout_sec if timeout_sec else None
    while deadline is None or time.time() < deadline:
        try:
            _, reply = kernel.session.recv(kernel.stdin_socket, zmq.NOBLOCK)
        except Exception:
            reply = None
        if reply is None:
            time.sleep(0.025)
            continue
        value = reply.get("content", {}).get("value")
        if isinstance(value, dict) and value.get("type") == "colab_reply" \\
                and value.get("colab_msg_id") == _last_id:
            if "error" in value:
                raise MessageError(value["error"])
            return value.get("data")
    return None
'''

STANDIN_SETUP = f"""
import sys, types
import google.colab
_module = types.ModuleType("google.colab._message")
exec(compile({PROTOCOL_MESSAGE!r}, "page_peer.PROTOCOL_MESSAGE", "exec"), _module.__dict__)
sys.modules["google.colab._message"] = google.colab._message = _module
"""


class HostKernel:
    """A kernel started on ``host`` with jupyter_client (its stderr kept in a file)."""

    def __init__(self, host: Host, root: Path, python: Optional[Path] = None,
                 name: str = "colab-host-kernel", **env: str) -> None:
        spec_dir = Path(host.env()["JUPYTER_DATA_DIR"]) / "kernels" / name
        spec_dir.mkdir(parents=True, exist_ok=True)
        argv = host.argv([str(python or host.python), "-m", "colab_kernel_launcher", "-f",
                          "{connection_file}"])
        (spec_dir / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": name, "language": "python"}))
        self.stderr_path = root / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in close()
        self.km = KernelManager(kernel_name=name)
        # Started in a folder of its own (Colab's is /content): a kernel imports from its cwd.
        self.km.start_kernel(env=host.env(**env), stderr=self._stderr, stdout=self._stderr,
                             cwd=str(root))
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 600) -> str:
        """Execute ``code``; its stdout (a failure raises with the traceback)."""
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise AssertionError("".join(out) + "\n".join(errors))
        return "".join(out)

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def close(self) -> None:
        self.client.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._stderr.close()


class Page:
    """Colab's page as far as the kernel can tell: answers ``colab_request``s, clicks."""

    def __init__(self, kernel: HostKernel) -> None:
        self.kernel = kernel
        self.client = kernel.client
        self.requests: list[dict[str, Any]] = []

    def click(self, model_id: str, mood: str, data: Any = None, timeout: float = 120) -> None:
        """Click the button ``model_id``; answer the page requests the click makes with
        ``mood``: "answer" (``data``), "error" (an error reply) or "silent" (no reply)."""
        msg = self.client.session.msg("comm_msg", {
            "comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}})
        self.client.shell_channel.send(msg)
        click_id = msg["header"]["msg_id"]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the kernel never finished handling the click")
            try:
                got = self.client.get_iopub_msg(timeout=min(left, 1))
            except queue.Empty:
                continue
            if got["msg_type"] == "colab_request":
                self.requests.append(got)
                self._answer(got, mood, data)
            elif (got["msg_type"] == "status" and got["content"]["execution_state"] == "idle"
                  and got["parent_header"].get("msg_id") == click_id):
                return

    def _answer(self, request: dict[str, Any], mood: str, data: Any) -> None:
        if mood == "silent":
            return
        value: dict[str, Any] = {"type": "colab_reply",
                                 "colab_msg_id": request["metadata"]["colab_msg_id"]}
        if mood == "error":
            value["error"] = "the notebook is not available"
        else:
            value["data"] = data
        self.client.stdin_channel.send(self.client.session.msg("input_reply",
                                                               {"value": value}))
