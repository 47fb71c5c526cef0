"""The shared file helpers: a lock that never leaks its descriptor, writes that are all or
nothing, a streamed sha256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from colab_wizard.files import (
    COMPLETE_MARK,
    FileLock,
    done_note,
    mark_done,
    replacing,
    sha256_of,
    write_atomic,
)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_task_cancelled_while_waiting_for_a_lock_leaves_no_descriptor_open(
        tmp_path: Path) -> None:
    path = tmp_path / "locks" / "poetry.lock"
    holder = FileLock(path)
    assert holder.try_acquire()

    async def scenario() -> tuple[int, int, int]:
        waiter = FileLock(path)
        before = _open_descriptors()
        task = asyncio.ensure_future(waiter.acquire_async())
        await asyncio.sleep(0.2)  # it has tried, been refused and now waits
        assert not task.done()
        waiting = _open_descriptors()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert waiter.fd is None
        return before, waiting, _open_descriptors()

    before, waiting, after = asyncio.run(scenario())
    holder.release()
    assert waiting == before
    assert after == before


def test_an_async_waiter_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = FileLock(path)
    assert holder.try_acquire()

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, holder.release)
        started = time.monotonic()
        async with FileLock(path) as lock:
            assert lock.fd is not None
            return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert 0.1 <= waited < 0.1 + FileLock.POLL + 1.0
    assert holder.fd is None


def test_a_refused_try_keeps_nothing_open_and_a_release_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.try_acquire()
    before = _open_descriptors()
    assert not second.try_acquire()
    assert second.fd is None and _open_descriptors() == before
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_blocking_lock_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "pythons.lock"
    order: list[str] = []
    holder = FileLock(path)
    holder.acquire()

    def other() -> None:
        with FileLock(path):
            order.append("other")

    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(0.2)
    order.append("holder releases")
    holder.release()
    thread.join(5)
    assert order == ["holder releases", "other"]


def test_another_process_holding_the_lock_refuses_it_here(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    code = ("import sys; from pathlib import Path; from colab_wizard.files import FileLock; "
            "lock = FileLock(Path(sys.argv[1])); assert lock.try_acquire(); print('held', "
            "flush=True); sys.stdin.readline()")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert not FileLock(path).try_acquire()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    lock = FileLock(path)
    assert lock.try_acquire()  # the lock went with the process
    lock.release()


def test_write_atomic_writes_text_bytes_mode_and_time_and_leaves_no_temporary_file(
        tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "né\n")
    assert target.read_text(encoding="utf-8") == "né\n"
    write_atomic(target, b"\x00\x01", mode=0o750, mtime_ns=1_000_000_000_000_000_000)
    assert target.read_bytes() == b"\x00\x01"
    assert target.stat().st_mode & 0o777 == 0o750
    assert target.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(
        tmp_path: Path) -> None:
    target = tmp_path / "kernel.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise RuntimeError("the disk is full, say")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel.json"]
    # The rename itself failing (the name is taken by a folder) also leaves nothing behind.
    folder = tmp_path / "taken"
    folder.mkdir()
    with pytest.raises(OSError):
        write_atomic(folder, "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel.json", "taken"]


def test_sha256_of_a_file_larger_than_a_block_and_a_stop_between_blocks(
        tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 123)
    path = tmp_path / "archive.tar.gz"
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
    seen: list[int] = []

    def stop_after_two() -> None:
        seen.append(1)
        if len(seen) == 2:
            raise InterruptedError("cancelled")

    with pytest.raises(InterruptedError):
        sha256_of(path, stop_after_two)
    assert len(seen) == 2


def test_a_folder_is_done_only_once_its_mark_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "python-3.12"
    folder.mkdir()
    assert done_note(folder) is None
    mark_done(folder, "https://example/python.tar.gz\nabc123\n")
    assert done_note(folder) == "https://example/python.tar.gz\nabc123\n"
    assert (folder / COMPLETE_MARK).is_file()
