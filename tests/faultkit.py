"""Tools for the fault tests: a loopback index proxy that can die or cut downloads,
process accounting through /proc, and a real start of a registered kernel."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Collection

UPSTREAM_INDEX = "https://pypi.org/simple/"
UPSTREAM_FILES = "https://files.pythonhosted.org/"


def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """An HTTP server on a free 127.0.0.1 port, served from a daemon thread; and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class IndexProxy:
    """A simple-API index on 127.0.0.1 that forwards to PyPI and serves files through itself.

    ``die()`` closes the listening socket (every later connection is refused);
    ``cut_downloads = True`` sends half of each file and then drops the connection.
    """

    def __init__(self) -> None:
        proxy = self
        self.cut_downloads = False
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                proxy.requests.append(self.path)
                if self.path.startswith("/simple/"):
                    upstream = UPSTREAM_INDEX + self.path[len("/simple/"):]
                elif self.path.startswith("/files/"):
                    upstream = UPSTREAM_FILES + self.path[len("/files/"):]
                else:
                    self.send_error(404)
                    return
                headers = {"Accept": self.headers.get("Accept", "*/*"),
                           "User-Agent": "colab-wizard-test-proxy"}
                try:
                    with urllib.request.urlopen(urllib.request.Request(upstream, headers=headers),
                                                timeout=60) as reply:
                        body = reply.read()
                        kind = reply.headers.get("Content-Type", "application/octet-stream")
                except urllib.error.HTTPError as exc:
                    self.send_error(exc.code)
                    return
                if self.path.startswith("/simple/"):
                    body = body.replace(UPSTREAM_FILES.encode(), f"{proxy.url}files/".encode())
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if proxy.cut_downloads and self.path.startswith("/files/") \
                        and not self.path.endswith(".metadata"):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.server, self.url = serve_loopback(Handler)
        self.index_url = self.url + "simple/"
        self.dead = False

    def die(self) -> None:
        if not self.dead:
            self.dead = True
            self.server.shutdown()
            self.server.server_close()

    def downloads(self) -> list[str]:
        return [p for p in self.requests if p.startswith("/files/") and
                not p.endswith(".metadata")]


# -- processes ------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _all_processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) for every process we can see."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        cmdline = _read(f"/proc/{entry}/cmdline").replace("\0", " ").strip()
        found[int(entry)] = (int(fields[1]), fields[0], cmdline)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie waiting for its parent counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def descendants() -> set[int]:
    """Every process below this one now (a session's Jupyter server, say)."""
    table = _all_processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    result: set[int] = set()
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        result.add(pid)
        todo += children.get(pid, [])
    return result


def stray_processes(markers: tuple[str, ...] = (), ignore: Collection[int] = ()) -> list[str]:
    """Descendants of this process, and any process whose command line names a marker,
    except the ``ignore``d ones (those that were there before the test)."""
    table = _all_processes()
    me = os.getpid()
    found = descendants()
    found |= {pid for pid, (_, _, cmdline) in table.items()
              if pid != me and any(m and m in cmdline for m in markers)}
    return [f"{pid} [{table[pid][1]}] {table[pid][2][:200]}"
            for pid in sorted(found - set(ignore)) if pid in table]


def wait_no_strays(markers: tuple[str, ...] = (), grace: float = 8.0,
                   ignore: Collection[int] = ()) -> list[str]:
    """Stray processes still there after ``grace`` seconds (an orphaned kernel gets ~1 s)."""
    deadline = time.monotonic() + grace
    while True:
        left = stray_processes(markers, ignore)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


# -- kernels --------------------------------------------------------------------------


def run_in_kernel(name: str, code: str, timeout: float = 60.0) -> str:
    """Start the registered kernel ``name`` with jupyter_client, run ``code``, return stdout."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=name)
    km.start_kernel()
    out: list[str] = []
    try:
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)

            def hook(msg: dict[str, Any]) -> None:
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    content = msg["content"]
                    out.append(f"ERROR {content['ename']}: {content['evalue']}")

            reply = client.execute_interactive(code, timeout=timeout, output_hook=hook)
            assert reply["content"]["status"] == "ok", "".join(out)
        finally:
            client.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    return "".join(out).strip()


def snapshot_kernel(kernels_dir: Path, name: str) -> dict[str, bytes]:
    folder = kernels_dir / name
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def copy_kernel(source: Path, kernels_dir: Path) -> Path:
    kernels_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(source, kernels_dir / source.name))


def leftovers(kernels_dir: Path, name: str) -> list[str]:
    """Temporary folders a half-done registration would leave next to the kernel."""
    return sorted(p.name for p in kernels_dir.glob(f".{name}.*"))



# -- a live project (kernel, project files, venv), judged byte for byte --------------------


def snapshot_project(project: Path) -> dict[str, object]:
    """The project files' bytes, where ``.venv`` leads, and every file of the venv behind it
    (path, mode, bytes' digest): what a failed re-build must leave exactly as it was."""
    found: dict[str, object] = {}
    for name in ("pyproject.toml", "poetry.lock", "poetry.toml"):
        path = project / name
        found[name] = path.read_bytes() if path.exists() else None
    link = project / ".venv"
    found[".venv"] = os.readlink(link) if link.is_symlink() else "dir" if link.is_dir() else None
    venv = link.resolve()
    for path in sorted(venv.rglob("*")):
        if "__pycache__" in path.parts:
            continue  # a kernel start may add bytecode; it is not part of the env
        key = str(path.relative_to(venv))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def fill_disk(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` up, leaving about ``leave`` bytes free."""
    spare = folder / ".spare"
    filler = folder / ".filler"
    spare.write_bytes(b"\0" * leave)
    try:
        with open(filler, "wb") as handle:
            while True:
                handle.write(b"\0" * (1 << 20))
    except OSError:
        pass
    try:
        with open(filler, "ab") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:
        pass
    spare.unlink()
    return filler
