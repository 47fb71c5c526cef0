"""The click driver hands a failed run's exception to the panel exactly once, in both modes."""

from __future__ import annotations

import asyncio

import pytest

from colab_wizard.ui.driver import Driver


async def broken() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("the run broke")


def test_foreground_failure_is_reported_once() -> None:
    seen: list[BaseException] = []
    Driver("foreground", seen.append).start(broken, cancel=lambda: None)
    assert [str(e) for e in seen] == ["the run broke"]


def test_background_failure_is_reported_once() -> None:
    seen: list[BaseException] = []

    async def click() -> None:
        driver = Driver("background", seen.append)
        driver.start(broken, cancel=lambda: None)
        assert driver.task is not None
        with pytest.raises(RuntimeError):
            await driver.task
        await asyncio.sleep(0)  # the done-callback runs on the next turn of the loop

    asyncio.run(click())
    assert [str(e) for e in seen] == ["the run broke"]
