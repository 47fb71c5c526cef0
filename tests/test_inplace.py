"""The in-place switch's file handling: one launcher file changed, and given back exactly.

Kernels really restarting through it are in tests/test_inplace_colab.py; here the
default kernel is a ``python3`` kernelspec whose argv runs ``-m colab_kernel_launcher``
from a folder of this test, and the kernel to use is a kernelspec marked as ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from colab_wizard import cli, inplace, kernels, paths, settings
from colab_wizard.doctor import report
from colab_wizard.errors import WizardError
from colab_wizard.spec import SpecError

LAUNCHER = '"""Colab\'s launcher, as far as this test goes."""\nprint("original launcher")\n'


@pytest.fixture
def default_kernel(wizard_env: dict[str, Path], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python3`` kernelspec like Colab's, and its launcher file; returns the file."""
    # In a virtualenv, jupyter_core puts the env's kernels before the user's, and ipykernel
    # installed there brings its own python3: the one written below would be shadowed.
    # Colab's Python is no virtualenv, so the user's folder comes first, as here.
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    site = tmp_path / "dist-packages"
    site.mkdir()
    launcher = site / "colab_kernel_launcher.py"
    launcher.write_text(LAUNCHER)
    os.chmod(launcher, 0o644)
    os.utime(launcher, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    kernels.write_spec(wizard_env["jupyter"] / "kernels" / "python3", {
        "argv": [sys.executable, "-m", "colab_kernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(site)},
    })
    return launcher


@pytest.fixture
def ours(wizard_env: dict[str, Path]) -> str:
    """A kernel 'made by colab_wizard' (its Python is this one)."""
    # In the folder a panel run of 'mine' defaults to: building it again is an update of this
    # kernel, not the replacement of another one (which would need a confirm, naming.py).
    spec = kernels.kernel_json("mine", "My Python", Path(sys.executable),
                               paths.default_project_dir("mine"), "3.x",
                               extra_argv=("--IPKernelApp.extensions=[]",),
                               env={"PYTHONPATH": ""})
    kernels.write_spec(wizard_env["jupyter"] / "kernels" / "mine", spec)
    return "mine"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_use_outside_colab_says_so_and_changes_nothing(
    default_kernel: Path, ours: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    before = digest(default_kernel)
    assert cli.main(["use", ours]) == cli.EXIT_BAD_INPUT
    assert "Colab only" in capsys.readouterr().err
    assert cli.main(["use", "--reset"]) == cli.EXIT_BAD_INPUT
    assert digest(default_kernel) == before
    with pytest.raises(inplace.NotColab):
        inplace.use(ours)


def test_use_then_reset_gives_the_launcher_back_byte_for_byte(
    default_kernel: Path, ours: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    before = default_kernel.read_bytes()
    stat = default_kernel.stat()
    assert inplace.status() is None

    assert cli.main(["use", ours]) == cli.EXIT_OK
    assert "Restart session" in capsys.readouterr().out
    text = default_kernel.read_text()
    assert inplace.is_shim(text)
    assert inplace.original_bytes(default_kernel) == before
    switch = inplace.status()
    assert switch is not None and switch.name == "mine" and switch.launcher == default_kernel
    # The shim runs on the host's Python and is valid code there.
    compile(text, str(default_kernel), "exec")
    # colab_wizard itself, for show() in the switched kernel.
    lib = inplace.state_dir() / "lib"
    assert (lib / "colab_wizard" / "inplace_boot.py").is_file()

    # A second use over the first keeps Colab's original, not the first shim.
    assert cli.main(["use", ours]) == cli.EXIT_OK
    assert inplace.original_bytes(default_kernel) == before

    assert cli.main(["use"]) == cli.EXIT_OK
    assert "My Python" in capsys.readouterr().out
    assert "in this notebook: This notebook's kernel starts on \u201cMy Python\u201d" in (
        report(check_kernels=False))
    assert cli.main(["use", "--reset"]) == cli.EXIT_OK
    assert default_kernel.read_bytes() == before
    after = default_kernel.stat()
    assert (after.st_mode, after.st_mtime_ns) == (stat.st_mode, stat.st_mtime_ns)
    assert inplace.reset() is None  # nothing left to undo
    assert "already" in inplace.describe_reset(None)


def test_unknown_or_foreign_kernel_names_the_field(
    default_kernel: Path, ours: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    before = digest(default_kernel)
    with pytest.raises(SpecError) as err:
        inplace.use("python3")  # Colab's own kernel is not one of ours
    assert err.value.field == "name" and "mine" in err.value.message
    assert cli.main(["use", "nope"]) == cli.EXIT_BAD_INPUT
    assert "No kernel named 'nope'" in capsys.readouterr().err
    assert digest(default_kernel) == before


def test_a_kernel_whose_python_is_gone_is_refused_before_any_change(
    default_kernel: Path, wizard_env: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    spec = kernels.kernel_json("gone", "Gone", tmp_path / "no-venv" / "bin" / "python",
                               tmp_path / "gone", "3.x")
    kernels.write_spec(wizard_env["jupyter"] / "kernels" / "gone", spec)
    before = digest(default_kernel)
    with pytest.raises(WizardError, match="does not run"):
        inplace.use("gone")
    assert digest(default_kernel) == before


def test_the_shim_falls_back_to_the_original_when_the_python_is_gone(
    default_kernel: Path, ours: str, wizard_env: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the shim as the default kernel's argv would; the kernel's Python vanished."""
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    before = default_kernel.read_bytes()
    inplace.use(ours)
    text = default_kernel.read_text()
    target, _ = inplace._shim_values(text)
    broken = text.replace(repr(target), repr({**target, "python": "/nonexistent/python"}))
    default_kernel.write_text(broken)
    env = {**os.environ, "PYTHONPATH": str(default_kernel.parent)}
    done = subprocess.run([sys.executable, "-m", "colab_kernel_launcher", "-f", "x.json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "original launcher"  # Colab's own start, same argv
    assert "could not start" in done.stderr
    assert default_kernel.read_bytes() == before  # and the switch is undone
    record = json.loads(inplace.fallback_record().read_text())
    assert "/nonexistent/python" in record["problem"]
    fell = inplace.last_fallback()
    assert fell is not None and "My Python" in fell.sentence()


# -- the panel: Done step's button, and the status show() opens on in a switched kernel ----


def done_panel(tmp_path: Path, host: str) -> Any:
    from ui_plans import quick_plan

    from colab_wizard.ui import Panel

    panel = Panel(mode="foreground", plan_factory=quick_plan(tmp_path / "marks"),
                  versions=lambda: [("3.12", "3.12")], host=host, check_index=False)
    panel.python_step.kernel_name.value = "mine"
    panel.next.click()
    panel.install_button.click()
    assert panel.install.outcome == "done" and panel.state.step == 3
    return panel


def test_done_step_uses_the_kernel_in_this_notebook_on_colab_only(
    default_kernel: Path, ours: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = default_kernel.read_bytes()
    elsewhere = done_panel(tmp_path / "jupyter", "jupyter")
    assert elsewhere.done_step.use_here.layout.display == "none"
    assert "Change Kernel" in elsewhere.done_step.switch.value

    panel = done_panel(tmp_path / "colab", "colab")
    assert panel.done_step.use_here.layout.display != "none"
    assert panel.done_step.copy_notebook.layout.display != "none"  # the second choice stays
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    panel.done_step.use_here.click()  # not in a kernel here: switched, nothing to restart
    assert "Restarting this notebook's kernel" in panel.done_step.use_result.value
    switch = inplace.status()
    assert switch is not None and switch.name == "mine"
    inplace.reset()
    assert default_kernel.read_bytes() == before


def test_show_in_a_switched_kernel_opens_on_its_status_and_goes_back(
    default_kernel: Path, ours: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from colab_wizard import ui
    from colab_wizard.ui.status import StatusView

    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    before = default_kernel.read_bytes()
    inplace.use(ours)
    # What the shim hands the switched kernel: its settings, in the environment.
    target, _ = inplace._shim_values(default_kernel.read_text())
    monkeypatch.setenv(settings.INPLACE.name, json.dumps(
        {**target, "host_python": sys.executable, "saved_env": {}}))
    panel = ui.show(display=False, check_index=False)
    assert panel is not None
    opening = ui.opening_widget(panel)
    status = opening.children[0]
    assert "cw-status" in status._dom_classes
    text = status.children[1].value
    assert "My Python" in text and "mine" in text and "projects/mine" in text
    view = StatusView(lambda: panel.widget, inplace.running_switch(), None)
    view.back.click()
    assert "Colab's own launcher is back" in view.result.value
    assert default_kernel.read_bytes() == before
    view.show_wizard()
    assert view.widget.children == (panel.widget,)
    assert ui.opening_widget(panel, reset=True) is panel.widget


def test_show_after_a_fallback_says_what_happened(monkeypatch: pytest.MonkeyPatch) -> None:
    from colab_wizard import ui
    from colab_wizard.ui.status import StatusView

    monkeypatch.setenv(settings.FELL_BACK.name, json.dumps(
        {"name": "mine", "display_name": "My Python", "problem": "its Python /x is gone"}))
    view = StatusView(lambda: ui.show(display=False, check_index=False).widget,
                      None, inplace.fell_back())
    assert "could not start: its Python /x is gone" in view.text.value
    assert "Colab's own Python again" in view.text.value
    assert view.back.layout.display == "none"


def test_a_start_that_died_before_the_kernel_was_ready_makes_the_next_one_fall_back(
    default_kernel: Path, ours: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard for what no check can catch (a crash in the new Python after the handover):
    the shim's marker of that start is still there, its process gone."""
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    before = default_kernel.read_bytes()
    inplace.use(ours)
    target, _ = inplace._shim_values(default_kernel.read_text())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Path(target["marker"]).parent.mkdir(parents=True, exist_ok=True)
    Path(target["marker"]).write_text(json.dumps({"pid": dead.pid, "time": 0}))
    env = {**os.environ, "PYTHONPATH": str(default_kernel.parent)}
    done = subprocess.run([sys.executable, "-m", "colab_kernel_launcher", "-f", "x.json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "original launcher"
    assert "stopped before the kernel was ready" in done.stderr
    assert default_kernel.read_bytes() == before
    assert not Path(target["marker"]).exists()
    # A new switch does not inherit the marker of a start that died before it.
    Path(target["marker"]).write_text(json.dumps({"pid": dead.pid, "time": 0}))
    inplace.use(ours)
    assert not Path(target["marker"]).exists()
    inplace.reset()
    assert default_kernel.read_bytes() == before
