"""'Use it in this notebook' on the Colab-shaped host, restarted the way Colab restarts.

The notebook's kernel is the host's ``python3`` (``python3 -m colab_kernel_launcher``),
started by name through a real kernel gateway and restarted through its REST API: the
same kernel manager re-runs the same argv, as Colab's backend does. ``use`` is run from
the host's command line (its Python, this tree's colab_wizard).

The host image is shared and read-only, so each test gets its own copy of the launcher
in the host's ``/env/python``-style folder, which that argv finds first (it is on
``PYTHONPATH``): the file ``use`` rewrites is then this test's alone, found the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import colab_host
import gateway
import pytest

PROBE = r"""
import json, os, sys
got = {"version": "%d.%d.%d" % sys.version_info[:3], "prefix": sys.prefix,
       "kernel_class": type(get_ipython().kernel).__module__ + "."
       + type(get_ipython().kernel).__name__,
       "fell_back": os.environ.get("COLAB_WIZARD_FELL_BACK"),
       "switched": "COLAB_WIZARD_INPLACE" in os.environ}
try:
    from google.colab._kernel import Kernel
    got["colab_kernel"] = Kernel.__module__
except Exception as exc:
    got["colab_kernel"] = repr(exc)
try:
    import tabulate
    got["dependency"] = tabulate.__version__
except ImportError:
    got["dependency"] = None
try:
    from colab_wizard import inplace
    running, back = inplace.running_switch(), inplace.fell_back()
    got["running_switch"] = running.name if running else None
    got["sentence"] = back.sentence() if back else None
except Exception as exc:
    got["running_switch"] = got["sentence"] = repr(exc)
print(json.dumps(got))
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def probe(gw: gateway.Gateway, kernel: str) -> dict[str, Any]:
    gw.wait_ready(kernel)
    got: dict[str, Any] = gw.execute(kernel, PROBE).json_line()
    return got


def restart(gw: gateway.Gateway, kernel: str) -> dict[str, Any]:
    """Runtime > Restart session: the gateway's REST restart, then the probe."""
    started = time.monotonic()
    gw.restart(kernel)
    got = probe(gw, kernel)
    print(f"restart to ready: {time.monotonic() - started:.1f}s -> {got['version']}")
    return got


def wizard(host: colab_host.Host, *args: str, expect: int = 0) -> str:
    done = host.wizard(*args)
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def launcher(colab_vm: colab_host.Host) -> Path:
    """This test's own copy of the host's colab_kernel_launcher, first on the argv's path."""
    site = next((colab_vm.venv / "lib").glob("python3*/site-packages"))
    copy = colab_vm.env_python / "colab_kernel_launcher.py"
    shutil.copy2(site / "colab_kernel_launcher.py", copy)
    return copy


@pytest.mark.slow
def test_use_restart_reset_and_a_broken_environment_through_the_gateway(
    colab_vm: colab_host.Host, launcher: Path, other_python: str, tmp_path: Path,
    wizard_env: dict[str, Path],
) -> None:
    host = colab_vm
    original = sha(launcher)
    original_stat = launcher.stat()
    wizard(host, "create", "--python", other_python, "--name", "other", "--dep", "tabulate",
           "--project-dir", str(tmp_path / "other"))

    with gateway.Gateway(host, tmp_path / "gateway.log") as gw:
        kernel = gw.start_kernel("python3")
        before = probe(gw, kernel)
        assert before["version"].startswith(colab_host.COLAB_MINOR + ".")
        assert before["switched"] is False

        said = wizard(host, "use", "other")
        assert "Restart session" in said
        switched = restart(gw, kernel)
        assert switched["version"].startswith(other_python + ".")
        assert switched["prefix"] != before["prefix"]
        spec = json.loads((wizard_env["jupyter"] / "kernels" / "other" / "kernel.json").read_text())
        profile = spec["metadata"]["colab_wizard"].get("profile")
        assert profile == "full"  # google.colab's kernel class, as in Colab's own kernel
        assert switched["kernel_class"] == "google.colab._kernel.Kernel"
        assert switched["colab_kernel"] == "google.colab._kernel"
        assert switched["dependency"] is not None
        assert switched["running_switch"] == "other"  # colab_wizard importable there
        assert "other" in wizard(host, "use")

        # A second restart stays switched (the shim survives its own start).
        assert restart(gw, kernel)["version"] == switched["version"]

        wizard(host, "use", "--reset")
        assert sha(launcher) == original
        assert launcher.stat().st_mode == original_stat.st_mode
        assert launcher.stat().st_mtime_ns == original_stat.st_mtime_ns
        back = restart(gw, kernel)
        assert back["version"] == before["version"] and back["fell_back"] is None

        # A package that fails at import: that start falls back and undoes the switch.
        venv = Path(switched["prefix"])
        site = next((venv / "lib").glob("python3*/site-packages"))
        colab_init = site / "google" / "colab" / "__init__.py"  # fatal under Colab's config
        kept = colab_init.read_text()
        colab_init.write_text("raise RuntimeError('broken on purpose')\n" + kept)
        wizard(host, "use", "other")
        fell = restart(gw, kernel)
        assert fell["version"] == before["version"]
        assert fell["kernel_class"] == "google.colab._kernel.Kernel"
        assert "broken on purpose" in fell["fell_back"]
        assert "could not start" in fell["sentence"]
        assert sha(launcher) == original
        colab_init.write_text(kept)

        # The environment's interpreter broken: the same.
        wizard(host, "use", "other")
        venv_python = venv / "bin" / "python"
        venv_python.unlink()
        venv_python.write_text("#!/bin/sh\necho 'interpreter broken on purpose' >&2\nexit 3\n")
        os.chmod(venv_python, 0o755)
        broken = restart(gw, kernel)
        assert broken["version"] == before["version"]
        assert "interpreter broken on purpose" in broken["fell_back"]
        assert sha(launcher) == original
        assert "Colab's own Python" in wizard(host, "use")
        # And the next restart is plainly Colab's own kernel again.
        assert restart(gw, kernel)["fell_back"] is None
        gw.shutdown(kernel)
