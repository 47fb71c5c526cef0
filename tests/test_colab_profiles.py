"""Kernel profiles on the Colab-shaped host (tests/colab_host.py): the wizard runs on the
host's Python 3.13 with Colab's kernel stack, system IPython config and google.colab
(the real package when COLAB_WIZARD_COLABTOOLS names a colabtools checkout), and the
kernels it makes are started by name through the kernel gateway, as Colab starts them.

*full* carries what the host's config makes every kernel import (google.colab's kernel
class and extension) with what importing them loads on the host; *plain* overrides the
config on the command line; when *full* cannot start, the wizard falls back and says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import colab_host
import gateway
import pytest

from colab_wizard import api, colab, ipyconfig
from colab_wizard.errors import SpecError

PROBE = r"""
import json, os, shutil, sys
ip = get_ipython()
from google.colab import drive, files, output
import google.colab as gc
try:
    import colab_env_marker
    leaked = True
except ImportError:
    leaked = False
import IPython, ipykernel, ipywidgets
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2], "prefix": sys.prefix,
    "kernel_class": type(ip.kernel).__module__ + "." + type(ip.kernel).__name__,
    "stack": [IPython.__version__, ipykernel.__version__, ipywidgets.__version__],
    "google_colab": gc.__file__, "extension": "google.colab" in ip.extension_manager.loaded,
    "pythonpath_leaked": leaked, "pip": shutil.which("pip"),
    "path0": os.environ["PATH"].split(os.pathsep)[0],
}))
"""
PLAIN_PROBE = r"""
import json, sys
ip = get_ipython()
try:
    import google.colab
    colab_file = google.colab.__file__
except Exception as exc:
    colab_file = "unimportable: %r" % (exc,)
print(json.dumps({"kernel_class": type(ip.kernel).__module__ + "." + type(ip.kernel).__name__,
                  "colab_file": colab_file, "prefix": sys.prefix}))
"""
# An extension only the host's own Python can import (it lives on Colab's PYTHONPATH),
# named by the host's IPython config: a new kernel cannot load it.
HOST_ONLY_EXTENSION = "def load_ipython_extension(ipython):\n    pass\n"


def full_versions() -> list[str]:
    """With the real google.colab every supported version; CI (stand-in) builds one."""
    if colab_host.colabtools() is not None:
        return ["3.9", "3.10", "3.11", "3.12", "3.13"]
    return ["3.12"]


def created(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"create failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("python", full_versions())
def test_full_profile_kernel_runs_google_colab_through_the_gateway(
    wizard_env: dict[str, Path], colab_vm: colab_host.Host, tmp_path: Path, python: str
) -> None:
    name = "colab-full-" + python.replace(".", "")
    project = wizard_env["projects"] / name
    started = time.monotonic()
    done = colab_vm.wizard("create", "--python", python, "--name", name,
                           "--project-dir", str(project))
    print(f"full profile build on {python}: {time.monotonic() - started:.1f}s "
          f"(google.colab: {'real' if colab_vm.real_colab else 'stand-in'})")
    created(done)
    assert "could not import" not in done.stdout  # no fall-back
    spec = json.loads((wizard_env["jupyter"] / "kernels" / name / "kernel.json").read_text())
    assert spec["metadata"]["colab_wizard"]["profile"] == colab.FULL
    assert spec["argv"][1:3] == ["-m", "colab_kernel_launcher"]
    assert spec["env"]["PYTHONPATH"] == ""
    assert spec["env"]["PATH"] == f"{project / '.venv' / 'bin'}{os.pathsep}${{PATH}}"
    # What `import google.colab` loads on the host, not only what it declares.
    text = (project / "pyproject.toml").read_text()
    for pinned in ("ipykernel==6.17.1", "ipython==7.34.0", "ipywidgets==7.7.1"):
        assert f'{pinned.split("==")[0]} = "=={pinned.split("==")[1]}"' in text
    for undeclared in ("numpy", "anywidget", "pillow", "httplib2"):
        assert f"\n{undeclared} = " in text
    assert "notebook" not in text and "jupyter-server" not in text

    with gateway.Gateway(colab_vm, tmp_path / "gateway.log") as gw:
        kernel = gw.start_kernel(name)
        gw.wait_ready(kernel)
        got = gw.execute(kernel, PROBE).json_line()
        assert got["python"] == python
        assert got["kernel_class"] == "google.colab._kernel.Kernel"
        assert got["extension"] is True
        assert got["stack"] == ["7.34.0", "6.17.1", "7.7.1"]
        assert got["google_colab"].startswith(str(project / ".venv"))
        assert got["pythonpath_leaked"] is False
        venv_bin = str(project / ".venv" / "bin")
        assert got["path0"] == venv_bin and got["pip"] == venv_bin + "/pip"
        # %pip (Colab's: a shell `pip`) and !pip both install into the kernel's venv.
        for cell, package in (("%pip install -q iniconfig", "iniconfig"),
                              ("!pip install -q tomli-w", "tomli_w")):
            result = gw.execute(kernel, cell)
            assert result.status == "ok", result.traceback
            where = gw.execute(kernel, f"import {package}; print({package}.__file__)")
            assert where.stdout.strip().startswith(str(project / ".venv")), where.stdout
        gw.shutdown(kernel)

        # The host's config now names an extension only the host can import: a re-run
        # re-checks the kernel, falls back to *plain* and says why in one sentence.
        colab_vm.add_env_module("colab_host_only", HOST_ONLY_EXTENSION)
        colab_vm.set_profile_config(
            "c.InteractiveShellApp.extensions = ['google.colab', 'colab_host_only']\n")
        again = colab_vm.wizard("create", "--python", python, "--name", name,
                                "--project-dir", str(project))
        created(again)
        notice = again.stdout.strip().splitlines()[-1]
        assert notice.startswith("The new kernel could not import") and notice.count(". ") == 0
        assert "(ModuleNotFoundError: No module named 'colab_host_only')" in notice
        assert "profile 'plain'" in notice
        spec = json.loads((wizard_env["jupyter"] / "kernels" / name / "kernel.json").read_text())
        assert spec["metadata"]["colab_wizard"]["profile"] == colab.PLAIN
        for arg in colab.PLAIN_ARGV:
            assert arg in spec["argv"]
        kernel = gw.start_kernel(name)
        gw.wait_ready(kernel)
        got = gw.execute(kernel, PLAIN_PROBE).json_line()
        assert got["kernel_class"] == "ipykernel.ipkernel.IPythonKernel"
        assert got["prefix"].startswith(str(project))

    # An unchanged re-run keeps the fallback without trying 'full' again, and says so again.
    started = time.monotonic()
    third = colab_vm.wizard("create", "--python", python, "--name", name,
                            "--project-dir", str(project))
    created(third)
    assert third.stdout.strip().splitlines()[-1] == notice
    assert "Start the kernel once: skipped" in third.stdout
    print(f"unchanged re-run: {time.monotonic() - started:.1f}s")


@pytest.mark.slow
def test_without_a_profile_colabs_config_kills_the_kernel_and_nothing_is_registered(
    wizard_env: dict[str, Path], colab_vm: colab_host.Host, other_python: str
) -> None:
    refused = colab_vm.wizard("create", "--python", other_python, "--name", "colab-none",
                              "--project-dir", str(wizard_env["projects"] / "none"),
                              "--profile", "none")
    assert refused.returncode != 0
    assert "Start the kernel once: FAILED" in refused.stdout
    assert not (wizard_env["jupyter"] / "kernels" / "colab-none").exists()


@pytest.mark.slow
def test_a_plain_jupyter_host_whose_config_names_a_kernel_class_it_alone_has_gets_plain(
    wizard_env: dict[str, Path], other_python: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not Colab at all: the wizard runs here, in this process; the host's IPython profile
    names a kernel class from a distribution the package index does not have. *full*
    cannot carry it (and must not make the lock fail), so the kernel gets *plain*; it
    never registers a kernel that cannot start."""
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    extension_dir = tmp_path / "host-only"
    extension_dir.mkdir()
    (extension_dir / "host_only_kernel.py").write_text(
        "from ipykernel.ipkernel import IPythonKernel\n\n\nclass Kernel(IPythonKernel):\n"
        "    pass\n")
    # Installed as a distribution the package index does not have (a private one).
    dist = extension_dir / "colab_wizard_test_host_only-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: colab-wizard-test-host-only\nVersion: 1.0\n")
    (dist / "RECORD").write_text("host_only_kernel.py,,\n")
    monkeypatch.syspath_prepend(str(extension_dir))
    monkeypatch.setenv("PYTHONPATH", str(extension_dir))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    (tmp_path / "ipython" / "profile_default").mkdir(parents=True)
    (tmp_path / "ipython" / "profile_default" / "ipython_config.py").write_text(
        "c = get_config()\nc.IPKernelApp.kernel_class = 'host_only_kernel.Kernel'\n")
    monkeypatch.setattr(ipyconfig, "system_dirs", lambda: [])
    assert colab.choose_profile() == colab.FULL
    made = api.create(other_python, [], name="ext-fb",
                      project_dir=wizard_env["projects"] / "ext-fb")
    assert made.profile == colab.PLAIN
    assert made.notice is not None and "host_only_kernel" in made.notice
    assert "colab-wizard-test-host-only" not in (made.project_dir / "pyproject.toml").read_text()
    spec = json.loads((made.kernel_dir / "kernel.json").read_text())
    for arg in colab.PLAIN_ARGV:
        assert arg in spec["argv"]


def test_host_config_demands_what_every_kernel_must_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that is not Colab but whose IPython config names an extension or kernel class
    gets the *full* profile (with *plain* as its fallback); without one, none."""
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    profile = tmp_path / "profile_default"
    profile.mkdir()
    monkeypatch.setattr(ipyconfig, "system_dirs", lambda: [tmp_path / "system"])
    assert ipyconfig.read().modules == ()
    assert colab.choose_profile() == colab.NONE

    (tmp_path / "system").mkdir()
    (tmp_path / "system" / "ipython_config.py").write_text(
        "c = get_config()\nc.IPKernelApp.kernel_class = 'mykernels.Kernel'\n"
        "c.InteractiveShellApp.extensions = ['autoreload']\n")
    # The profile ranks above the system config; the kernel app's own section above its
    # parent's.
    (profile / "ipython_kernel_config.py").write_text(
        "c = get_config()\nc.IPKernelApp.extensions = ['storemagic', 'myext']\n")
    demands = ipyconfig.read()
    assert demands.modules == ("mykernels", "storemagic", "myext")
    assert len(demands.sources) == 2
    assert colab.choose_profile() == colab.FULL


def test_every_profile_puts_the_venv_first_on_path(tmp_path: Path) -> None:
    for profile in colab.PROFILES:
        _, env, _ = colab.kernel_extras(profile, tmp_path / ".venv")
        assert env["PATH"] == f"{tmp_path / '.venv' / 'bin'}{os.pathsep}${{PATH}}"


def test_fallback_reason_is_one_sentence_naming_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(colab, "demanded_modules", lambda: colab.COLAB_MODULES)
    tail = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
            "ModuleNotFoundError: No module named 'numpy'",
            "The kernel did not start: Kernel died before replying to kernel_info"]
    reason = colab.fallback_reason(tail)
    assert reason.count(". ") == 0 and reason.endswith(".")
    assert "google.colab._kernel and google.colab" in reason
    assert "(ModuleNotFoundError: No module named 'numpy')" in reason


def test_profile_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    monkeypatch.setattr(ipyconfig, "system_dirs", lambda: [])
    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    assert colab.choose_profile() == colab.NONE
    assert colab.choose_profile("plain") == colab.PLAIN
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    assert colab.choose_profile() == colab.FULL
    assert colab.choose_profile("none") == colab.NONE
    with pytest.raises(SpecError) as caught:
        colab.choose_profile("fancy")
    assert caught.value.field == "profile" and "choose auto, full, plain or none" in str(
        caught.value)
