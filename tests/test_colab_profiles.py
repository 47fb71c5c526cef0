"""Kernel profiles against a Colab-shaped host: *full* carries google.colab, *plain* overrides.

The host is built in the test (tests/colab_host.py): an IPython config demanding
``google.colab._kernel.Kernel`` and the ``google.colab`` extension (failures fatal),
a stand-in google-colab distribution on the host's path, ``PYTHONPATH`` and
``UV_*`` exported, ``COLAB_RELEASE_TAG`` set so the wizard sees Colab.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import colab_host
import pytest

from colab_wizard import api, colab, kernels
from colab_wizard.preflight import run_kernel

PROBE = r"""
import json, sys
ip = get_ipython()
try:
    import google.colab as gc
    colab_file = gc.__file__
except Exception as exc:
    colab_file = "unimportable: %r" % (exc,)
try:
    import colab_env_marker
    leaked = True
except ImportError:
    leaked = False
import IPython, ipykernel
print(json.dumps({"prefix": sys.prefix, "stack": [IPython.__version__, ipykernel.__version__],
                  "kernel_class": type(ip.kernel).__module__ + "."
                  + type(ip.kernel).__name__, "colab_file": colab_file,
                  "extension": bool(ip.user_ns.get("_colab_extension_loaded")),
                  "pythonpath_leaked": leaked}))
"""


@pytest.fixture
def colab_vm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Turns this test's process into a Colab-shaped host (see tests/colab_host.py)."""

    def make(host_only: bool) -> None:
        host = colab_host.build(tmp_path / "colab-host", host_only_dependency=host_only)
        monkeypatch.syspath_prepend(str(host["site"]))
        monkeypatch.setenv("IPYTHONDIR", str(host["ipython_dir"]))
        monkeypatch.setenv("PYTHONPATH", str(host["env_python"]))
        monkeypatch.setenv("UV_SYSTEM_PYTHON", "true")
        monkeypatch.setenv("UV_CONSTRAINT", str(host["constraint"]))
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")

    return make


def registered_names(wizard_env: dict[str, Path]) -> set[str]:
    kernels_dir = wizard_env["jupyter"] / "kernels"
    return {p.name for p in kernels_dir.iterdir()} if kernels_dir.is_dir() else set()


def probe(name: str) -> dict[str, object]:
    return run_kernel(kernels.user_kernels_dir() / name, PROBE, timeout=90)


@pytest.mark.slow
def test_full_profile_kernel_starts_with_colab_config_and_imports_google_colab(
    wizard_env: dict[str, Path], other_python: str, colab_vm: Callable[[bool], None]
) -> None:
    colab_vm(False)
    assert colab.choose_profile() == colab.FULL
    started = time.monotonic()
    made = api.create(other_python, [], name="colab-full",
                      project_dir=wizard_env["projects"] / "full")
    print(f"full profile build: {time.monotonic() - started:.1f}s")
    assert made.profile == colab.FULL
    spec = json.loads((made.kernel_dir / "kernel.json").read_text())
    assert spec["argv"][1:3] == ["-m", "colab_kernel_launcher"]
    assert spec["env"] == {"PYTHONPATH": ""}
    # The copy's requirements went into the project as a Poetry group.
    # google-colab's runtime requirements went into the project as a Poetry group: exact
    # pins relaxed to lower bounds (but the kernel stack's), server-only ones and extras left out.
    text = (made.project_dir / "pyproject.toml").read_text()
    assert "[tool.poetry.group.colab.dependencies]" in text
    assert 'portpicker = ">=1.5.2"' in text
    assert "notebook" not in text and "pytest" not in text
    result = probe("colab-full")
    assert result["kernel_class"] == "google.colab._kernel.Kernel"
    assert result["stack"] == ["7.34.0", "6.17.1"]  # Colab's kernel stack, as its metadata pins
    assert str(result["colab_file"]).startswith(str(result["prefix"]))
    assert result["extension"] is True
    assert result["pythonpath_leaked"] is False


@pytest.mark.slow
def test_unimportable_google_colab_falls_back_to_plain_and_never_registers_a_failing_kernel(
    wizard_env: dict[str, Path], other_python: str, colab_vm: Callable[[bool], None]
) -> None:
    colab_vm(True)
    project = wizard_env["projects"] / "fallback"
    # No profile at all: Colab's config kills the kernel; the pre-flight catches it.
    with pytest.raises(api.CreateFailed) as failed:
        api.create(other_python, [], name="colab-fb", project_dir=project, profile="none")
    assert failed.value.error is not None and failed.value.error.stage == "verify"
    assert "colab-fb" not in registered_names(wizard_env)

    made = api.create(other_python, [], name="colab-fb", project_dir=project)
    assert made.profile == colab.PLAIN
    log = made.log_path.read_text()
    assert "trying profile 'plain'" in log
    spec = json.loads((made.kernel_dir / "kernel.json").read_text())
    assert spec["metadata"]["colab_wizard"]["profile"] == colab.PLAIN
    for arg in colab.PLAIN_ARGV:
        assert arg in spec["argv"]
    result = probe("colab-fb")
    assert result["kernel_class"] == "ipykernel.ipkernel.IPythonKernel"
    assert str(result["colab_file"]).startswith("unimportable")
    assert result["pythonpath_leaked"] is False

    # An unchanged re-run keeps the fallback without trying 'full' again.
    started = time.monotonic()
    again = api.create(other_python, [], name="colab-fb", project_dir=project)
    assert again.profile == colab.PLAIN
    assert time.monotonic() - started < 10


def test_full_requirements_follow_colabs_metadata(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The shape of Colab's google-colab 1.0.0 metadata, read from the host like on Colab."""
    site = tmp_path / "site"
    dist = site / "google_colab-1.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: google-colab\nVersion: 1.0.0\n"
        + "".join(f"Requires-Dist: {r}\n" for r in (
            "google-auth==2.38.0", "ipykernel==6.17.1", "ipyparallel==8.8.0", "ipython==7.34.0",
            "notebook==6.5.7", "pandas==2.2.2", "portpicker==1.5.2", "requests==2.32.3",
            "tornado==6.4.2", 'pytest ; extra == "tests"'))
    )
    monkeypatch.syspath_prepend(str(site))
    wanted = colab.full_requirements()
    assert "ipykernel==6.17.1" in wanted and "ipython==7.34.0" in wanted
    assert "pandas>=2.2.2" in wanted and "tornado>=6.4.2" in wanted
    assert not any(r.startswith(("notebook", "ipyparallel", "pytest")) for r in wanted)
    assert any(r.startswith("ipywidgets==") for r in wanted)  # the host's, for the page
    assert "ipython-genutils" in wanted


def test_profile_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    assert colab.choose_profile() is None
    assert colab.choose_profile("plain") == colab.PLAIN
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab")
    assert colab.choose_profile() == colab.FULL
    assert colab.choose_profile("none") is None
    with pytest.raises(ValueError):
        colab.choose_profile("fancy")
