"""``doctor()``: a plain-text report a user can paste into a question.

Host and versions, the kernels colab_wizard registered and whether each one
starts (the same pre-flight as before registering), caches found, the
environment variables that change a build, and the newest log.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

from . import colab, ipyconfig, kernels, paths
from .errors import WizardError
from .freshvm import MANIFEST, poetry_cache_dir
from .host import detect_host
from .plan import preflight_command, preflight_env
from .procenv import clean_env
from .version import DISTRIBUTION, __version__

_PACKAGES = ("IPython", "ipykernel", "ipywidgets", "jupyter_client", "tomlkit", "virtualenv")
_ENV_PREFIXES = ("UV_", "PIP_", "POETRY_", "COLAB_", "JUPYTER_")
_ENV_EXACT = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "IPYTHONDIR", "CONDA_PREFIX")


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def check_kernel(resource_dir: Path, timeout: float = 120.0) -> tuple[bool, str]:
    """Start a registered kernel once with the pre-flight; (started, last line of its output)."""
    spec = kernels.read_spec(resource_dir) or {}
    python = str(spec.get("metadata", {}).get(kernels.MARK, {}).get("python", ""))
    short = ".".join(python.rstrip("t").split(".")[:2])
    try:
        proc = subprocess.run(
            [*preflight_command(resource_dir, short), "--timeout", str(timeout)],
            env=clean_env(preflight_env()), capture_output=True, text=True, timeout=timeout + 30,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:.0f}s"
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    if proc.returncode == 0:
        return True, "starts and answers"
    return False, (lines[-1] if lines else f"exit code {proc.returncode}")[:300]


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _redact(key: str, value: str) -> str:
    """Hide secrets a pasted report must not carry: passwords in URLs, tokens."""
    if any(word in key.upper() for word in ("TOKEN", "PASSWORD", "SECRET", "KEY")):
        return "***"
    return re.sub(r"://[^/@\s]+@", "://***@", value)


def _installed_as() -> str:
    """Which distribution provides the code running now: a stale or half install shows here."""
    dist = _version(DISTRIBUTION)
    if dist == "not installed":
        return f"not installed as a package (install it with: pip install {DISTRIBUTION})"
    note = "" if dist == __version__ else f", but the code imported is {__version__}"
    return f"{DISTRIBUTION} {dist}{note} (upgrade with: pip install -U {DISTRIBUTION})"


def _inplace_status() -> str:
    """Which Python the default kernel starts on ("Use it in this notebook"), in words."""
    from . import inplace

    try:
        return inplace.describe_status().replace("\n", " ")
    except (WizardError, OSError) as exc:
        return f"unknown ({exc})"


def last_log() -> Optional[Path]:
    logs = sorted(paths.logs_dir().glob("*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1] if logs else None


def _host_section() -> list[str]:
    host = detect_host()
    lines = [
        f"colab_wizard {__version__} doctor",
        f"installed as: {_installed_as()}",
        f"host: {host}  ({platform.platform()})",
        f"python: {sys.version.split()[0]} at {sys.executable}",
    ]
    lines += [f"{name}: {_version(name)}" for name in _PACKAGES]
    lines.append(f"kernel profile default here: {colab.choose_profile()}")
    lines.append(f"every kernel here must import: {ipyconfig.read().describe()}")
    if host == "colab":
        lines.append(f"in this notebook: {_inplace_status()}")
    return lines


def _kernels_section(check_kernels: bool) -> list[str]:
    ours = kernels.list_ours()
    lines = [f"kernels made by colab_wizard: {len(ours)}"]
    for info in ours:
        profile = ((kernels.read_spec(info.resource_dir) or {}).get("metadata", {})
                   .get(kernels.MARK, {}).get("profile") or colab.NONE)
        status = ""
        if check_kernels:
            ok, detail = check_kernel(info.resource_dir)
            status = f"  [{'OK' if ok else 'FAILS'}: {detail}]"
        lines.append(f"  {info.name} ({info.display_name}) Python {info.python}, profile "
                     f"{profile}, project {info.project_dir}{status}")
    return lines


def _caches_section() -> list[str]:
    lines = ["caches:"]
    pythons = paths.pythons_dir()
    found_pythons = sorted(p.name for p in pythons.iterdir()) if pythons.is_dir() else []
    lines.append(f"  pythons installed by colab_wizard ({pythons}): "
                 f"{', '.join(found_pythons) or 'none'}")
    poetry_cache = poetry_cache_dir()
    size = _size(poetry_cache) if poetry_cache.is_dir() else 0
    lines.append(f"  Poetry cache {poetry_cache}: {size / 1e6:.1f} MB")
    drive = colab.default_save_dir()
    if drive is not None:
        saved = sorted(p.parent.name for p in drive.glob("*/" + MANIFEST))
        lines.append(f"  saved kernels in {drive}: {', '.join(saved) or 'none'}")
    return lines


def _environment_section() -> list[str]:
    return ["environment:"] + [f"  {key}={_redact(key, os.environ[key])}"
                               for key in sorted(os.environ)
                               if key in _ENV_EXACT or key.startswith(_ENV_PREFIXES)]


def report(check_kernels: bool = True) -> str:
    """The whole report: one section after another, a blank line between them."""
    sections = [_host_section(), _kernels_section(check_kernels), _caches_section(),
                _environment_section()]
    log = last_log()  # after the kernels were started: their checks may have written one
    sections.append([f"last log: {log if log else 'none yet'}"])
    return "\n\n".join("\n".join(section) for section in sections)


def doctor(check_kernels: bool = True) -> str:
    """Print the report and return it."""
    text = report(check_kernels)
    print(text)
    return text
