"""Shared fixtures: every test runs against temporary Jupyter, Poetry and wizard dirs.

Poetry's tool environment and package cache are shared by the whole session
(building them is the slow part and not what most tests are about); kernels,
projects and logs are per test, so nothing touches the user's real setup.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path
from typing import Iterator

import colab_host
import pytest

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


@pytest.fixture(scope="session")
def shared_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shared")
    dirs = {"tools": root / "tools", "poetry_cache": root / "poetry-cache"}
    for path in dirs.values():
        path.mkdir()
    return dirs


@pytest.fixture
def wizard_env(tmp_path: Path, shared_dirs: dict[str, Path],
               monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """Point the wizard, Jupyter and Poetry at temporary folders for one test."""
    home = tmp_path / "wizard-home"
    home.mkdir()
    (home / "tools").symlink_to(shared_dirs["tools"])
    dirs = {
        "home": home,
        "jupyter": tmp_path / "jupyter-data",
        "poetry_config": tmp_path / "poetry-config",
        "projects": tmp_path / "projects",
    }
    monkeypatch.setenv("COLAB_WIZARD_HOME", str(home))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(dirs["jupyter"]))
    monkeypatch.setenv("POETRY_CACHE_DIR", str(shared_dirs["poetry_cache"]))
    monkeypatch.setenv("POETRY_CONFIG_DIR", str(dirs["poetry_config"]))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # Jupyter also searches the user site (~/.local/share/jupyter): not the user's kernels.
    monkeypatch.setattr(site, "ENABLE_USER_SITE", False)
    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    monkeypatch.setenv("PYENV_ROOT", str(PYENV_VERSIONS.parent))
    monkeypatch.delenv("COLAB_WIZARD_HOST", raising=False)
    yield dirs


def _other_minor() -> str:
    """A local CPython minor version different from the one running the tests."""
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for minor in ("3.12", "3.13", "3.11", "3.10"):
        if minor == host:
            continue
        if any((d / "bin" / f"python{minor}").exists() for d in PYENV_VERSIONS.glob(minor + ".*")):
            return minor
    pytest.skip("no second CPython under PYENV_ROOT/versions")


@pytest.fixture(scope="session")
def other_python() -> str:
    return _other_minor()


@pytest.fixture(autouse=True)
def forget_stand_in_colab() -> Iterator[None]:
    """Tests import a stand-in ``google.colab``; left in sys.modules, every later test
    would "see" Colab (``host.detect_host``) and write projects under /content."""
    before = set(sys.modules)
    yield
    for module in set(sys.modules) - before:
        if module.split(".")[0] in ("google", "colab_kernel_launcher"):
            del sys.modules[module]


@pytest.fixture
def colab_vm(wizard_env: dict[str, Path], tmp_path: Path) -> colab_host.Host:
    """A Colab-shaped host for this test (tests/colab_host.py), with wizard_env's dirs."""
    return colab_host.make_host(tmp_path / "colab-vm")
