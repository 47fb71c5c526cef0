"""Failures in plain words: the real tools fail for real, diagnose.py names the package and
the fix. Poetry runs against the package index, a loopback index that refuses, answers 503 or
serves a wheel for another Python, and a real sdist whose C code does not compile."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from loopback_index import LoopbackIndex, closed_port, sdist, wheel

from colab_wizard import api, plan
from colab_wizard.errors import StageError
from colab_wizard.runner import Runner

pytestmark = pytest.mark.slow


def _failure(tmp_path: Path, python: str, deps: list[str],
             index_url: Optional[str] = None) -> StageError:
    spec = api.make_spec(python, deps, name="diagnosed", project_dir=tmp_path / "project",
                         index_url=index_url)
    with pytest.raises(api.CreateFailed) as info:
        asyncio.run(api.run_spec(spec))
    assert info.value.error is not None
    return info.value.error


def _poetry_installed(tmp_path: Path) -> None:
    """Poetry's tool environment comes from the working index, before the index is broken."""
    spec = api.make_spec("3.12", [], name="tools-only", project_dir=tmp_path / "tools-only")
    runner = Runner(plan.plan(spec)[:2], tmp_path / "tools.log")
    assert asyncio.run(runner.run()) == "done"


def test_a_pin_for_an_older_python_names_its_range(wizard_env: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """The range is Poetry's; the version to move to comes from the index's files (wheel
    tags and requires-python)."""
    error = _failure(tmp_path, "3.9", ["numpy==2.1.0"])
    assert error.stage == "lock"
    assert error.message == "numpy 2.1.0 supports Python 3.10 or later, not Python 3.9"
    assert error.hint.startswith("choose Python 3.10, or an older numpy")
    assert error.hint.endswith("numpy 2.0.2 is the last with a wheel for Python 3.9")


def test_the_cli_says_it_above_the_tools_output(wizard_env: dict[str, Path]) -> None:
    """numpy==1.21.6 on 3.12, from a terminal: the sentence, then what to try, then Poetry."""
    result = subprocess.run(
        [sys.executable, "-m", "colab_wizard", "create", "--python", "3.12", "--name",
         "cli-diagnosed", "--dep", "numpy==1.21.6"],
        capture_output=True, text=True, timeout=600, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    sentence = out.index("failed: numpy 1.21.6 supports Python 3.7\u20133.10, not Python 3.12\n")
    fix = out.index("What to try: choose Python 3.10, or a newer numpy")
    assert sentence < fix < out.index("Last output")
    assert "numpy 1.26.0 is the first with a wheel for Python 3.12" in out[fix:].splitlines()[0]


def test_unknown_name_and_impossible_pin(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    error = _failure(tmp_path / "a", "3.12", ["colab-wizard-no-such-package-zz"])
    assert error.message.startswith("there is no package called colab-wizard-no-such-package-zz"
                                    " on the index")
    assert error.hint == "check the spelling of its name"
    error = _failure(tmp_path / "b", "3.12", ["six==99.0"])
    assert error.message == "no version of six on the index matches 99.0"


def test_index_refusing_or_failing(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    _poetry_installed(tmp_path)
    dead = f"http://127.0.0.1:{closed_port()}/simple/"
    error = _failure(tmp_path / "refused", "3.12", ["six"], index_url=dead)
    assert error.message == f"the package index {dead} could not be reached (it did not answer)"
    assert dead in error.hint
    with LoopbackIndex(status=503) as broken:
        error = _failure(tmp_path / "503", "3.12", ["six"], index_url=broken.index_url)
    assert error.message == (f"the package index {broken.index_url} could not be reached "
                             "(it answered 503 Service Unavailable)")


def test_git_and_url_dependencies_offline(wizard_env: dict[str, Path], tmp_path: Path) -> None:
    repo = f"https://127.0.0.1:{closed_port()}/team/mylib.git"
    error = _failure(tmp_path / "git", "3.12", [f"mylib @ git+{repo}"])
    assert error.message == (f"the git repository {repo} of mylib could not be reached "
                             "(the connection was refused)")
    with LoopbackIndex() as server:
        url = f"{server.url}files/mylib-1.0.tar.gz"
        error = _failure(tmp_path / "url", "3.12", [f"mylib @ {url}"])
    assert error.message == (f"the file {url} for mylib could not be downloaded "
                             "(it answered 404 Not Found)")


# Poetry's installer (the default), and uv (COLAB_WIZARD_UV=1) which says it in other words.
INSTALLERS = pytest.mark.parametrize("installer", ["0", "1"], ids=["poetry", "uv"])


@INSTALLERS
def test_build_from_source_names_the_compilers_first_error(wizard_env: dict[str, Path],
                                                           tmp_path: Path, installer: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("COLAB_WIZARD_UV", installer)
    name, data = sdist("cwbrokenext", "1.0", {
        "setup.py": ("from setuptools import Extension, setup\n"
                     "setup(name='cwbrokenext', version='1.0',\n"
                     "      ext_modules=[Extension('cwbrokenext', ['cwbrokenext.c'])])\n"),
        # Enough lines after the error that it is far from the last lines of the output.
        "cwbrokenext.c": "#include <Python.h>\n#include <cw_missing_header.h>\n"
                         + "".join(f"int x{i} = {i};\n" for i in range(40)),
    })
    archive = tmp_path / name
    archive.write_bytes(data)
    error = _failure(tmp_path, "3.12", [f"cwbrokenext @ {archive.as_uri()}"])
    assert error.stage == "install"
    assert error.message.startswith("cwbrokenext 1.0 had to be built from source for "
                                    "Python 3.12, and the build failed: ")
    assert error.message.endswith("cwbrokenext.c:2:10: fatal error: cw_missing_header.h: "
                                  "No such file or directory")
    assert error.hint.startswith("install the system package that provides cw_missing_header.h")


@INSTALLERS
def test_no_wheel_for_this_python(wizard_env: dict[str, Path], tmp_path: Path, installer: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_WIZARD_UV", installer)
    name, data = wheel("cwnowheel", "1.0", "cp39-cp39-manylinux_2_17_x86_64")
    with LoopbackIndex({"cwnowheel": {name: data}}) as index:
        error = _failure(tmp_path, "3.12", ["cwnowheel==1.0"], index_url=index.index_url)
    assert error.stage == "install"
    assert error.message == ("cwnowheel 1.0 has no wheel for Python 3.12 on this platform "
                             "(its wheels are for 3.9), and no source to build it from")
    assert error.hint == "choose Python 3.9, or another version of cwnowheel"


def test_index_refusing_while_poetry_is_installed(wizard_env: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """A first run (no tool environment yet): pip retries, then gives up; the sentence is the
    same as Poetry's stage would give."""
    tools = wizard_env["home"] / "tools"
    tools.unlink()  # this run's own, empty tool folder instead of the shared one
    tools.mkdir()
    dead = f"http://127.0.0.1:{closed_port()}/simple/"
    error = _failure(tmp_path, "3.12", ["six"], index_url=dead)
    assert error.stage == "poetry"
    assert error.message == (f"the package index {dead} could not be reached "
                             "(the connection was refused)")


def test_the_panels_banner_says_it(wizard_env: dict[str, Path]) -> None:
    """The same failure through the panel (the real engine, run inside the click): the
    banner above the log names the package, the Python range and the fix."""
    pytest.importorskip("ipywidgets")
    from colab_wizard.ui import Panel

    panel = Panel(mode="foreground", host="jupyter", versions=lambda: [("3.12", "3.12")],
                  check_index=False)
    panel.next.click()
    panel.deps_step.requirements.value = "numpy==1.21.6"
    panel.install_button.click()
    assert panel.install.outcome == "failed"
    banner = panel.install_step.banner.value
    assert "numpy 1.21.6 supports Python 3.7\u20133.10, not Python 3.12" in banner
    assert "What to try: choose Python 3.10, or a newer numpy" in banner
    assert panel.install_step.banner.layout.display != "none"
    page = list(panel.install_step.page.children)
    assert page.index(panel.install_step.banner) < page.index(panel.install_step.log)
