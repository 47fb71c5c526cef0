"""The wizard's own uv: the newest wheel the index lists for this machine, checked against
the index's sha256 before its binary is unpacked; an index without one, or with a file
that does not match, leaves no uv (the tool environment then falls back to pip)."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Optional

import pytest

from colab_wizard import download, uvtool


def _wheel(folder: Path, version: str, tag: str = "py3-none-any") -> Path:
    path = folder / f"uv-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"uv-{version}.data/scripts/uv", f"#!/bin/sh\necho uv {version}\n")
        archive.writestr(f"uv-{version}.dist-info/METADATA", f"Name: uv\nVersion: {version}\n")
    return path


def _page(root: Path, wheels: list[Path], digest: Optional[str] = None) -> None:
    links = "".join(
        f'<a href="../../files/{w.name}#sha256='
        f'{digest or hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
        for w in wheels)
    (root / "simple" / "uv").mkdir(parents=True, exist_ok=True)
    (root / "simple" / "uv" / "index.html").write_text(f"<html><body>\n{links}</body></html>")


@pytest.fixture
def index_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static simple index on a loopback port: (its folder, its /simple/ URL)."""
    root = tmp_path / "index"
    (root / "files").mkdir(parents=True)
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_takes_the_newest_wheel_for_this_machine(
        wizard_env: dict[str, Path], tmp_path: Path, index_root: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(tmp_path / "home"))
    root, url = index_root
    files = root / "files"
    # Newer, but for another platform; older; and the one to pick.
    wheels = [_wheel(files, "9.0.0", "py3-none-win_amd64"), _wheel(files, "0.1.0"),
              _wheel(files, "0.2.0")]
    _page(root, wheels)
    assert uvtool.fetch(url) == "uv-0.2.0-py3-none-any.whl"
    assert uvtool.ready() and uvtool.kept_wheel() == uvtool.home() / "uv-0.2.0-py3-none-any.whl"
    out = subprocess.run([str(uvtool.binary())], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "uv 0.2.0"


def test_a_wheel_that_does_not_match_its_hash_is_refused(
        wizard_env: dict[str, Path], tmp_path: Path, index_root: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(tmp_path / "home"))
    root, url = index_root
    _page(root, [_wheel(root / "files", "0.2.0")], digest="0" * 64)
    with pytest.raises(download.DownloadError, match="does not match the sha256"):
        uvtool.fetch(url)
    assert not uvtool.ready() and not uvtool.binary().exists()

    (root / "simple" / "uv" / "index.html").write_text("<html><body></body></html>")
    with pytest.raises(download.DownloadError, match="no uv wheel for this platform"):
        uvtool.fetch(url)
    assert not uvtool.ready()
