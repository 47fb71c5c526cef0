"""The panel, driven headless the way a person drives it: set .value, call .click().

Every run goes through the engine's Runner with real subprocesses (a quick plan
of ``python -c`` stages, or the real plan in the slow test); no widget is mocked.
Runs under ipywidgets 8 and, via tests/run.sh, 7.7.1.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import ipywidgets
import pytest
from faultkit import alive
from ui_plans import chatty, fail_unless, quick_plan, sleeper

from colab_wizard import api, kernels, ui
from colab_wizard.ui import Panel, model

VERSIONS = [("3.13 \u2014 installed here", "3.13"), ("3.12 \u2014 installed here", "3.12")]


def make_panel(plan: Any = None, mode: str = "background", **kw: Any) -> Panel:
    kw.setdefault("check_index", False)
    return Panel(mode=mode, plan_factory=plan, versions=lambda: list(VERSIONS), host="jupyter",
                 **kw)


def click(panel: Panel, button: ipywidgets.Button) -> None:
    """Click as the kernel would: inside its running loop; wait for a background run."""
    if panel.mode == "foreground":
        button.click()
        return

    async def go() -> None:
        button.click()
        task = panel.driver.task
        if task is not None:
            await asyncio.wait([task], timeout=120)  # its exception is the panel's to show
        await asyncio.sleep(0)

    asyncio.run(go())


def to_dependencies(panel: Panel, text: str) -> None:
    panel.next.click()
    assert panel.state.step == 1
    panel.deps_step.requirements.value = text


def visible(widget: ipywidgets.Widget) -> bool:
    return widget.layout.display != "none"




@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    ui.LAST_STATE = None
    yield
    ui.LAST_STATE = None


@pytest.mark.parametrize("mode", ["background", "foreground"])
def test_full_run_reaches_done(wizard_env: dict[str, Path], tmp_path: Path, mode: str) -> None:
    panel = make_panel(quick_plan(tmp_path / "marks"), mode=mode)
    assert panel.python_step.version.value == "3.13" or panel.python_step.version.value == "3.12"
    panel.python_step.display_name.value = "My Data Kernel"
    assert panel.python_step.kernel_name.value == "my-data-kernel"  # derived live
    to_dependencies(panel, "# tables\ntabulate>=0.9  # pretty output\n")
    assert panel.deps_step.deps_error.value == "" and not panel.install_button.disabled
    click(panel, panel.install_button)

    assert panel.install.outcome == "done", panel.install_step.banner.value
    assert panel.state.step == 3 and panel.body.children == (panel.done_step.page,)
    rows = panel.install_step.row_views
    assert list(rows) == ["python", "install", "register"]
    assert all(v.icon.value == "\u2714" and v.bar.value == 100 for v in rows.values())
    assert panel.install_step.overall.value == 100
    assert "my-data-kernel" in panel.done_step.done_summary.value
    assert "Kernel \u203a Change Kernel" in panel.done_step.switch.value
    log = panel.install.log_path
    assert log is not None and log.is_file() and str(log) in panel.install_step.log_path.value
    assert "Installing gamma" in log.read_text()
    assert "registered" in panel.install_step.log.value  # the tail shows the last lines


def test_invalid_input_blocks_next_with_the_reason(wizard_env: dict[str, Path]) -> None:
    panel = make_panel()
    panel.python_step.kernel_name.value = "Bad Name"
    assert "not a valid kernel name" in panel.python_step.python_error.value
    assert panel.next.disabled
    panel.next.click()
    assert panel.state.step == 0
    panel.python_step.kernel_name.value = "python3"
    assert "built-in kernel" in panel.python_step.python_error.value
    panel.python_step.kernel_name.value = "good-name"
    assert panel.python_step.python_error.value == "" and not panel.next.disabled

    to_dependencies(panel, "numpy>=1.26\nnot valid here!\n\npandas\nnumpy\n")
    error = panel.deps_step.deps_error.value
    assert "Line 2:" in error and "not a valid requirement" in error
    assert "Line 5:" in error and "listed twice" in error
    assert panel.install_button.disabled
    panel.install_button.click()
    assert panel.state.step == 1 and panel.job is None

    panel.deps_step.requirements.value = "[project\nname = 1\n"
    assert "line 1, column" in panel.deps_step.deps_error.value
    assert panel.install_button.disabled

    panel.deps_step.requirements.value = "numpy>=1.26\npandas\n"
    assert panel.deps_step.deps_error.value == "" and not panel.install_button.disabled


def test_a_foreign_kernel_name_is_refused_before_anything_runs(wizard_env: dict[str, Path]
                                                              ) -> None:
    foreign = wizard_env["jupyter"] / "kernels" / "taken"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text('{"argv": ["python3"], "display_name": "Not ours",'
                                         ' "language": "python"}')
    panel = make_panel(quick_plan(wizard_env["home"] / "marks"))
    panel.python_step.kernel_name.value = "taken"
    to_dependencies(panel, "tabulate")
    panel.install_button.click()
    assert panel.job is None and panel.state.step == 0
    assert "already exists" in panel.python_step.python_error.value and panel.next.disabled
    panel.python_step.kernel_name.value = "free-name"
    assert not panel.next.disabled


def test_replacing_another_kernel_of_ours_needs_the_confirm(wizard_env: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """The name of a kernel of ours built for another folder: the panel says what would be
    replaced and runs only after 'Replace' is clicked; a new name forgets the yes."""
    other = api.make_spec("3.12", [], name="mine", display_name="Mine",
                          project_dir=tmp_path / "elsewhere")
    staged = tmp_path / "staged" / other.name
    kernels.write_spec(staged, kernels.kernel_json(other.name, other.display_name,
                                                   tmp_path / "python", other.project_dir, "3.12"))
    kernels.register(staged, other.name)
    panel = make_panel(quick_plan(wizard_env["home"] / "marks"))
    panel.python_step.kernel_name.value = "mine"
    to_dependencies(panel, "tabulate")
    panel.install_button.click()
    assert panel.job is None and panel.state.step == 0
    assert str(tmp_path / "elsewhere") in panel.python_step.python_error.value
    assert visible(panel.python_step.replace_button)
    assert "mine" in panel.python_step.replace_button.description
    click(panel, panel.python_step.replace_button)
    assert panel.job is not None and panel.job.spec.name == "mine"
    assert not visible(panel.python_step.replace_button)
    panel.python_step.kernel_name.value = "mine2"
    assert panel.form.replace_confirmed is None


def test_pasted_pyproject_and_requirements_txt_are_understood(wizard_env: dict[str, Path]
                                                                ) -> None:
    panel = make_panel()
    to_dependencies(panel, "[project]\nname = 'x'\ndependencies = [\n  'rich',  # colours\n]\n")
    assert panel.form.parsed.requirements == ("rich",)
    assert "pyproject.toml" in panel.deps_step.deps_warnings.value
    pasted = panel.deps_step.requirements.value
    # The pasted file becomes the file to edit, as is.
    panel.deps_step.pyproject_toggle.value = True
    assert panel.deps_step.requirements.value == pasted and panel.state.pyproject == pasted
    panel.deps_step.pyproject_toggle.value = False
    assert panel.deps_step.requirements.value == "rich  # colours"
    panel.deps_step.requirements.value = (
        "# via pip-compile\nsix==1.16.0 \\\n    --hash=sha256:abc\n"
        "--index-url https://example.invalid/simple\n")
    assert panel.form.parsed.requirements == ("six==1.16.0",)
    assert "ignored" in panel.deps_step.deps_warnings.value and not panel.install_button.disabled


@pytest.fixture
def loopback_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A simple-API index on 127.0.0.1 that knows 'tabulate' and 'rich' only."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            known = self.path in ("/simple/tabulate/", "/simple/rich/")
            self.send_response(200 if known else 404)
            self.end_headers()
            self.wfile.write(b"<html></html>" if known else b"not found")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("COLAB_WIZARD_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple/")
    yield asked
    server.shutdown()


def test_names_missing_on_the_index_are_warned_about(wizard_env: dict[str, Path],
                                                     loopback_index: list[str]) -> None:
    panel = make_panel(check_index=True)

    async def go() -> None:
        to_dependencies(panel, "tabulate\nno-such-package-xyz>=1\nRich")
        assert panel.name_check is not None
        await asyncio.wait_for(panel.name_check, 10)

    asyncio.run(go())
    assert "no-such-package-xyz" in panel.deps_step.index_warning.value
    warning = panel.deps_step.index_warning.value
    assert "tabulate" not in warning and "Rich" not in warning
    assert "/simple/rich/" in loopback_index
    assert not panel.install_button.disabled  # a warning, not a block


def test_pyproject_toggle_round_trip_keeps_comments(wizard_env: dict[str, Path]) -> None:
    panel = make_panel()
    to_dependencies(panel, "# plotting\nmatplotlib  # charts\nrich\n")
    panel.deps_step.pyproject_toggle.value = True
    toml = panel.deps_step.requirements.value
    assert "[project]" in toml and "# plotting" in toml and '"matplotlib", # charts' in toml
    panel.deps_step.requirements.value = toml.replace('"rich",',
                                                      '"rich",\n    "tabulate", # tables')
    panel.deps_step.pyproject_toggle.value = False
    assert panel.deps_step.requirements.value == (
        "# plotting\nmatplotlib  # charts\nrich\ntabulate  # tables")
    panel.deps_step.requirements.value = "bad line!"
    panel.deps_step.pyproject_toggle.value = True  # refused: would lose the text
    assert panel.deps_step.pyproject_toggle.value is False
    assert panel.deps_step.requirements.value == "bad line!"
    assert "Fix this first" in panel.deps_step.deps_error.value


def test_text_survives_back_next_failure_and_reshow(wizard_env: dict[str, Path],
                                                    tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    panel = ui.show(display=False, mode="background", versions=lambda: list(VERSIONS),
                    plan_factory=quick_plan(tmp_path / "marks", middle=fail_unless(fixed)))
    assert panel is not None
    text = "# my list\nrequests[socks]>=2  # http\n"
    panel.python_step.display_name.value = "Keep Me"
    to_dependencies(panel, text)
    panel.back.click()
    assert panel.state.step == 0 and panel.python_step.display_name.value == "Keep Me"
    panel.next.click()
    assert panel.deps_step.requirements.value == text
    click(panel, panel.install_button)
    assert panel.install.outcome == "failed"
    panel.back.click()
    assert panel.state.step == 1 and panel.deps_step.requirements.value == text

    again = ui.show(display=False, mode="background", versions=lambda: list(VERSIONS))
    assert again is not None and again is not panel
    assert again.state.step == 1
    assert again.deps_step.requirements.value == text
    assert again.python_step.display_name.value == "Keep Me"
    assert again.python_step.kernel_name.value == "keep-me"


def test_failure_banner_then_retry_from_the_failed_stage(wizard_env: dict[str, Path],
                                                         tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    marks = tmp_path / "marks"
    panel = make_panel(quick_plan(marks, middle=fail_unless(fixed), middle_label="Check it"))
    to_dependencies(panel, "tabulate")
    click(panel, panel.install_button)

    assert panel.install.outcome == "failed" and panel.state.step == 2
    step = panel.install_step
    assert visible(step.banner) and visible(step.retry) and visible(step.show_log)
    assert "Check it" in step.banner.value and "exited with code 3" in step.banner.value
    assert panel.install_step.row_views["middle"].icon.value == "\u2716"
    assert panel.install_step.row_views["register"].icon.value == "\u25cb"  # never started
    assert "something is missing" in panel.install_step.log.value
    panel.install_step.show_log.click()
    assert "something is missing" in panel.install_step.full_log.value
    assert visible(panel.install_step.full_log)
    assert not panel.back.disabled  # the user may go back and edit

    fixed.write_text("ok")
    before = (marks / "install.done").stat().st_mtime_ns
    click(panel, panel.install_step.retry)
    assert panel.install.outcome == "done" and panel.state.step == 3
    # The earlier stages were not redone: skipped through their is_done check.
    assert (marks / "install.done").stat().st_mtime_ns == before
    assert panel.install.rows["install"].status == "skipped"
    assert panel.install.rows["middle"].status == "done"


def test_cancel_mid_stage_leaves_no_process(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    panel = make_panel(quick_plan(tmp_path / "marks", middle=sleeper(pid_file)))
    to_dependencies(panel, "tabulate")

    async def go() -> float:
        panel.install_button.click()
        assert panel.driver.busy and visible(panel.install_step.cancel) and panel.back.disabled
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        panel.install_step.cancel.click()  # the event loop is free: the click is handled at once
        assert panel.driver.task is not None
        await asyncio.wait_for(panel.driver.task, 30)
        return time.monotonic() - started

    seconds = asyncio.run(go())
    pid = int(pid_file.read_text())
    assert not alive(pid)
    assert seconds < 5
    assert panel.install.outcome == "cancelled"
    assert panel.install.rows["middle"].status == "cancelled"
    assert not visible(panel.install_step.cancel) and not panel.back.disabled
    assert panel.state.step == 2


def test_foreground_interrupt_cancels_and_kills(wizard_env: dict[str, Path],
                                                tmp_path: Path) -> None:
    """Foreground mode: the kernel's interrupt (SIGINT) reaches the runner as a cancel."""
    pid_file = tmp_path / "pid"
    panel = make_panel(quick_plan(tmp_path / "marks", middle=sleeper(pid_file)),
                       mode="foreground")
    to_dependencies(panel, "tabulate")

    def interrupt() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (pid_file.exists() and pid_file.read_text()):
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    started = time.monotonic()
    panel.install_button.click()  # returns when the run has ended
    thread.join()
    assert time.monotonic() - started < 20
    assert not alive(int(pid_file.read_text()))
    assert panel.install.outcome == "cancelled"
    assert panel.install_step.row_views["middle"].icon.value == "\u25a0"


def test_100k_lines_redraw_at_most_ten_times_a_second(wizard_env: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """The redraw budget; test_ui_kernel.py counts the messages a real kernel sends."""
    panel = make_panel(quick_plan(tmp_path / "marks", middle=chatty(100_000)))
    to_dependencies(panel, "tabulate")
    started = time.monotonic()
    click(panel, panel.install_button)
    seconds = time.monotonic() - started

    assert panel.install.outcome == "done"
    log = panel.install.log_path
    assert log is not None and "line 99999" in log.read_text()
    assert len(panel.install_step.log.value.splitlines()) == model.TAIL_LINES  # a bounded tail
    assert panel.install_step.log.value.splitlines()[-1] == "registered"
    print(f"\n100k lines: {seconds:.1f}s, {panel.renders} redraws")
    # At most ~10 timed redraws a second, plus one for each event that must show at once.
    assert panel.renders <= seconds * 10 + 20


@pytest.mark.parametrize("mode", ["background", "foreground"])
def test_an_exception_in_the_run_ends_up_in_the_panel(wizard_env: dict[str, Path],
                                                      mode: str) -> None:
    """Busy (another run holds the project lock) is raised by the engine's run_spec inside
    the task: the panel shows it instead of losing it."""
    panel = make_panel(mode=mode)  # the engine's own plan
    to_dependencies(panel, "tabulate")
    project = wizard_env["home"] / "projects" / panel.python_step.kernel_name.value
    with api.RunLock.for_project(project):
        click(panel, panel.install_button)
    assert panel.install.outcome == "failed"
    assert visible(panel.install_step.banner)
    assert "Another install is already running" in panel.install_step.banner.value
    assert not visible(panel.install_step.retry) and not panel.back.disabled


@pytest.mark.slow
def test_real_engine_run_registers_a_kernel(wizard_env: dict[str, Path], other_python: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    # The server tells the kernel which notebook it runs (jupyter_server 2 does so).
    original = wizard_env["home"] / "analysis.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
                   str(original))
    monkeypatch.setenv("JPY_SESSION_NAME", str(original))
    panel = Panel(mode="background", host="jupyter")
    values = [v for _, v in panel.python_step.version.options]
    assert other_python in values
    panel.python_step.version.value = other_python
    panel.python_step.display_name.value = f"Panel test {other_python}"
    to_dependencies(panel, "# small\ntabulate>=0.9\n")
    # Edit the whole file: the engine keeps what we add.
    panel.deps_step.pyproject_toggle.value = True
    panel.deps_step.requirements.value += "\n# kept by the wizard\n[tool.black]\nline-length = 99\n"
    click(panel, panel.install_button)
    assert panel.install.outcome == "done", (panel.install_step.banner.value,
                                             panel.install_step.log.value)
    project = wizard_env["home"] / "projects" / panel.python_step.kernel_name.value
    written = (project / "pyproject.toml").read_text()
    assert "# kept by the wizard" in written and "line-length = 99" in written
    assert '"tabulate>=0.9"' in written and '"ipykernel"' in written and "# small" in written
    assert panel.state.step == 3
    name = panel.python_step.kernel_name.value
    assert name in [k.name for k in kernels.list_ours()]
    assert "Download pyproject.toml" in panel.done_step.downloads.value
    assert "Download poetry.lock" in panel.done_step.downloads.value
    assert all(r.status in ("done", "skipped") for r in panel.install.rows.values())
    # Re-running an unchanged spec skips every stage.
    panel.back.click()
    click(panel, panel.install_button)
    assert panel.install.outcome == "done"
    assert all(r.status == "skipped" for r in panel.install.rows.values())

    # Done writes a copy of the notebook that opens on the new kernel; the original stays.
    assert visible(panel.done_step.copy_notebook)
    before = original.read_bytes()
    panel.done_step.copy_notebook.click()
    assert "Wrote" in panel.done_step.copy_result.value, panel.done_step.copy_result.value
    copy = nbformat.read(str(original.with_name(f"analysis ({name}).ipynb")), as_version=4)
    nbformat.validate(copy)
    assert copy.metadata.kernelspec.name == name and original.read_bytes() == before

    # Done offers "Save for a fresh VM"; a new panel finds the save and restores from it.
    saves = wizard_env["home"] / "saved-here"
    panel.go(3)
    panel.done_step.save_folder.value = str(saves)
    panel.done_step.save_button.click()
    assert "Saved to" in panel.done_step.save_result.value, panel.done_step.save_result.value
    # A copy made now restores from that save in its first cell, from the folder typed.
    panel.done_step.copy_notebook.click()
    second = nbformat.read(str(original.with_name(f"analysis ({name}) 2.ipynb")), as_version=4)
    assert str(saves / name) in second.cells[0].source, second.cells[0].source
    kernels.remove(name)
    shutil.rmtree(wizard_env["home"] / "projects" / name)
    fresh = Panel(mode="background", host="jupyter", check_index=False, save_dir=saves)
    assert visible(fresh.python_step.restore_box)
    assert fresh.python_step.restore_choice.value == str(saves / name)
    click(fresh, fresh.python_step.restore_button)
    assert fresh.install.outcome == "done", (fresh.install_step.banner.value,
                                             fresh.install_step.log.value)
    assert list(fresh.install.rows) == ["unpack", "install", "kernel", "verify", "register"]
    assert name in [k.name for k in kernels.list_ours()]
    assert fresh.state.step == 3


def test_no_restore_offer_without_saved_kernels(wizard_env: dict[str, Path]) -> None:
    panel = make_panel(save_dir=wizard_env["home"] / "nothing-saved")
    assert not visible(panel.python_step.restore_box)


def test_cache_dir_is_the_old_name_of_save_dir(wizard_env: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Notebooks written with ``show(cache_dir=...)`` keep working, and are told the new
    name; giving both is an error that names the field."""
    import colab_wizard
    from colab_wizard import cli

    saves = wizard_env["home"] / "saves"
    with pytest.warns(DeprecationWarning, match="save_dir"):
        panel = colab_wizard.show(display=False, check_index=False, cache_dir=str(saves))
    assert panel is not None and panel.save_dir == saves
    assert panel.done_step.save_folder.value == str(saves)
    with pytest.raises(colab_wizard.SpecError) as error:
        colab_wizard.show(display=False, check_index=False, save_dir=saves, cache_dir=saves)
    assert error.value.field == "save_dir"
    for flag in ("--save-dir", "--cache"):
        args = cli.build_parser().parse_args(["switch", "my.ipynb", flag, str(saves)])
        assert args.save_dir == str(saves)
    with pytest.raises(SystemExit):
        cli.main(["switch", "--help"])
    shown = capsys.readouterr().out
    assert "--save-dir" in shown and "--cache" not in shown, shown
