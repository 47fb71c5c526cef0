"""A real jupyter_kernel_gateway on the Colab-shaped host, and a small client for it.

Colab's backend starts kernels by name through (its fork of) the kernel gateway and
talks to them over its HTTP + websocket API; a restart goes through the same kernel
manager, so it re-runs the kernelspec argv read at first start. This client does what
the page does: start a kernel by name, execute code over the websocket, restart via
``POST /api/kernels/<id>/restart``, shut down.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import requests
import websocket  # websocket-client
from colab_host import Host


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Result:
    """What one execute request produced."""

    status: str
    stdout: str = ""
    stderr: str = ""
    error: Optional[dict[str, Any]] = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def traceback(self) -> str:
        return "\n".join(self.error.get("traceback", [])) if self.error else ""

    def json_line(self) -> Any:
        """The last line of stdout, parsed as JSON (probes print one)."""
        if self.status != "ok":
            raise AssertionError(f"cell failed: {self.traceback}\n{self.stderr}")
        return json.loads(self.stdout.strip().splitlines()[-1])


class Gateway:
    """A running ``jupyter kernelgateway`` process on ``host``."""

    def __init__(self, host: Host, log: Path, startup: float = 60) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w")  # noqa: SIM115 - closed in close()
        self.log_path = log
        self.proc = host.popen(
            [str(host.python), "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
             f"--KernelGatewayApp.port={self.port}", "--KernelGatewayApp.port_retries=0",
             "--JupyterWebsocketPersonality.list_kernels=True"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + startup
        while True:
            try:
                if requests.get(self.url + "/api", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the kernel gateway did not start:\n" + log.read_text())
            time.sleep(0.3)

    def kernelspecs(self) -> dict[str, Any]:
        reply = requests.get(self.url + "/api/kernelspecs", timeout=30)
        reply.raise_for_status()
        specs: dict[str, Any] = reply.json()["kernelspecs"]
        return specs

    def start_kernel(self, name: str, timeout: float = 120) -> str:
        """Start kernel ``name`` as Colab's backend does; returns the kernel id."""
        reply = requests.post(self.url + "/api/kernels", json={"name": name}, timeout=timeout)
        if not reply.ok:
            raise RuntimeError(f"starting kernel {name!r}: HTTP {reply.status_code} "
                               f"{reply.text}\n{self.log_path.read_text()[-3000:]}")
        kernel_id: str = reply.json()["id"]
        return kernel_id

    def restart(self, kernel_id: str, timeout: float = 120) -> None:
        """Runtime > Restart session: the same manager restarts the same argv."""
        reply = requests.post(f"{self.url}/api/kernels/{kernel_id}/restart", timeout=timeout)
        if not reply.ok:
            raise RuntimeError(f"restart: HTTP {reply.status_code} {reply.text}")

    def shutdown(self, kernel_id: str) -> None:
        requests.delete(f"{self.url}/api/kernels/{kernel_id}", timeout=60)

    def kernel(self, kernel_id: str) -> dict[str, Any]:
        reply = requests.get(f"{self.url}/api/kernels/{kernel_id}", timeout=30)
        reply.raise_for_status()
        info: dict[str, Any] = reply.json()
        return info

    def execute(self, kernel_id: str, code: str, timeout: float = 300) -> Result:
        """Run ``code`` in the kernel over the websocket; collect its output."""
        ws = self._connect(kernel_id, timeout)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps(_message("execute_request", msg_id, {
                "code": code, "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
            })))
            return _collect(ws, msg_id, timeout)
        finally:
            ws.close()

    def wait_ready(self, kernel_id: str, timeout: float = 120) -> None:
        """Until the kernel answers a kernel_info request (after a start or restart)."""
        deadline = time.monotonic() + timeout
        while True:
            ws = self._connect(kernel_id, timeout)
            try:
                msg_id = uuid.uuid4().hex
                ws.send(json.dumps(_message("kernel_info_request", msg_id, {})))
                ws.settimeout(5)
                try:
                    for msg in _messages(ws, deadline):
                        if msg.get("parent_header", {}).get("msg_id") == msg_id and (
                                msg["msg_type"] == "kernel_info_reply"):
                            return
                except websocket.WebSocketTimeoutException:
                    pass
            finally:
                ws.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel {kernel_id} did not answer within {timeout}s")

    def _connect(self, kernel_id: str, timeout: float) -> websocket.WebSocket:
        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels"
        return websocket.create_connection(url, timeout=timeout, suppress_origin=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the gateway shuts its kernels down on SIGTERM
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(msg_type: str, msg_id: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {"msg_id": msg_id, "msg_type": msg_type, "session": uuid.uuid4().hex,
                   "username": "colab", "version": "5.3",
                   "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "parent_header": {}, "metadata": {}, "content": content,
        "channel": "shell", "buffers": [],
    }


def _messages(ws: websocket.WebSocket, deadline: float) -> Iterator[dict[str, Any]]:
    while time.monotonic() < deadline:
        raw = ws.recv()
        if isinstance(raw, str) and raw:
            yield json.loads(raw)
    raise TimeoutError("no reply from the kernel in time")


def _collect(ws: websocket.WebSocket, msg_id: str, timeout: float) -> Result:
    result = Result(status="")
    idle = False
    for msg in _messages(ws, time.monotonic() + timeout):
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg.get("content", {})
        if kind == "stream":
            if content.get("name") == "stdout":
                result.stdout += content.get("text", "")
            else:
                result.stderr += content.get("text", "")
        elif kind == "error":
            result.error = content
        elif kind in ("execute_result", "display_data"):
            result.results.append(content.get("data", {}))
        elif kind == "execute_reply":
            result.status = content.get("status", "")
        elif kind == "status" and content.get("execution_state") == "idle":
            idle = True
        if idle and result.status:
            return result
    return result
