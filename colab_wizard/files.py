"""File helpers every module shares: an exclusive lock, an atomic write, a sha256, the
done-mark.

One copy of each, so that a fix (a descriptor closed on cancel, a write that survives a
crash) reaches every place that locks, writes or checks a file.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator, Optional, Union

# Written last into a folder that is built in place (a downloaded Python, Poetry's tool
# environment, uv): a folder without it is half-built and is built again.
COMPLETE_MARK = ".colab_wizard-complete"

BLOCK = 1 << 20


class FileLock:
    """An exclusive ``flock`` on ``path`` (created, with its folder, if missing).

    Use it as ``with`` (blocking; in a worker thread), ``async with`` (polls, so the event
    loop goes on and the waiting task can be cancelled), or :meth:`try_acquire` (never
    waits). The descriptor is open only while the lock is held: a failed, refused or
    cancelled attempt closes it.
    """

    POLL = 0.5  # seconds between tries while another process holds the lock

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: Optional[int] = None

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (and nothing open) if another holder has it.
        An OSError (the folder cannot be written) goes to the caller."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def acquire(self) -> None:
        """Wait for the lock, blocking this thread."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    async def acquire_async(self) -> None:
        """Wait for the lock without blocking the event loop."""
        while not self.try_acquire():
            await asyncio.sleep(self.POLL)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    async def __aenter__(self) -> FileLock:
        await self.acquire_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(path: Path, durable: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it replaces ``path`` in one
    step, so a reader sees the old file or the new one, never a part. On any error the
    temporary file is removed and ``path`` is untouched.

    ``durable`` flushes the new file to the disk before the rename, so a crash right after
    cannot leave an empty file under the old name.
    """
    # A name of its own per writer: two runs (or threads) writing the same file at once
    # must not write into one temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(3)}.tmp")
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: Union[str, bytes], mode: Optional[int] = None,
                 mtime_ns: Optional[int] = None) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` all at once (see :func:`replacing`), with
    the permission bits ``mode`` and the modification time ``mtime_ns`` if given."""
    with replacing(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        if mode is not None:
            os.chmod(tmp, mode)
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))


def sha256_of_stream(handle: IO[bytes],
                     between_blocks: Optional[Callable[[], None]] = None) -> str:
    """The hex sha256 of what ``handle`` reads, a block at a time (any size fits in memory).
    ``between_blocks`` runs on each block read: it may raise to stop (a cancel)."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(BLOCK), b""):
        if between_blocks is not None:
            between_blocks()
        digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path, between_blocks: Optional[Callable[[], None]] = None) -> str:
    """The hex sha256 of the file ``path`` (see :func:`sha256_of_stream`)."""
    with open(path, "rb") as handle:
        return sha256_of_stream(handle, between_blocks)


def mark_done(folder: Path, note: str) -> None:
    """Write ``folder``'s done-mark, last, once everything in it is in place; ``note`` says
    what it was built from (read back by :func:`done_note`)."""
    write_atomic(folder / COMPLETE_MARK, note)


def done_note(folder: Path) -> Optional[str]:
    """The note in ``folder``'s done-mark, or None when there is none (half-built, or never
    built)."""
    try:
        return (folder / COMPLETE_MARK).read_text(encoding="utf-8")
    except OSError:
        return None
