"""An index that needs a password: it is used, and it never lands in a file.

A loopback proxy in front of the real index asks for HTTP basic auth on every page and
file. ``PIP_INDEX_URL=http://alice:PASSWORD@127.0.0.1:PORT/simple/``, as a new user would
set it; then a build, a save and a notebook copy, and no file under the project, the
logs, the saved folder or the notebook holds the password.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import requests

from colab_wizard import freshvm, index, notebook, paths
from colab_wizard.api import create

USER = "alice"
PASSWORD = "s3cret-Pa55w0rd"


class AuthProxy(ThreadingHTTPServer):
    """``/simple/<name>/`` from the upstream index, its file links pointed at ``/files/``;
    both only with the right ``Authorization`` header."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.authed: list[str] = []
        self.refused: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/simple/"


class _Handler(BaseHTTPRequestHandler):
    server: AuthProxy
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        """uv asks first whether a file serves ranges: it does not (no Accept-Ranges)."""
        if self._authorized():
            self.send_response(200 if self.path.startswith(("/simple/", "/files/")) else 404)
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if not self._authorized():
            return
        if self.path.startswith("/simple/"):
            got = requests.get(self.server.upstream + self.path[len("/simple/"):],
                               headers={"Accept": "text/html"}, timeout=60)
            body = re.sub(r'href="https?://([^/"]+)/', r'href="/files/\1/', got.text).encode()
            self._reply(got.status_code, "text/html", body)
        elif self.path.startswith("/files/"):
            got = requests.get("https://" + self.path[len("/files/"):], timeout=120)
            self._reply(got.status_code, "application/octet-stream", got.content)
        else:
            self._reply(404, "text/plain", b"")

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != self.expected:
            self.server.refused.append(self.path)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test index"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        self.server.authed.append(self.path)
        return True

    def _reply(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def auth_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthProxy]:
    monkeypatch.delenv("COLAB_WIZARD_INDEX_URL", raising=False)
    server = AuthProxy(index.resolve_index_url())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _files_holding(root: Path, secret: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
            and secret in p.read_bytes()]


def test_split_credentials_keeps_the_rest_of_the_url() -> None:
    assert index.split_credentials("https://a%40b:p%3Aw@host:8443/simple/") == (
        "https://host:8443/simple/", ("a@b", "p:w"))
    assert index.split_credentials("https://host/simple/") == ("https://host/simple/", None)


@pytest.mark.slow
def test_password_is_used_but_never_written(wizard_env: dict[str, Path], other_python: str,
                                            tmp_path: Path, auth_proxy: AuthProxy,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    public = auth_proxy.url
    monkeypatch.setenv("PIP_INDEX_URL", public.replace("//", f"//{USER}:{PASSWORD}@", 1))
    project = wizard_env["projects"] / "authed"
    create(other_python, ["six"], name="authed", project_dir=project)
    # The index was asked, with the password, for the pages and files the lock needed.
    assert "/simple/six/" in auth_proxy.authed
    assert any(p.startswith("/files/") and "six-" in p for p in auth_proxy.authed)
    assert f'url = "{public}"' in (project / "pyproject.toml").read_text()

    spec, profile, _ = freshvm.spec_of("authed")
    assert spec.index_url == public and spec.index_auth == (USER, PASSWORD)
    assert PASSWORD not in repr(spec)
    drive = tmp_path / "drive"
    saved = freshvm.save(drive, "authed")
    assert saved.wheels > 0
    copy = notebook.switched({"cells": [], "metadata": {}}, spec,
                             notebook.restore_source(spec, drive, profile))

    secret = PASSWORD.encode()
    assert secret not in json.dumps(copy).encode()
    for root in (project, paths.logs_dir(), drive, wizard_env["poetry_config"]):
        assert _files_holding(root, secret) == [], root
