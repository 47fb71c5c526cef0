"""A host Python without ``ensurepip`` (as on Colab) still gets Poetry and a kernel.

The host is a virtualenv of the test's Python whose site dir carries a ``.pth``
that makes ``import ensurepip`` fail, in that interpreter and every process the
wizard starts with it; the wizard CLI runs under it with an empty tools dir, so
Poetry's tool environment is made there and then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from colab_wizard import settings
from colab_wizard.procenv import clean_env

ROOT = Path(__file__).resolve().parent.parent
BLOCK = "import sys; sys.modules['ensurepip'] = None  # no ensurepip, as on Colab\n"


@pytest.mark.slow
@pytest.mark.parametrize("uv,maker", [("1", "uv = "), ("0", "virtualenv = ")],
                         ids=["uv", "virtualenv-fallback"])
def test_host_without_ensurepip_gets_poetry_and_a_kernel(
    wizard_env: dict[str, Path], other_python: str, tmp_path: Path, uv: str, maker: str
) -> None:
    """Neither installer needs ensurepip: uv (the default) nor the virtualenv + pip path
    used when uv cannot be had; pyvenv.cfg names which one made the tool environment."""
    hostenv = tmp_path / "host-python"
    subprocess.run([sys.executable, "-m", "virtualenv", "--no-periodic-update",
                    "--system-site-packages", str(hostenv)], check=True, capture_output=True)
    host_py = hostenv / "bin" / "python"
    site = subprocess.run([str(host_py), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], check=True, capture_output=True, text=True).stdout
    (Path(site.strip()) / "_colab_no_ensurepip.pth").write_text(BLOCK)
    # The wizard's own requirements, as a host with it installed has them: the test's site
    # dirs (--system-site-packages reaches only the base interpreter's, which lacks them
    # when the tests run in a venv of their own).
    (Path(site.strip()) / "_test_site.pth").write_text(
        "".join(f"{p}\n" for p in sys.path if p.endswith("-packages")))
    probe = subprocess.run([str(host_py), "-c", "import ensurepip"], capture_output=True,
                           text=True)
    assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr

    fresh_home = tmp_path / "fresh-home"  # no Poetry yet: it is made under this host
    env = clean_env({"COLAB_WIZARD_HOME": str(fresh_home), settings.UV.name: uv})
    proc = subprocess.run(
        [str(host_py), "-m", "colab_wizard", "create", "--python", other_python,
         "--name", "no-ensurepip", "--project-dir", str(wizard_env["projects"] / "nep")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    assert proc.returncode == 0
    tool_env = fresh_home / "tools" / "poetry"
    assert maker in (tool_env / "pyvenv.cfg").read_text()
    assert (tool_env / "bin" / "poetry").exists()
    assert (wizard_env["jupyter"] / "kernels" / "no-ensurepip" / "kernel.json").exists()
    assert os.access(wizard_env["projects"] / "nep" / ".venv" / "bin" / "python", os.X_OK)
