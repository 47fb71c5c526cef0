"""The Dependencies step's "Use a project folder or repository" in a real browser: the
issue's own project adopted through the panel, with the README's screenshot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import adopt_project  # noqa: E402
from conftest import Shoot  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOW_CELL = "from colab_wizard import show\nshow()"
INSTALL_TIMEOUT = 300_000


def test_adopt_a_project_folder_from_the_panel(lab: Any, page: Any, tmp_path: Path,
                                               shoot: Shoot) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    user_files = {n: (folder / n).read_text() for n in ("pyproject.toml", "poetry.toml")}
    panel = lab.first_cell_widget(page, "adopt.ipynb", [SHOW_CELL], ".cw-panel")
    panel.locator(".cw-step-python").wait_for(state="visible")
    panel.locator(".cw-next").click()
    panel.locator(".cw-step-deps").wait_for(state="visible")

    panel.locator(".cw-deps-choice").get_by_text("Use a project folder or repository").click()
    panel.locator(".cw-adopt-box").wait_for(state="visible")
    assert not panel.locator(".cw-requirements").is_visible()
    field = panel.locator(".cw-adopt-source input")
    field.fill(str(folder))
    field.press("Enter")
    panel.locator(".cw-adopt-check").click()
    summary = panel.locator(".cw-adopt-summary")
    summary.get_by_text("colab-wizard", exact=False).wait_for(state="visible")
    text = summary.inner_text()
    assert "myproj" in text and "in-project = true" in text, text
    page.mouse.move(0, 0)
    shoot(panel, "step2-adopt.png")
    # Checking wrote nothing.
    assert {n: (folder / n).read_text() for n in user_files} == user_files

    panel.locator(".cw-install").click()
    done = panel.locator(".cw-step-done")
    done.or_(panel.locator(".cw-error")).first.wait_for(state="visible",
                                                         timeout=INSTALL_TIMEOUT)
    assert done.is_visible(), panel.inner_text()
    assert "myproj" in panel.locator(".cw-done-summary").inner_text()
    assert "myproj" in lab.api("/api/kernelspecs")["kernelspecs"]
    for name, original in user_files.items():
        now = (folder / name).read_text().splitlines()
        assert all(line in now for line in original.splitlines()), name
