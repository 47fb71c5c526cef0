"""Download, verify and unpack a python-build-standalone ``install_only`` build.

Steps, each safe to interrupt:

1. The archive goes to a cache folder (``COLAB_WIZARD_PYTHON_CACHE``, else
   ``<data dir>/cache/pythons``), apart from the install dir so it can live
   on a Drive folder. A cached archive with the right sha256 is used without
   the network. A download is written to ``<file>.part`` and resumed with a
   Range request after a cut connection (retries with backoff).
2. The sha256 is checked before anything is unpacked.
3. It is unpacked into a scratch folder beside (not inside) the install dir,
   checked to run ``import ssl, sqlite3, venv``, marked complete and then
   renamed into ``paths.pythons_dir()/<build>``: a half-downloaded or
   half-unpacked Python is never where the interpreter search looks.

The mirror (argument, else ``COLAB_WIZARD_PYTHON_MIRROR``) replaces the
download base and is then the only place asked.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time

# What a cancelled executor job raises: stopping is asked for by the caller, not an error.
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Callable, Iterator, Optional

import requests

from . import paths, settings
from .catalog import Build
from .errors import DownloadError as DownloadError  # raised here; tests catch it here
from .files import FileLock, done_note, mark_done, sha256_of
from .procenv import clean_env

CHUNK = 256 * 1024
RETRIES = 5
BACKOFF = 0.5  # seconds, doubled per retry
TIMEOUT = (15.0, 30.0)  # connect, read
CHECK = "import ssl, sqlite3, venv"

Progress = Callable[[int, Optional[int]], None]


def mirror(explicit: Optional[str] = None) -> Optional[str]:
    return explicit or settings.PYTHON_MIRROR.get()


def cache_dir() -> Path:
    explicit = settings.PYTHON_CACHE.get()
    return Path(explicit).expanduser() if explicit else paths.data_dir() / "cache" / "pythons"


def _unpack_dir() -> Path:
    # Beside pythons_dir (same file system, so the final rename is atomic), never inside it.
    return paths.data_dir() / "pythons-unpacking"


def install_dir(build: Build) -> Path:
    return paths.pythons_dir() / build.dir_name


def executable(root: Path, build: Build) -> Path:
    """``<root>/python/bin/python3.X[t]``: where an install_only archive keeps it."""
    return root / "python" / "bin" / f"python{build.short}"


def installed_python(build: Build) -> Optional[Path]:
    target = install_dir(build)
    exe = executable(target, build)
    return exe if done_note(target) is not None and exe.exists() else None


def _sha256(path: Path, cancel: Optional[threading.Event] = None) -> str:
    def stop_if_cancelled() -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError()

    return sha256_of(path, stop_if_cancelled)


def _no_space(path: Path) -> DownloadError:
    return DownloadError(
        f"no space left on the disk holding {path}",
        f"Free some space, or point {settings.PYTHON_CACHE.name} (archives) or "
        f"{settings.HOME.name} (installed Pythons) at a disk with room, then retry.",
    )


class _Meter:
    """Forward-only byte progress: a restarted download does not move the bar back."""

    def __init__(self, progress: Optional[Progress]) -> None:
        self.progress = progress
        self.shown = -1
        self.total: Optional[int] = None

    def __call__(self, done: int) -> None:
        if self.progress is not None and done > self.shown:
            self.shown = done
            self.progress(done, self.total)


def fetch(url: str, dest: Path, sha256: str, progress: Optional[Progress] = None,
          cancel: Optional[threading.Event] = None, label: str = "") -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``) and check its sha256.

    A file already at ``dest`` with the right checksum is used as it is.
    """
    cancel = cancel or threading.Event()
    what = label or url
    if dest.exists():
        if _sha256(dest, cancel) == sha256:
            size = dest.stat().st_size
            if progress:
                progress(size, size)
            return dest
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meter = _Meter(progress)
    resumed = False  # a checksum mismatch after a resume earns one clean download
    attempt = 0
    while True:
        before = meter.shown
        try:
            resumed = _stream(url, part, meter, cancel, what) or resumed
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            # Count only retries that got nowhere: a slow, flaky link still finishes.
            attempt = 1 if meter.shown > before else attempt + 1
            if attempt > RETRIES:
                raise DownloadError(
                    f"could not download {what} from {url} after {RETRIES} retries "
                    f"({_reason(exc)})",
                    "Check the network connection and retry; offline, set "
                    f"{settings.PYTHON_MIRROR.name} (or --python-mirror) to a reachable copy, or "
                    f"put {dest.name} into {dest.parent}.",
                ) from None
            _sleep(BACKOFF * 2 ** (attempt - 1), cancel)
            continue
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                part.unlink(missing_ok=True)
                raise _no_space(dest.parent) from None
            raise
        got = _sha256(part, cancel)
        if got == sha256:
            os.replace(part, dest)
            size = dest.stat().st_size
            if meter.total != size and progress is not None:  # the server sent no length
                progress(size, size)
            return dest
        part.unlink(missing_ok=True)
        if resumed:
            resumed = False
            continue
        raise DownloadError(
            f"checksum mismatch for {what} from {url}: expected sha256 {sha256}, got {got}",
            "The file was damaged or altered on the way; nothing was installed. "
            "Retry, and if it happens again check the mirror (or proxy) serving it.",
        )


def _reason(exc: Exception) -> str:
    """The short cause inside requests' nested message: "Connection refused", "timed out"."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if found:
        return found.group(1).strip()
    text = str(exc)
    return text if 0 < len(text) <= 80 else type(exc).__name__


def _sleep(seconds: float, cancel: threading.Event) -> None:
    if cancel.wait(seconds):
        raise CancelledError()


def _stream(url: str, part: Path, meter: _Meter, cancel: threading.Event, what: str) -> bool:
    """One request: append to ``part`` from where it ends (Range), or start over.

    Returns whether it resumed a partial file.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, stream=True, timeout=TIMEOUT, headers=headers) as response:
        if response.status_code == 416 and have:
            # Asked past the end: the part file is complete, or stale; let the checksum say.
            return True
        if response.status_code == 404:
            raise DownloadError(
                f"{what} is not at {url} (HTTP 404)",
                "The build is not (or no longer) at that address: if a mirror is set, check it "
                "holds <release tag>/<file name> like the upstream downloads; otherwise update "
                "the build list with `pip install -U pbs-installer`, or choose another version.",
            )
        if response.status_code >= 500:  # the server's trouble: worth a retry
            raise requests.ConnectionError(f"HTTP {response.status_code} {response.reason}")
        if response.status_code >= 400:
            raise DownloadError(
                f"downloading {what}: {url} answered HTTP {response.status_code} "
                f"{response.reason}",
                "Retry later, or set a mirror with COLAB_WIZARD_PYTHON_MIRROR.",
            )
        resumed = response.status_code == 206 and have > 0
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        meter.total = have + int(length) if length and length.isdigit() else None
        with open(part, "ab" if resumed else "wb") as out:
            done = have
            meter(done)
            for chunk in response.iter_content(CHUNK):
                if cancel.is_set():
                    raise CancelledError()
                out.write(chunk)
                done += len(chunk)
                meter(done)
        if meter.total is not None and done < meter.total:
            raise requests.exceptions.ChunkedEncodingError(
                f"connection closed after {done} of {meter.total} bytes"
            )
        return resumed


def _safe_members(tf: tarfile.TarFile, into: Path) -> list[tarfile.TarInfo]:
    root = into.resolve()
    members = tf.getmembers()
    for member in members:
        target = (into / member.name).resolve()
        if not str(target).startswith(str(root) + os.sep):
            raise DownloadError(f"the archive has an entry outside its folder: {member.name}",
                                "The archive is not a python-build-standalone build.")
        if member.name.split("/", 1)[0] != "python":
            raise DownloadError(
                f"the archive is not an install_only build (entry {member.name} is not "
                "under python/)", "Use an *-install_only*.tar.gz build.")
    return members


def _unpack(archive: Path, into: Path, cancel: threading.Event) -> None:
    with tarfile.open(archive, "r:gz") as tf:
        members = _safe_members(tf, into)

        def checked() -> Iterator[tarfile.TarInfo]:
            for member in members:
                if cancel.is_set():
                    raise CancelledError()
                yield member

        if hasattr(tarfile, "data_filter"):
            tf.extractall(into, members=checked(), filter="data")
        else:  # Python < 3.9.17 / 3.10.12 / 3.11.4: the paths were checked above
            tf.extractall(into, members=checked())  # noqa: S202


def _check_runs(exe: Path) -> None:
    try:
        out = subprocess.run([str(exe), "-I", "-c", CHECK], capture_output=True, text=True,
                             timeout=60, env=clean_env(), check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DownloadError(f"the unpacked {exe.name} does not start ({exc})",
                            "The build may not fit this system; choose another version.") from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DownloadError(
            f"the unpacked {exe.name} failed `{CHECK}`: {tail[0]}",
            "The build may not fit this system; choose another version.",
        )


def install(build: Build, progress: Optional[Progress] = None,
            cancel: Optional[threading.Event] = None, mirror_url: Optional[str] = None) -> Path:
    """Make ``build`` available under ``paths.pythons_dir()``; return its ``python3.X``.

    Blocking (run it in a thread); ``cancel`` stops it between chunks/members with
    ``concurrent.futures.CancelledError``, leaving at most a resumable ``.part`` archive in
    the cache.
    """
    cancel = cancel or threading.Event()
    done = installed_python(build)
    if done is not None:
        return done
    url = build.url_from(mirror(mirror_url))
    archive = fetch(url, cache_dir() / build.filename, build.sha256, progress, cancel,
                    label=f"Python {build.label}")
    # So two runs never unpack the same build.
    with FileLock(paths.data_dir() / ".pythons.lock"):
        done = installed_python(build)
        if done is not None:  # another run finished it while we waited
            return done
        scratch_root = _unpack_dir()
        scratch_root.mkdir(parents=True, exist_ok=True)
        for stale in scratch_root.iterdir():  # left by a killed run; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=build.dir_name + ".", dir=scratch_root))
        try:
            _unpack(archive, scratch, cancel)
            _check_runs(executable(scratch, build))
            mark_done(scratch, url + "\n" + build.sha256 + "\n")
            target = install_dir(build)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # an incomplete leftover from an older version of this code
                shutil.rmtree(target)
            os.rename(scratch, target)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _no_space(scratch_root) from None
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return executable(install_dir(build), build)


async def install_async(build: Build, progress: Optional[Progress] = None,
                        mirror_url: Optional[str] = None) -> Path:
    """:func:`install` in a worker thread; progress is called on the event loop.

    Cancelling the awaiting task stops the worker and waits for it to clean up
    before re-raising, so nothing half-installed stays behind.
    """
    loop = asyncio.get_running_loop()
    cancel = threading.Event()

    def report(done: int, total: Optional[int]) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress, done, total)

    future = loop.run_in_executor(None, install, build, report, cancel, mirror_url)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancel.set()
        started = time.monotonic()
        while not future.done() and time.monotonic() - started < TIMEOUT[1] + 5:
            await asyncio.wait({future}, timeout=1.0)
        raise
