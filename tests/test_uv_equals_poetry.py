"""uv installs what Poetry would: the wizard's venv (lock exported, installed by uv) holds
the very distributions ``poetry sync`` puts into a venv of its own from the same lock,
and the project stays Poetry's: ``poetry check --lock`` passes, ``poetry sync`` in it
changes nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from colab_wizard import api, interpreters, wheelhouse
from colab_wizard.plan import Workspace
from colab_wizard.procenv import clean_env
from colab_wizard.spec import PythonVersion

pytestmark = pytest.mark.slow

DATA_SCIENCE = ["numpy", "pandas", "matplotlib", "scikit-learn"]
MARKERS_AND_EXTRAS = [
    "requests[socks]>=2.31",
    "colorama; sys_platform == 'win32'",
    "tomli>=2; python_version < '3.11'",
    "typing-extensions; python_version >= '3.9'",
    "attrs[tests-mypy]",
]


def _poetry(ws: Workspace, cwd: Path, *args: str) -> str:
    done = subprocess.run(ws.poetry_argv(*args), cwd=cwd, capture_output=True, text=True,
                          env=clean_env(ws.poetry_env_vars()), timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("deps", [DATA_SCIENCE, MARKERS_AND_EXTRAS],
                         ids=["data-science", "markers-and-extras"])
def test_uv_venv_equals_poetry_sync(wizard_env: dict[str, Path], tmp_path: Path,
                                    deps: list[str]) -> None:
    found = interpreters.find(PythonVersion(12))
    if found is None:
        pytest.skip("no CPython 3.12 here")
    project = wizard_env["projects"] / "ours"
    made = api.create("3.12", deps, name="uv-twin", project_dir=project)
    ours = wheelhouse.installed(made.venv_python)
    locked = wheelhouse.locked((project / "poetry.lock").read_text())
    assert set(ours) - wheelhouse.SEEDED <= set(locked) and "ipykernel" in ours
    assert all(locked[name][0] == version for name, version in ours.items() if name in locked)

    ws = Workspace(api.make_spec("3.12", deps, name="uv-twin", project_dir=project))
    twin = tmp_path / "twin"
    twin.mkdir()
    for name in ("pyproject.toml", "poetry.lock", "poetry.toml"):
        shutil.copyfile(project / name, twin / name)
    _poetry(ws, twin, "env", "use", str(found.path))
    _poetry(ws, twin, "sync")
    theirs = wheelhouse.installed(twin / ".venv" / "bin" / "python")
    # Both venvs carry a pip their maker seeds (kept by poetry sync); nothing else differs.
    assert "pip" in ours and "pip" in theirs

    def pinned(dists: dict[str, str]) -> dict[str, str]:
        return {n: v for n, v in dists.items() if n not in wheelhouse.SEEDED or n in locked}

    assert pinned(theirs) == pinned(ours)

    _poetry(ws, project, "check", "--lock")
    out = _poetry(ws, project, "sync")
    assert "No dependencies to install or update" in out, out
    assert wheelhouse.installed(made.venv_python) == ours
