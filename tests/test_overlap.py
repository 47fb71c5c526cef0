"""Work run beside a stage's own command (plan.alongside): finished after a success,
stopped after a failure or a cancel, its failure never the stage's."""

from __future__ import annotations

import asyncio

import pytest

from colab_wizard.plan import alongside


async def _slow(done: list[str], seconds: float) -> None:
    try:
        await asyncio.sleep(seconds)
        done.append("finished")
    except asyncio.CancelledError:
        done.append("stopped")
        raise


async def _fails() -> None:
    await asyncio.sleep(0.01)
    raise RuntimeError("beside failed")


def test_work_beside_is_awaited_to_its_end_after_a_success() -> None:
    done: list[str] = []

    async def main() -> str:
        await asyncio.sleep(0.01)
        return "locked"

    assert asyncio.run(alongside(main(), _slow(done, 0.2))) == "locked"
    assert done == ["finished"]


def test_a_failure_beside_is_not_the_stage_s() -> None:
    async def main() -> str:
        await asyncio.sleep(0.05)
        return "locked"

    assert asyncio.run(alongside(main(), _fails())) == "locked"


def test_work_beside_is_stopped_when_the_stage_fails() -> None:
    done: list[str] = []

    async def main() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("lock failed")

    with pytest.raises(ValueError, match="lock failed"):
        asyncio.run(alongside(main(), _slow(done, 30)))
    assert done == ["stopped"]


def test_work_beside_is_stopped_when_the_stage_is_cancelled() -> None:
    done: list[str] = []

    async def run() -> None:
        task = asyncio.ensure_future(alongside(asyncio.sleep(30), _slow(done, 30)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert done == ["stopped"]
