"""Page requests from a click never crash it: get_ipynb answered, refused, or never
answered, each a sentence in the panel with a fallback for a cell; and every click handler
of the panel runs inside the one guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import colab_host
import ipywidgets as w
import nbformat
import pytest
from page_peer import STANDIN_SETUP, HostKernel, Page

from colab_wizard.ui import Panel
from colab_wizard.ui.status import StatusView


def all_widgets(panel: Panel) -> list[w.Widget]:
    """Every widget the panel holds, shown or not (pages not on screen included)."""
    found: dict[int, w.Widget] = {}
    todo: list[Any] = [panel.widget, *panel.pages, *vars(panel).values()]
    while todo:
        item = todo.pop()
        if isinstance(item, w.Widget) and id(item) not in found:
            found[id(item)] = item
            todo += list(getattr(item, "children", ()))
    return list(found.values())


def test_every_button_of_the_panel_runs_in_the_guard(wizard_env: dict[str, Path]) -> None:
    panel = Panel(host="colab", mode="foreground", versions=lambda: [("3.12", "3.12")],
                  check_index=False)
    buttons = [x for x in all_widgets(panel) if isinstance(x, w.Button)]
    assert len(buttons) >= 9
    for button in buttons:
        handlers = button._click_handlers.callbacks
        assert handlers and all(h in panel.clicks.handlers for h in handlers), button.description
    # The status view a switched kernel's show() opens on, too.
    status = StatusView(lambda: w.HTML("wizard"))
    for button in (x for x in vars(status).values() if isinstance(x, w.Button)):
        handlers = button._click_handlers.callbacks
        assert handlers and all(h in status.clicks.handlers for h in handlers)


def test_a_handler_that_raises_becomes_a_sentence(wizard_env: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    panel = Panel(host="jupyter", mode="foreground", versions=lambda: [("3.12", "3.12")],
                  check_index=False)

    def broken() -> None:
        raise RuntimeError("the disk vanished")

    monkeypatch.setattr(panel, "_show_full_log", broken)
    button = w.Button()
    panel.on_click(button, lambda: panel._show_full_log())
    button.click()  # raises nothing
    assert "the disk vanished" in panel.notice.value
    assert panel.notice.layout.display != "none"
    logged = (wizard_env["home"] / "logs" / "panel-errors.log")
    assert "RuntimeError: the disk vanished" in logged.read_text()


# -- a simulated page, with a kernel on the Colab-shaped host ------------------------------

SETUP = colab_host.CELL_BOOTSTRAP + """
import json, sys
from pathlib import Path
from colab_wizard import colab, kernels, paths, pyproject
from colab_wizard.spec import EnvSpec
from colab_wizard.ui import Panel
from colab_wizard.ui.status import StatusView
from colab_wizard.ui.job import Job
colab.PAGE_TIMEOUT = 3  # the "never answers" case waits this long
paths.COLAB_CONTENT = Path({content!r})
spec = EnvSpec.make("3.12", ["tabulate"], name="page-test", project_dir={project!r})
spec.project_dir.mkdir(parents=True)
(spec.project_dir / "pyproject.toml").write_text(pyproject.render(spec))
(spec.project_dir / "poetry.lock").write_text("")
staged = spec.project_dir.parent / "staged"
kernels.write_spec(staged, kernels.kernel_json(spec.name, spec.display_name,
    spec.project_dir / ".venv" / "bin" / "python", spec.project_dir, "3.12"))
kernels.register(staged, spec.name)
panel = Panel(host="colab", mode="foreground", versions=lambda: [("3.12", "3.12")],
              check_index=False, save_dir=Path({cache!r}))
panel.job = Job(spec, None)
"""

STATE = ("print(json.dumps({'copy': panel.done_step.copy_result.value, "
         "'notice': panel.notice.value}))")


@pytest.fixture
def page(colab_vm: colab_host.Host, tmp_path: Path) -> Iterator[tuple[Page, HostKernel]]:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    kernel = HostKernel(colab_vm, tmp_path, COLAB_STANDIN_DOWNLOADS=str(downloads))
    try:
        if not colab_vm.real_colab:
            kernel.run(STANDIN_SETUP)
        content = tmp_path / "content"
        content.mkdir()
        kernel.run(SETUP.format(content=str(content), project=str(tmp_path / "p" / "page-test"),
                                cache=str(tmp_path / "saved")))
        yield Page(kernel), kernel
    finally:
        kernel.close()


def state(kernel: HostKernel) -> dict[str, str]:
    return json.loads(kernel.run(STATE).strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_get_ipynb_answered_refused_or_never_answered(page: tuple[Page, HostKernel],
                                                      tmp_path: Path) -> None:
    peer, kernel = page
    copy_id = json.loads(kernel.run(
        "print(json.dumps({'copy': panel.done_step.copy_notebook.model_id}))"
                                    ).strip())["copy"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["colab"] = {"name": "analysis.ipynb"}
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    notebook = json.loads(nbformat.writes(nb))

    # The page refuses: a sentence and the cell to run instead.
    peer.click(copy_id, "error")
    got = state(kernel)
    assert "refused to hand over this notebook" in got["copy"]
    assert "the notebook is not available" in got["copy"]
    assert "colab_wizard.switch_notebook('page-test')" in got["copy"]

    # The page never answers: blocking_request returns None after the timeout.
    peer.click(copy_id, "silent")
    got = state(kernel)
    assert "did not hand over this notebook within 3 seconds" in got["copy"]
    assert "switch_notebook(" in got["copy"]

    # The page answers, but with something else than a notebook.
    peer.click(copy_id, "answer", data={"unexpected": True})
    assert "answered, but not with a notebook" in state(kernel)["copy"]

    # The page answers: the copy is written and offered.
    peer.click(copy_id, "answer", data={"ipynb": notebook})
    got = state(kernel)
    assert "Downloading analysis (page-test).ipynb" in got["copy"], got
    written = tmp_path / "content" / "analysis (page-test).ipynb"
    assert json.loads(written.read_text())["metadata"]["kernelspec"]["name"] == "page-test"

    assert len(peer.requests) == 4
    assert all(r["metadata"]["colab_request_type"] == "get_ipynb" for r in peer.requests)
    assert got["notice"] == ""  # no handler needed the last-resort guard
    assert "Traceback" not in kernel.stderr() and "Exception in comm_msg" not in kernel.stderr()
