"""Finding a CPython of the wanted version that is already on this machine.

Every candidate is *run* once to ask its version: a file name proves nothing
(pyenv shims exist for versions that are not installed, venvs point elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from . import paths
from .files import write_atomic
from .procenv import clean_env
from .spec import PythonVersion

_PROBE = (
    "import json, sys, sysconfig;"
    "print(json.dumps({'version': list(sys.version_info[:3]),"
    " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    " 'implementation': sys.implementation.name,"
    " 'in_venv': sys.prefix != getattr(sys, 'base_prefix', sys.prefix)}))"
)


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: tuple[int, int, int]
    free_threaded: bool

    @property
    def label(self) -> str:
        text = ".".join(map(str, self.version))
        return text + ("t" if self.free_threaded else "")


def _search_dirs() -> Iterable[Path]:
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR")
    uv_root = Path(uv_dir) if uv_dir else Path.home() / ".local" / "share" / "uv" / "python"
    for root in (paths.pythons_dir(), uv_root, pyenv_root / "versions"):
        if root.is_dir():
            for child in sorted(root.iterdir()):
                yield child / "bin"
                yield child / "python" / "bin"  # python-build-standalone archives unpack here


def candidates(want: PythonVersion) -> list[Path]:
    """Executables that may be the wanted version, most specific first, no repeats."""
    suffix = "t" if want.free_threaded else ""
    names = [f"python{want.short}{suffix}", "python3", "python"]
    found: list[Path] = []
    for directory in _search_dirs():
        # Inside an install dir the versioned name is enough and spares probing every Python.
        path = directory / names[0]
        if path.is_file() and os.access(path, os.X_OK):
            found.append(path)
    for name in names:
        on_path = shutil.which(name)
        # pyenv shims on PATH answer for every version but run only the global one.
        if on_path and "/shims/" not in on_path:
            found.append(Path(on_path))
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def probe(path: Path, timeout: float = 15.0) -> Optional[Interpreter]:
    """Run ``path`` and ask what it is; None if it does not run or is not a plain CPython."""
    try:
        out = subprocess.run(
            [str(path), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            check=False,
        )
        info = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if out.returncode != 0 or info.get("implementation") != "cpython" or info.get("in_venv"):
        return None
    major, minor, micro = (int(x) for x in info["version"])
    return Interpreter(path, (major, minor, micro), bool(info["free_threaded"]))


def find(want: PythonVersion) -> Optional[Interpreter]:
    """The newest local interpreter matching ``want``, or None."""
    matches = []
    for path in candidates(want):
        found = probe(path)
        if found and want.matches(found.version, found.free_threaded):
            matches.append(found)
    if not matches:
        return None
    return max(matches, key=lambda i: i.version)


def _probe_cache_path() -> Path:
    return paths.data_dir() / "cache" / "interpreters.json"


class _ProbeCache:
    """probe() answers remembered per executable (real path, size, mtime) across processes.

    Listing what is installed probes ~15 files at ~30 ms each; the panel's
    version list wants that instantly, and executables rarely change.
    """

    def __init__(self) -> None:
        try:
            data = json.loads(_probe_cache_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.changed = False

    def probe(self, path: Path) -> Optional[Interpreter]:
        try:
            real = path.resolve()
            st = real.stat()
        except OSError:
            return None
        key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
        if key not in self.data:
            got = probe(path)
            self.data[key] = [list(got.version), got.free_threaded] if got else None
            self.changed = True
        value = self.data[key]
        if not value:
            return None
        major, minor, micro = (int(x) for x in value[0])
        return Interpreter(path, (major, minor, micro), bool(value[1]))

    def save(self) -> None:
        if not self.changed:
            return
        target = _probe_cache_path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, json.dumps(self.data))
        except OSError:
            pass  # a cache that cannot be written only costs time


def installed(cached: bool = True) -> list[Interpreter]:
    """Every supported CPython found locally, newest first (one per exact version).

    ``cached`` reuses earlier probes of unchanged executables (see _ProbeCache).
    """
    from .spec import MAX_MINOR, MIN_MINOR

    cache = _ProbeCache() if cached else None
    found: dict[tuple[tuple[int, int, int], bool], Interpreter] = {}
    for minor in range(MIN_MINOR, MAX_MINOR + 1):
        for free_threaded in (False, True):
            want = PythonVersion(minor, None, free_threaded)
            for path in candidates(want):
                got = cache.probe(path) if cache else probe(path)
                if got and want.matches(got.version, got.free_threaded):
                    found.setdefault((got.version, got.free_threaded), got)
    if cache:
        cache.save()
    return sorted(found.values(), key=lambda i: (i.version, i.free_threaded), reverse=True)
