"""A real JupyterLab on 127.0.0.1 and Debian's Chromium driven by Playwright.

The server runs with every Jupyter, wizard and Poetry directory pointed at a
temporary folder, so the kernels a test registers (and the notebooks' kernels,
which inherit the server's environment) never touch the user's real setup.
Playwright cannot download its own browser here: it drives ``/usr/bin/chromium``
(``apt-get install -y chromium``; ``tests/run.sh`` installs it when missing).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("COLAB_WIZARD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The README's screenshots (docs/images/) are rewritten only when this names a folder
# (relative to the repository, e.g. docs/images; see CONTRIBUTING.md); otherwise they go to a
# temporary folder, so a test run leaves the work tree as it found it.
SCREENSHOTS_VAR = "COLAB_WIZARD_SCREENSHOTS"
# Fixed window and pixel ratio: the screenshots in docs/images/ come out the same size every
# run. Tall enough that the Install step (stage rows and log) fits in the notebook unscrolled.
VIEWPORT = {"width": 1200, "height": 1200}
SERVER_START_TIMEOUT = 60.0
# The first widget a page shows waits for the widget manager's controls bundle, fetched and
# compiled then; a cold browser on a busy 2-core CI machine has taken more than 30 s.
FIRST_WIDGET_TIMEOUT = 60_000
# Colab's widget and kernel stack (see DESIGN.md), in the only JupyterLab that renders it.
LAB3_STACK = [
    "jupyterlab==3.6.*",
    "jupyterlab_widgets==1.1.*",
    "ipywidgets==7.7.1",
    "ipykernel==6.17.1",
    "ipython==7.34.0",
    "jupyter_client==7.4.9",
    # the engine's own dependencies (pyproject.toml), for the panel's kernel
    "tomlkit>=0.11",
    "requests>=2.20",
    "packaging>=20",
    "virtualenv>=20.10",
]
# JupyterLab's news and update pop-ups would cover the notebook in screenshots.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}



Shoot = Callable[[Any, str], Path]
# The browser console of each open page (by id), newest last.
CONSOLE: dict[int, list[str]] = {}


@pytest.fixture(scope="session")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Shoot:
    """``shoot(element, "step1-python.png")``: a screenshot of one element, written where
    ``COLAB_WIZARD_SCREENSHOTS`` asks, else into this session's temporary folder."""
    asked = os.environ.get(SCREENSHOTS_VAR, "").strip()
    folder = REPO_ROOT / asked if asked else tmp_path_factory.mktemp("screenshots")

    def take(element: Any, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        element.screenshot(path=str(path), animations="disabled", caret="hide")
        return path

    return take

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _missing(message: str) -> None:
    """Skip on a developer's machine; in CI (tests/run.sh installs everything) it is a failure."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        _missing(f"{module} is not installed: pip install -e '.[test,browser]'")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} not found: apt-get install -y chromium (tests/run.sh does)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    # Per module, not per session: while Playwright's sync API is open, the main thread counts
    # as running an event loop, and the other tests' asyncio.run() would refuse to start.
    sync_api = _require("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport=VIEWPORT, device_scale_factor=1, color_scheme="light", locale="en-US",
        timezone_id="UTC", reduced_motion="reduce",
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    # What the page printed, for the message of a test whose widget never showed.
    console = CONSOLE.setdefault(id(page), [])
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        yield page
    finally:
        CONSOLE.pop(id(page), None)
        context.close()


def current_notebook_js(body: str) -> str:
    """A page function where ``nb`` is the current notebook panel."""
    return (
        "(arg) => { const app = window.jupyterapp;"
        " const nb = app.shell.currentWidget;"
        " if (!nb || !nb.sessionContext) { return null; } " + body + " }"
    )


@dataclass
class Lab:
    """A running JupyterLab server and the temporary folders it uses."""

    url: str
    token: str
    root: Path
    dirs: dict[str, Path]
    env: dict[str, str]
    log: Path
    tree: str = "/lab/tree/"  # where the front end opens a notebook ("/notebooks/" in 7)

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            raw = response.read()
        return json.loads(raw) if raw else None

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """A notebook of code cells with the server's default ``python3`` kernel."""
        nb = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                 "metadata": {}, "outputs": [], "source": source}
                for i, source in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                               "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        return name

    def open_notebook(self, page: Any, name: str) -> None:
        """Open ``name`` in a fresh workspace, on a kernel of its own, and wait until that
        kernel is idle."""
        # A rerun of a failed test opens the same notebook: without this it would reattach to
        # the kernel the failed attempt left behind, widgets and all, and not be a new try.
        self.end_sessions(name)
        page.goto(f"{self.url}{self.tree}{name}?reset&token={self.token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        self.wait_kernel_idle(page)

    def end_sessions(self, path: str) -> None:
        """Shut down the kernels the server keeps for the notebook ``path``."""
        for session in self.api("/api/sessions"):
            if session.get("path") == path:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def first_cell_widget(self, page: Any, name: str, cells: list[str], selector: str,
                          timeout: float = FIRST_WIDGET_TIMEOUT) -> Any:
        """Write and open a notebook, run only its first cell, return the widget ``selector``
        in that cell's output once it is visible (the later cells are for the test to run)."""
        self.open_notebook(page, self.write_notebook(name, cells))
        self.run_cell(page, 0)
        widget = self.cell_output(page, 0).locator(selector)
        try:
            widget.wait_for(state="visible", timeout=timeout)
        except _require("playwright.sync_api").TimeoutError as error:
            raise AssertionError(self.why_not_visible(page, selector)) from error
        return widget

    def why_not_visible(self, page: Any, selector: str) -> str:
        """The first cell's output, the page's console and the server's log, for a widget
        that never showed."""
        output = self.cell_output(page, 0)
        shown = output.inner_text(timeout=5_000) if output.count() else "(no output area)"
        console = "\n".join(CONSOLE.get(id(page), [])[-40:])
        return (f"{selector} never became visible in the first cell.\n"
                f"--- the cell's output:\n{shown}\n--- the browser console:\n{console}\n"
                f"--- the server's log:\n{self.tail_log()}")

    def reload(self, page: Any) -> None:
        """Reload the page and wait until the notebook's kernel is back and idle."""
        page.reload()
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        self.wait_kernel_idle(page)

    @staticmethod
    def wait_kernel_idle(page: Any, timeout: float = 60_000) -> None:
        """Wait until the current notebook has a kernel and nothing is running."""
        page.wait_for_function(
            current_notebook_js(
                "const s = nb.sessionContext;"
                " return !!(s.session && s.session.kernel) && !s.isRestarting"
                " && s.kernelDisplayStatus === 'idle';"
            ),
            timeout=timeout,
        )

    @staticmethod
    def run_all_cells(page: Any, timeout: float = 60_000) -> None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Every cell gets an execution count once it has run.
        page.wait_for_function(
            current_notebook_js(
                "const cells = nb.content.widgets.filter(c => c.model.type === 'code');"
                " return cells.every(c => c.model.executionCount !== null)"
                " && nb.sessionContext.kernelDisplayStatus === 'idle';"
            ),
            timeout=timeout,
        )

    @staticmethod
    def run_cell(page: Any, index: int, timeout: float = 60_000) -> None:
        """Run the ``index``-th cell of the current notebook and wait until it has run."""
        before = page.evaluate(current_notebook_js(
            "return nb.content.widgets[arg].model.executionCount;"), index)
        page.evaluate(current_notebook_js(
            "nb.content.activeCellIndex = arg;"
            " return app.commands.execute('notebook:run-cell');"), index)
        page.wait_for_function(
            current_notebook_js(
                "const count = nb.content.widgets[arg[0]].model.executionCount;"
                " return count !== null && count !== arg[1]"
                " && nb.sessionContext.kernelDisplayStatus === 'idle';"
            ),
            arg=[index, before],
            timeout=timeout,
        )

    def change_kernel(self, page: Any, display_name: str) -> None:
        """Reload, then Kernel > Change Kernel..., pick ``display_name`` in the dialog, wait
        for it to be idle.

        JupyterLab asks the server for new kernelspecs only about once a minute; a reload
        asks at once, and it is what the Done step tells a person to do.
        """
        self.reload(page)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:change-kernel'); }")
        dialog = page.locator(".jp-Dialog")
        dialog.locator("select").select_option(label=display_name)
        dialog.locator("button.jp-mod-accept").click()
        dialog.wait_for(state="detached")
        page.wait_for_function(
            current_notebook_js(
                "const s = nb.sessionContext;"
                " return s.kernelDisplayName === arg && s.kernelDisplayStatus === 'idle';"
            ),
            arg=display_name,
            timeout=60_000,
        )

    @staticmethod
    def cell_output(page: Any, index: int) -> Any:
        """The output area locator of the ``index``-th cell of the current notebook."""
        return page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(
            ".jp-OutputArea"
        )

    def tail_log(self, lines: int = 60) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _wait_for_server(lab: Lab, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{lab.tail_log()}")
        try:
            lab.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"jupyter lab did not answer /api/status in time:\n{lab.tail_log()}")


@contextlib.contextmanager
def serve_lab(python: str, base: Path, shared_dirs: dict[str, Path],
              app: str = "jupyterlab",
              extra_env: Optional[dict[str, str]] = None) -> Iterator[Lab]:
    """JupyterLab (or Notebook 7: ``app="notebook"``) run by ``python`` on a free loopback
    port, with isolated Jupyter/wizard/Poetry dirs; the notebooks' default kernel is that same
    Python. ``extra_env`` is added to its environment last."""
    names = ("root", "jupyter-config", "jupyter-runtime", "lab-settings", "lab-workspaces",
             "ipython", "poetry-config")
    dirs = {name: base / name for name in names}
    # Short paths for what the panel shows (project, log, kernelspec), so they and the
    # screenshots stay legible: /tmp/cw-XXXX/projects/..., /tmp/cw-XXXX/jupyter/kernels/...
    dirs["wizard-home"] = Path(tempfile.mkdtemp(prefix="cw-"))
    dirs["jupyter-data"] = dirs["wizard-home"] / "jupyter"
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    # Poetry's tool environment and cache are shared with the rest of the session.
    (dirs["wizard-home"] / "tools").symlink_to(shared_dirs["tools"])
    for key, value in LAB_SETTINGS.items():
        target = dirs["lab-settings"] / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), encoding="utf-8")

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "POETRY_", "VIRTUAL_ENV"))}
    env.update({
        "JUPYTER_DATA_DIR": str(dirs["jupyter-data"]),
        "JUPYTER_CONFIG_DIR": str(dirs["jupyter-config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["jupyter-runtime"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["lab-settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["lab-workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "COLAB_WIZARD_HOME": str(dirs["wizard-home"]),
        "POETRY_CACHE_DIR": str(shared_dirs["poetry_cache"]),
        "POETRY_CONFIG_DIR": str(dirs["poetry-config"]),
        # The notebooks' kernels import this checkout's colab_wizard.
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        ),
    })
    env.pop("COLAB_WIZARD_HOST", None)
    env.update(extra_env or {})
    token = secrets.token_hex(16)
    port = _free_port()
    log = base / "jupyter-lab.log"
    argv = [
        python, "-m", app, "--no-browser", "--allow-root",
        f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={dirs['root']}",
        "--JupyterNotebookApp.expose_app_in_browser=True" if app == "notebook"
        else "--LabApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=True",
    ]
    if python == sys.executable and sys.prefix != sys.base_prefix:
        # A virtualenv's server looks for front-end extensions (the widget manager) in the
        # venv only, though a --system-site-packages venv has them in the base Python.
        shared = Path(sys.base_prefix) / "share" / "jupyter" / "labextensions"
        app_class = "JupyterNotebookApp" if app == "notebook" else "LabApp"
        argv.append(f"--{app_class}.extra_labextensions_path={shared}")
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            argv, cwd=dirs["root"], env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=dirs["root"], dirs=dirs,
                 env=env, log=log, tree="/notebooks/" if app == "notebook" else "/lab/tree/")
    try:
        _wait_for_server(server, process)
        yield server
    finally:
        _stop(process)
        shutil.rmtree(dirs["wizard-home"], ignore_errors=True)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory,
        shared_dirs: dict[str, Path]) -> Iterator[Lab]:
    """JupyterLab 4 with ipywidgets 8: the test runner's own Python."""
    _require("jupyterlab")
    with serve_lab(sys.executable, tmp_path_factory.mktemp("lab"), shared_dirs) as server:
        yield server


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory,
              shared_dirs: dict[str, Path]) -> Iterator[Lab]:
    """Notebook 7 (on JupyterLab 4's components) with ipywidgets 8: the test runner's Python."""
    _require("notebook")
    with serve_lab(sys.executable, tmp_path_factory.mktemp("notebook7"), shared_dirs,
                   app="notebook") as server:
        yield server


def _lab3_ready(python: Path) -> bool:
    check = ("import jupyterlab, ipywidgets, jupyterlab_widgets, ipykernel, tomlkit, virtualenv\n"
             "assert jupyterlab.__version__.startswith('3.6.'), jupyterlab.__version__\n"
             "assert ipywidgets.__version__ == '7.7.1', ipywidgets.__version__\n")
    return python.exists() and subprocess.run(
        [str(python), "-c", check], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def lab3_python() -> str:
    """A virtualenv with Colab's widget and kernel stack, served by JupyterLab 3.6.

    ipywidgets 7.7.1 does not render in JupyterLab 4; it does in 3.6 with
    jupyterlab_widgets 1.1. Built once (~30 s with a warm pip cache) and kept in the
    cache folder, like the 7.7.1 venv of tests/run.sh; the package itself comes from
    this checkout through the server's PYTHONPATH, never installed there.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colab_wizard"
    venv = Path(os.environ.get("COLAB_WIZARD_LAB3_VENV") or cache / "jupyterlab-3.6-venv")
    python = venv / "bin" / "python"
    if _lab3_ready(python):
        return str(python)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / (venv.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent run builds it once, the other waits
        if not _lab3_ready(python):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update",
                            str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", *LAB3_STACK], check=True)
    if not _lab3_ready(python):
        pytest.fail(f"could not build the JupyterLab 3.6 environment at {venv}")
    return str(python)


@pytest.fixture(scope="session")
def lab3(lab3_python: str, tmp_path_factory: pytest.TempPathFactory,
         shared_dirs: dict[str, Path]) -> Iterator[Lab]:
    """JupyterLab 3.6 with ipywidgets 7.7.1, IPython 7.34 and ipykernel 6.17 (Colab's)."""
    with serve_lab(lab3_python, tmp_path_factory.mktemp("lab3-server"), shared_dirs) as server:
        yield server


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and the kernels it started (its whole process group)."""
    import signal

    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    try:  # kernels that outlived the server in the same group
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One retry for a browser test: a page that renders a beat late on two shared cores
    (seen once in about a dozen runs here) is not a failure of the panel. The retry opens its
    notebook on a new kernel (``Lab.open_notebook``); a second failure in a row still fails
    the run, with what the cell showed instead (``Lab.why_not_visible``)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.flaky(reruns=1))
