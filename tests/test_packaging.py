"""What a release publishes: the sdist and wheel of ``colab-wizard``, checked as PyPI would,
and the wheel working in a clean virtualenv (not this source tree)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import colab_wizard

ROOT = Path(__file__).resolve().parent.parent
DIST = "colab-wizard"


def run(argv: list[object], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=900, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc  # type: ignore[no-any-return]


def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name).decode()


@pytest.mark.slow
def test_build_twine_check_and_the_wheel_in_a_clean_venv(
    wizard_env: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    # Not from the source tree: an in-tree build/ folder (left by pip) would shadow `build`.
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=tmp_path)
    version = colab_wizard.__version__
    wheel = out / f"colab_wizard-{version}-py3-none-any.whl"
    sdist = out / f"colab_wizard-{version}.tar.gz"
    assert sorted(p.name for p in out.iterdir()) == sorted([wheel.name, sdist.name])
    meta = wheel_metadata(wheel)
    assert f"Name: {DIST}\n" in meta and f"Version: {version}\n" in meta
    assert "Requires-Python: >=3.9" in meta
    with zipfile.ZipFile(wheel) as zf:
        assert "colab_wizard/py.typed" in zf.namelist()
        assert not any(n.startswith("tests/") for n in zf.namelist())
    run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist])

    # A clean venv: no system site-packages, dependencies from the index, cwd elsewhere.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", wheel])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run([python, "-c", "import colab_wizard, json; print(json.dumps("
                 "[colab_wizard.__file__, colab_wizard.__version__]))"], cwd=tmp_path, env=env)
    file, installed = json.loads(where.stdout)
    assert file.startswith(str(venv)) and installed == version
    helped = run([python, "-m", "colab_wizard", "--help"], cwd=tmp_path, env=env)
    for command in ("create", "demo", "save", "restore", "doctor"):
        assert command in helped.stdout
    demo = run([python, "-m", "colab_wizard", "demo"], cwd=tmp_path, env=env)
    assert "Kernel 'colab-wizard-demo'" in demo.stdout and "is ready" in demo.stdout
    kernel = json.loads((wizard_env["jupyter"] / "kernels" / "colab-wizard-demo"
                         / "kernel.json").read_text())
    assert kernel["metadata"]["colab_wizard"]


def test_release_workflow_publishes_a_tag_with_trusted_publishing() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert flow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key "on" as True
    build, publish = flow["jobs"]["build"], flow["jobs"]["publish"]
    steps = [s.get("run", "") for s in build["steps"]]
    assert "python -m build" in steps and any("twine check --strict" in s for s in steps)
    assert publish["needs"] == "build"
    # Trusted publishing: an OIDC token, no stored password or API token.
    assert publish["permissions"] == {"id-token": "write"}
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
    assert "password" not in json.dumps(publish)
    assert publish["environment"]["url"].endswith("/p/" + DIST)


def test_every_install_instruction_names_the_published_distribution(
    wizard_env: dict[str, Path]
) -> None:
    """README, the quickstart notebook and doctor say `pip install colab-wizard`; no
    placeholder in any cell a user runs."""
    readme = (ROOT / "README.md").read_text()
    assert f"pip install {DIST}" in readme
    nb = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(f"pip install -q {DIST}" in c for c in code)
    for cell in code:
        assert "OWNER" not in cell and "git+" not in cell
    from colab_wizard.doctor import report
    assert re.search(rf"pip install (-U )?{DIST}\b", report(check_kernels=False))


@pytest.mark.slow
def test_saved_wheels_install_colab_wizard_without_the_index(tmp_path: Path) -> None:
    """What a save writes for the first cell of a fresh VM: colab_wizard's own wheel and its
    dependencies', enough for `pip --no-index` into a bare virtualenv."""
    from colab_wizard import selfwheel

    wheels = tmp_path / selfwheel.WHEELS_DIR
    files, missing = selfwheel.save(wheels)
    assert missing == []
    assert wheels / selfwheel.wheel_name() in files
    venv = tmp_path / "bare"
    run([sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", venv])
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, no find-links from this machine's config
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links",
         wheels, f"{DIST}=={colab_wizard.__version__}"], env=env)
    shown = run([venv / "bin" / "python", "-m", "colab_wizard", "--help"], cwd=tmp_path, env=env)
    assert "restore" in shown.stdout
    check = run([venv / "bin" / "python", "-m", "pip", "check"], env=env)
    assert "No broken requirements" in check.stdout
