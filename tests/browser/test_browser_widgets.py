"""The browser harness: an ipywidgets Button renders in JupyterLab; clicks reach the kernel."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

BUTTON_CELL = """\
import ipywidgets as widgets
clicks = []
button = widgets.Button(description="Click me")
label = widgets.Label(value="not clicked")
def on_click(_):
    clicks.append(1)
    label.value = f"clicked {len(clicks)} time(s)"
button.on_click(on_click)
button.add_class("harness-button")
display(widgets.VBox([button, label]))
"""
REPORT_CELL = "print('kernel saw', len(clicks), 'ipywidgets', widgets.__version__)"


@pytest.mark.parametrize(("server", "ipywidgets"), [("lab", "8."), ("lab3", "7.7.1")])
def test_button_renders_and_click_reaches_the_kernel(
    server: str, ipywidgets: str, request: pytest.FixtureRequest, page: Any
) -> None:
    """ipywidgets 8 in JupyterLab 4, and Colab's ipywidgets 7.7.1 in JupyterLab 3.6."""
    lab = request.getfixturevalue(server)
    # The second cell reads the kernel's state after the clicks.
    button = lab.first_cell_widget(page, "button.ipynb", [BUTTON_CELL, REPORT_CELL],
                                   ".harness-button")
    output = lab.cell_output(page, 0)
    assert output.get_by_text("not clicked").is_visible()
    button.click()
    output.get_by_text("clicked 1 time(s)").wait_for()
    button.click()
    output.get_by_text("clicked 2 time(s)").wait_for()
    lab.run_cell(page, 1)
    assert f"kernel saw 2 ipywidgets {ipywidgets}" in lab.cell_output(page, 1).inner_text()
