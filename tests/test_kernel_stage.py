"""The kernel stage finds ipykernel on disk (the verify stage's kernel start imports it)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from colab_wizard.plan import ipykernel_version


def test_ipykernel_found_on_disk_in_an_environment_that_has_it() -> None:
    import ipykernel

    # The environment the tests' ipykernel is installed in: <prefix>/lib/python3.X/site-packages.
    prefix = Path(ipykernel.__file__).parents[4]
    assert ipykernel_version(prefix) == importlib.metadata.version("ipykernel")


def test_a_venv_without_ipykernel_has_none(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert ipykernel_version(venv) is None
    assert ipykernel_version(tmp_path / "missing") is None


def test_lockcheck_finds_what_pip_check_finds_in_a_real_environment() -> None:
    import asyncio

    from colab_wizard import lockcheck

    found = asyncio.run(lockcheck.survey(Path(sys.executable)))
    assert found.versions["ipykernel"] == importlib.metadata.version("ipykernel")
    assert found.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    pip = subprocess.run([sys.executable, "-I", "-m", "pip", "check",
                          "--disable-pip-version-check"], capture_output=True, text=True)
    from packaging.utils import canonicalize_name

    said = {canonicalize_name(line.split()[0]) for line in pip.stdout.splitlines()
            if "requires" in line or "has requirement" in line}
    assert {line.split()[0] for line in found.unmet()} == said
