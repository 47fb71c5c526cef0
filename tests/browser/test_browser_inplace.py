"""'Use it in this notebook' in a real browser, on Colab's widget stack (JupyterLab 3.6, 7.7.1).

The notebook's default kernel is shaped like Colab's: a ``python3`` kernelspec whose argv
runs ``python -m colab_kernel_launcher`` (Colab's launcher, tests/colab_host.py) with
``COLAB_RELEASE_TAG`` set, so the panel is in its Colab mode. The kernel to use is another
Python (3.12, with Colab's ipykernel/ipywidgets) registered as colab_wizard's; the panel's
run is the quick plan of the panel tests. Done > "Use it in this notebook" restarts the
kernel; a cell run afterwards prints the new ``sys.version``; ``show()`` there opens on the
status, whose "Back to Colab's Python" restarts it on the notebook's own Python again and
leaves the launcher byte-identical. The same run takes the README's Colab screenshots.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import colab_host
import pytest
from conftest import REPO_ROOT, Lab, Shoot, serve_lab

from colab_wizard import kernels

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
TARGET_MINOR = "3.12"
TARGET_STACK = ["ipykernel==6.17.1", "ipython==7.34.0", "ipywidgets==7.7.1",
                "jupyter_client==7.4.9"]
NAME = "analysis-312"
DISPLAY = "Python 3.12 (analysis)"
PANEL_CELL = """\
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from ui_plans import quick_plan
from colab_wizard import paths, show
paths.COLAB_CONTENT = Path({content!r})  # Colab's /content, for this test
show(plan_factory=quick_plan(Path({marks!r})), check_index=False)"""
VERSION_CELL = ("import os, sys\nprint('running', sys.version)\n"
                "print('launched by', sys.argv[0], os.environ.get('COLAB_RELEASE_TAG'))")
SHOW_CELL = "from colab_wizard import show\nshow()"


def _target_ready(python: Path) -> bool:
    return python.exists() and subprocess.run(
        [str(python), "-c", "import ipykernel, ipywidgets; assert ipywidgets.__version__ == "
         "'7.7.1'"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def target_python() -> Path:
    """A 3.12 virtualenv with Colab's kernel stack, built once and cached like the lab3 env."""
    found = sorted(PYENV_VERSIONS.glob(f"{TARGET_MINOR}.*/bin/python{TARGET_MINOR}"))
    if not found:
        pytest.skip(f"no CPython {TARGET_MINOR} under {PYENV_VERSIONS}")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colab_wizard"
    venv = cache / f"inplace-target-{TARGET_MINOR}-venv"
    python = venv / "bin" / "python"
    if not _target_ready(python):
        cache.mkdir(parents=True, exist_ok=True)
        with (cache / (venv.name + ".lock")).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _target_ready(python):
                shutil.rmtree(venv, ignore_errors=True)
                subprocess.run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update",
                                "-p", str(found[-1]), str(venv)], check=True)
                subprocess.run([str(python), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", *TARGET_STACK], check=True)
    assert _target_ready(python)
    return python


@pytest.fixture
def colab_lab(lab3_python: str, target_python: Path, tmp_path: Path,
              shared_dirs: dict[str, Path]) -> Iterator[tuple[Lab, Path]]:
    """JupyterLab 3.6 whose default kernel is Colab-shaped; yields it and the launcher file."""
    (tmp_path / "server").mkdir()
    # jupyter_core prefers a virtualenv's own kernelspecs to the user's; this test's python3
    # (the user's, like Colab's system one) must win over the lab3 venv's.
    with serve_lab(lab3_python, tmp_path / "server", shared_dirs,
                   extra_env={"JUPYTER_PREFER_ENV_PATH": "0"}) as lab:
        launcher_dir = tmp_path / "dist-packages"
        launcher_dir.mkdir()
        launcher = launcher_dir / "colab_kernel_launcher.py"
        launcher.write_text(colab_host.LAUNCHER)
        kernels_dir = lab.dirs["jupyter-data"] / "kernels"
        project = _content(lab) / NAME  # where the panel's project goes on Colab
        kernels.write_spec(kernels_dir / "python3", {
            "argv": [lab3_python, "-m", "colab_kernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python",
            "env": {"PYTHONPATH": f"{launcher_dir}{os.pathsep}{REPO_ROOT}",
                    "COLAB_RELEASE_TAG": "release-colab-browser-test"},
        })
        kernels.write_spec(kernels_dir / NAME, kernels.kernel_json(
            NAME, DISPLAY, target_python, project, TARGET_MINOR,
            env={"PYTHONPATH": ""}))
        yield lab, launcher


def _content(lab: Lab) -> Path:
    return lab.dirs["wizard-home"] / "content"


def _restarted(lab: Lab, page: Any) -> None:
    """The kernel ended itself; JupyterLab restarts it and says so in a dialog: dismiss it."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=20_000)
        dialog.locator("button.jp-mod-accept").click()
    except Exception:  # noqa: BLE001 - no dialog this time: the restart was quick
        pass
    lab.wait_kernel_idle(page, timeout=90_000)


def test_use_it_in_this_notebook_restarts_the_kernel_on_the_new_python_and_back(
    colab_lab: tuple[Lab, Path], page: Any, tmp_path: Path, shoot: Shoot
) -> None:
    lab, launcher = colab_lab
    original = hashlib.sha256(launcher.read_bytes()).hexdigest()
    tests = str(Path(__file__).resolve().parents[1])
    # The version cell twice: execution counts start again at 1 after a restart, and a
    # cell is seen to have run when its count changes.
    cells = [PANEL_CELL.format(tests=tests, marks=str(tmp_path / "marks"),
                               content=str(_content(lab))), VERSION_CELL, SHOW_CELL,
             VERSION_CELL]
    panel = lab.first_cell_widget(page, "use-here.ipynb", cells, ".cw-panel")
    lab.run_cell(page, 1)
    host_version = lab.cell_output(page, 1).inner_text()
    assert f"running {sys.version_info[0]}.{sys.version_info[1]}." in host_version  # lab3 venv
    assert "colab_kernel_launcher.py release-colab-browser-test" in host_version, host_version
    version = panel.locator(".cw-version select")
    labels = version.locator("option").all_inner_texts()
    wanted = re.compile(re.escape(TARGET_MINOR) + r"(?![\dt])")
    version.select_option(label=next(t for t in labels if wanted.search(t)))
    panel.locator(".cw-display-name input").fill(DISPLAY)
    name = panel.locator(".cw-kernel-name input")
    name.fill(NAME)
    name.blur()
    panel.locator(".cw-next").click()
    field = panel.locator(".cw-requirements textarea")
    field.fill("six\n")
    field.blur()
    install = panel.locator(".cw-install")
    page.wait_for_function("el => !el.disabled", arg=install.element_handle())
    install.click()
    panel.locator(".cw-step-done").wait_for(state="visible", timeout=60_000)
    use = panel.locator(".cw-use-here")
    assert use.is_visible() and panel.locator(".cw-copy-notebook").is_visible()
    lab.wait_kernel_idle(page)
    shoot(panel, "step4-done-colab.png")

    use.click()
    said = panel.locator(".cw-use-result")
    page.wait_for_function("el => el.textContent.trim() !== ''", arg=said.element_handle(),
                           timeout=30_000)
    assert "Restarting this notebook's kernel" in said.inner_text(), said.inner_text()
    _restarted(lab, page)
    lab.run_cell(page, 1, timeout=90_000)
    after = lab.cell_output(page, 1).inner_text()
    assert f"running {TARGET_MINOR}." in after, after

    lab.run_cell(page, 2)
    status = lab.cell_output(page, 2).locator(".cw-status")
    status.wait_for(state="visible")
    text = status.inner_text()
    assert DISPLAY in text and NAME in text and str(_content(lab) / NAME) in text
    shoot(status, "status-switched.png")

    status.locator(".cw-use-back").click()
    status.get_by_text("Colab's own launcher is back").wait_for(timeout=30_000)
    _restarted(lab, page)
    assert hashlib.sha256(launcher.read_bytes()).hexdigest() == original
    lab.run_cell(page, 3, timeout=90_000)
    back = lab.cell_output(page, 3).inner_text()
    assert back == host_version, (back, host_version)
    assert json.loads((lab.dirs["jupyter-data"] / "kernels" / "python3" / "kernel.json")
                      .read_text())["argv"][2] == "colab_kernel_launcher"
