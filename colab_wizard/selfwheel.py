"""colab_wizard's own wheel, and its dependencies' wheels, saved beside a kernel's save.

A fresh VM's first cell must install colab_wizard before it can restore
anything. With these wheels it does so with ``pip --no-index`` (the same
version that saved the kernel), so a restore needs no package index at all.
The own wheel is packed from the running code and its installed metadata
(the code that made the save is the code that reads it); the dependencies
are downloaded as wheels at the versions installed here, since a fresh Colab
VM lacks some of them (virtualenv, pbs-installer).
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Optional

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .files import replacing
from .version import DISTRIBUTION, __version__

WHEELS_DIR = "colab_wizard-wheels"
_TAG = "py3-none-any"


def wheel_name(version: str = __version__) -> str:
    return f"{canonicalize_name(DISTRIBUTION).replace('-', '_')}-{version}-{_TAG}.whl"


def _installed_metadata() -> Optional[metadata.Distribution]:
    """The installed distribution of the code running now (None from a bare source tree)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    return dist if dist.version == __version__ else None


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def pack_own_wheel(dest: Path) -> Optional[Path]:
    """Write colab_wizard's wheel into ``dest``; None when no installed metadata says
    what it requires (running from a source tree that was never installed)."""
    dist = _installed_metadata()
    # An egg-info (a source tree after a build) has the same text as PKG-INFO.
    meta = (dist.read_text("METADATA") or dist.read_text("PKG-INFO")) if dist else None
    if dist is None or not meta:
        return None
    package = Path(__file__).resolve().parent
    info = f"{wheel_name().rsplit('-', 3)[0]}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((f"{package.name}/{path.relative_to(package).as_posix()}",
                          path.read_bytes()))
    files.append((f"{info}/METADATA", meta.encode()))
    files.append((f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: colab_wizard "
                                    f"{__version__}\nRoot-Is-Purelib: true\nTag: {_TAG}\n"
                                    ).encode()))
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files.append((f"{info}/entry_points.txt", entry_points.encode()))
    record = "\n".join([*(_record_line(name, data) for name, data in files),
                        f"{info}/RECORD,,"]) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel_name()
    with replacing(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", record)
    return target


def installed_requirements() -> list[str]:
    """``name==version`` of every installed distribution colab_wizard needs, transitively."""
    dist = _installed_metadata()
    if dist is None:
        return []
    env = {k: str(v) for k, v in default_environment().items()}
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    # (requirement, the extras its dependent was installed with: they decide its marker)
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset()) for r in dist.requires or []]
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
            continue
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            found = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        pins[key[0]] = found.version
        todo += [(r, key[1]) for r in found.requires or []]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def download_wheels(pins: list[str], dest: Path, rounds: int = 3) -> list[str]:
    """Download each pin's wheel into ``dest`` with the host's pip (its index settings);
    returns the pins left out (no wheel on the index, or the index unreachable)."""
    todo = [p for p in pins if not any(dest.glob(_wheel_glob(p)))]
    left_out: list[str] = []
    for _ in range(rounds):
        if not todo:
            return left_out
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--retries", "1", "--timeout", "20", "--dest", str(dest), *todo],
            capture_output=True, text=True, timeout=900)
        if done.returncode == 0:
            return left_out
        # One pin without a wheel fails the whole call: leave it out, fetch the others.
        named = re.search(r"No matching distribution found for (\S+)", done.stderr)
        if named is None or named.group(1) not in todo:
            break
        todo.remove(named.group(1))
        left_out.append(named.group(1))
    return left_out + todo


def _wheel_glob(pin: str) -> str:
    name, version = pin.split("==")
    return f"{name.replace('-', '_')}-{version}-*.whl"


def save(dest: Path) -> tuple[list[Path], list[str]]:
    """colab_wizard's wheel and its dependencies' into ``dest``; (files, pins left out)."""
    dest.mkdir(parents=True, exist_ok=True)
    own = pack_own_wheel(dest)
    if own is None:
        return [], [f"{DISTRIBUTION}=={__version__}"]
    missing = download_wheels(installed_requirements(), dest)
    return sorted(dest.glob("*.whl")), missing
