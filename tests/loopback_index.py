"""A package index on 127.0.0.1 for failure tests: projects of its own, a fixed answer
for everything (a broken index), or the real index for the rest (a redirect)."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import zipfile
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from faultkit import UPSTREAM_INDEX, serve_loopback


class LoopbackIndex:
    """``files`` maps a project name to {file name: bytes}; other projects redirect to the
    real index, unless ``status`` is set, then every request gets that status."""

    def __init__(self, files: Optional[dict[str, dict[str, bytes]]] = None,
                 status: Optional[int] = None) -> None:
        index = self
        self.files = files or {}
        self.status = status
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                index.requests.append(self.path)
                if index.status is not None:
                    self.send_error(index.status)
                    return
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                if len(parts) == 2 and parts[0] == "simple" and parts[1] in index.files:
                    links = "".join(
                        f'<a href="/files/{name}#sha256={hashlib.sha256(data).hexdigest()}">'
                        f"{name}</a><br>" for name, data in index.files[parts[1]].items())
                    self._send(f"<html><body>{links}</body></html>".encode(), "text/html")
                elif len(parts) == 2 and parts[0] == "files":
                    for project in index.files.values():
                        if parts[1] in project:
                            self._send(project[parts[1]], "application/octet-stream")
                            return
                    self.send_error(404)
                elif parts and parts[0] == "simple":
                    self.send_response(307)
                    self.send_header("Location", UPSTREAM_INDEX + "/".join(parts[1:]) + "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_error(404)

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server, self.url = serve_loopback(Handler)
        self.index_url = self.url + "simple/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LoopbackIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wheel(name: str, version: str, tag: str) -> tuple[str, bytes]:
    """A minimal valid wheel (one module) for the given tag, e.g. ``cp39-cp39-manylinux...``."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                          f"Tag: {tag}\n").encode(),
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{name}-{version}-{tag}.whl", buffer.getvalue()


def sdist(name: str, version: str, files: dict[str, str]) -> tuple[str, bytes]:
    """A source distribution with ``files`` beside a PKG-INFO, built with setuptools."""
    top = f"{name}-{version}"
    content = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": ('[build-system]\nrequires = ["setuptools"]\n'
                           'build-backend = "setuptools.build_meta"\n'),
        **files,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in content.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return f"{top}.tar.gz", buffer.getvalue()
