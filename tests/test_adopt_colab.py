"""Adopting on the Colab-shaped host: the full profile's packages (what google.colab needs)
go into the wizard's own group, the project's dependencies stay as written, and the kernel,
started by name through the kernel gateway, runs google.colab and imports the project."""

from __future__ import annotations

import json
from pathlib import Path

import adopt_project
import colab_host
import gateway
import pytest

from colab_wizard import colab, pyproject

PROBE = r"""
import json, sys
import google.colab, requests, myproj
ip = get_ipython()
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "mine": myproj.VALUE,
                  "kernel_class": type(ip.kernel).__module__ + "." + type(ip.kernel).__name__,
                  "google_colab": google.colab.__file__}))
"""


@pytest.mark.slow
def test_adopt_on_colab_puts_the_full_profile_in_its_own_group(
        wizard_env: dict[str, Path], colab_vm: colab_host.Host, tmp_path: Path) -> None:
    folder = adopt_project.write(tmp_path / "mine")
    done = colab_vm.wizard("adopt", str(folder), "--python", "3.12", "--name", "mine-colab")
    assert done.returncode == 0, f"adopt failed:\n{done.stdout}\n{done.stderr}"
    assert "add the dependency group 'colab-wizard' (ipykernel" in done.stdout

    doc = pyproject.parse((folder / "pyproject.toml").read_text())
    assert list(doc["project"]["dependencies"]) == ["requests>=2"], "main deps as written"
    group = doc["tool"]["poetry"]["group"]["colab-wizard"]["dependencies"]
    # Exact pins for the kernel's Python only: the project's own range stays resolvable.
    assert group["ipykernel"]["version"] == "==6.17.1" and "numpy" in group, dict(group)
    assert all(v["markers"].endswith('python_version == "3.12"') for v in group.values())
    kernel = json.loads((wizard_env["jupyter"] / "kernels" / "mine-colab" / "kernel.json")
                        .read_text())
    assert kernel["metadata"]["colab_wizard"]["profile"] == colab.FULL

    with gateway.Gateway(colab_vm, tmp_path / "gateway.log") as gw:
        started = gw.start_kernel("mine-colab")
        gw.wait_ready(started)
        got = gw.execute(started, PROBE).json_line()
        gw.shutdown(started)
    assert got["python"] == "3.12" and got["mine"] == "mine"
    assert got["kernel_class"] == "google.colab._kernel.Kernel"
    assert got["google_colab"].startswith(str(folder / ".venv"))
