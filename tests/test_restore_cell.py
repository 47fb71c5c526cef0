"""The switched notebook's first cell, EXECUTED on a fresh Colab-shaped VM with the index
unreachable: it mounts Drive, installs colab_wizard from the saved wheels, restores the
kernel from the save; the rebuilt kernel then starts by name through the kernel gateway
and imports a dependency."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import colab_host
import gateway
import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from page_peer import HostKernel
from test_adopt_e2e import execute_in_a_notebook_kernel
from test_freshvm import dead_loopback_url

from colab_wizard import colab, freshvm, kernels, notebook
from colab_wizard.api import create
from colab_wizard.spec import EnvSpec
from colab_wizard.version import __version__

# google.colab.drive.mount asks the page for credentials; here Drive is a local folder.
FAKE_DRIVE = ("import google.colab.drive as d\n"
              "d.mount = lambda mountpoint, **kw: print('mounted', mountpoint, flush=True)\n")


def fresh_python(host: colab_host.Host, where: Path) -> Path:
    """The host's Python as a fresh VM has it (Colab's packages, no colab_wizard), in a
    virtualenv of its own that the cell may install into (the host image stays as it is)."""
    subprocess.run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", "-p",
                    str(colab_host.host_python()), str(where)], check=True)
    site = next((where / "lib").glob("python3*/site-packages"))
    image_site = next((host.venv / "lib").glob("python3*/site-packages"))
    (site / "colab_image.pth").write_text(f"{image_site}\n")
    return where / "bin" / "python"


@pytest.mark.slow
def test_first_cell_restores_on_a_fresh_vm_without_the_index(
    colab_vm: colab_host.Host, wizard_env: dict[str, Path], other_python: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first VM: build the kernel (plain: it starts under Colab's config), save it on Drive.
    project = tmp_path / "content" / "cell-rt"
    made = create(other_python, ["tabulate>=0.9"], name="cell-rt", project_dir=project,
                  profile="plain")
    drive = tmp_path / "drive" / "MyDrive"
    monkeypatch.setattr(colab, "DRIVE_ROOT", drive)
    saved = freshvm.save(drive / colab.DRIVE_FOLDER, "cell-rt")
    manifest = freshvm.read_manifest(saved.folder)
    assert manifest["colab_wizard"]["version"] == __version__
    assert manifest["colab_wizard"]["missing"] == []

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import tabulate")]
    spec, profile, _ = freshvm.spec_of("cell-rt")
    copy = notebook.write_switched(json.loads(nbformat.writes(nb)), spec,
                                   tmp_path / "switched.ipynb", drive / colab.DRIVE_FOLDER,
                                   profile)
    first = json.loads(copy.read_text())["cells"][0]
    cell = "".join(first["source"])
    assert f"drive.mount({str(drive.parent)!r})" in cell

    # The fresh VM: no project, no kernel, no colab_wizard, empty caches, no index at all.
    shutil.rmtree(project)
    kernels.remove("cell-rt")
    fresh = tmp_path / "fresh"
    dead = dead_loopback_url()
    env = {k: v for k, v in colab_vm.base_env.items()
           if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
    python = fresh_python(colab_vm, fresh / "host-python")
    env.update({"COLAB_WIZARD_HOME": str(fresh / "home"),
                "POETRY_CACHE_DIR": str(fresh / "poetry-cache"),
                "PIP_INDEX_URL": dead, "COLAB_WIZARD_INDEX_URL": dead,
                "PIP_CONFIG_FILE": os.devnull,
                "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', os.defpath)}"})
    vm = dataclasses.replace(colab_vm, base_env=env)

    kernel = HostKernel(vm, tmp_path, python=python, name="fresh-python3")
    try:
        kernel.run(FAKE_DRIVE)
        out = kernel.run(cell, timeout=900)
        print(out)
        assert out.startswith(f"mounted {drive.parent}")
        where = json.loads(kernel.run(
            "import colab_wizard, json, sys\n"
            "from importlib import metadata\n"
            "print(json.dumps([colab_wizard.__file__, metadata.version('colab-wizard'), "
            "sys.prefix]))").strip())
    finally:
        kernel.close()
    assert where[0].startswith(str(fresh / "host-python"))  # installed from the saved wheel
    assert where[1] == __version__
    assert (project / ".venv").is_dir()
    spec_json = json.loads((kernels.user_kernels_dir() / "cell-rt" / "kernel.json").read_text())
    assert spec_json["metadata"]["colab_wizard"]["profile"] == colab.PLAIN

    # The rebuilt kernel, started by name the way Colab's backend does, imports tabulate.
    with gateway.Gateway(vm, tmp_path / "gateway.log") as gw:
        kid = gw.start_kernel("cell-rt")
        gw.wait_ready(kid)
        got = gw.execute(kid, "import json, sys, tabulate\n"
                              "print(json.dumps([sys.prefix, tabulate.__version__]))"
                         ).json_line()
        gw.shutdown(kid)
    assert got[0] == str(project / ".venv")
    assert got[1]
    assert made.name == "cell-rt"


@pytest.mark.slow
def test_first_cell_without_a_save_creates_from_the_spec(
    wizard_env: dict[str, Path], other_python: str, tmp_path: Path,
) -> None:
    """No save: the cell builds the kernel from its spec (colab_wizard already importable in
    the notebook's kernel, as after a first run of the cell), and the new kernel works."""
    spec = EnvSpec.make(other_python, ["tabulate>=0.9"], name="cell-new",
                        project_dir=tmp_path / "content" / "cell-new")
    cell = notebook.restore_source(spec, save_dir=tmp_path / "no-drive")
    assert "restore(" not in cell

    execute_in_a_notebook_kernel(cell, wizard_env, tmp_path)
    assert (spec.project_dir / "poetry.lock").is_file()

    km, client = start_new_kernel(kernel_name="cell-new", env=dict(os.environ))
    try:
        got: list[str] = []
        client.execute_interactive(
            "import sys, tabulate; print(sys.prefix)", timeout=120,
            output_hook=lambda msg: got.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert "".join(got).strip() == str(spec.project_dir / ".venv")
