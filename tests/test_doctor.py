"""``python -m colab_wizard doctor``: versions, our kernels and whether each starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from colab_wizard import kernels, paths

ROOT = Path(__file__).resolve().parent.parent


def register(wizard_env: dict[str, Path], name: str, python: Path, label: str) -> None:
    staged = wizard_env["projects"] / "staged" / name
    kernels.write_spec(staged, kernels.kernel_json(name, f"Kernel {name}", python,
                                                   wizard_env["projects"] / name, label))
    kernels.register(staged, name)


def test_doctor_reports_versions_kernels_and_whether_they_start(
    wizard_env: dict[str, Path]
) -> None:
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    # The test's own Python has ipykernel: a kernel that starts. A missing venv: one that fails.
    register(wizard_env, "doc-good", Path(sys.executable), host)
    register(wizard_env, "doc-broken", wizard_env["projects"] / "gone" / "bin" / "python", host)
    paths.logs_dir().mkdir(parents=True)
    log = paths.logs_dir() / "doc-good-20260101-000000-1.log"
    log.write_text("=== done\n")
    env = dict(os.environ, UV_CONSTRAINT="/tmp/uv-constraints.txt",
               PIP_EXTRA_INDEX_URL="https://user:s3cret@mirror.example/simple/")
    proc = subprocess.run([sys.executable, "-m", "colab_wizard", "doctor"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    print(out)
    assert proc.returncode == 0, proc.stderr
    assert "host: terminal" in out
    for name in ("IPython", "ipykernel", "ipywidgets", "jupyter_client"):
        assert f"{name}: " in out
    good = next(ln for ln in out.splitlines() if ln.strip().startswith("doc-good "))
    broken = next(ln for ln in out.splitlines() if ln.strip().startswith("doc-broken "))
    assert "[OK: starts and answers]" in good
    assert "[FAILS:" in broken
    assert "UV_CONSTRAINT=/tmp/uv-constraints.txt" in out
    assert f"last log: {log}" in out
    assert "Poetry cache" in out
    assert "s3cret" not in out and "PIP_EXTRA_INDEX_URL=https://***@mirror.example" in out
