"""Which CPython builds can be downloaded: versions, URLs and sha256 checksums.

Source: the table that the ``pbs-installer`` package generates from every
python-build-standalone release (``pbs_installer/versions.json``), read as
plain data through :func:`table`, the one function to change to swap sources.

Why this one and not uv's download list: pbs-installer is a ~110 KB
pure-Python wheel on the package index, re-released with each
python-build-standalone release, and its table is a JSON file that parses in
a few milliseconds with no network; uv's list is compiled into a ~30 MB
binary (its JSON lives only in uv's source tree), and asking it means running
that binary. Only the table is used, not pbs-installer's download code (which
needs extras, and whose CLI insists on its own URLs). pbs-installer needs a
host Python 3.10+; on a 3.9 host nothing is offered for download and the
wizard uses local interpreters only.

``COLAB_WIZARD_PYTHON_CATALOG`` may name a JSON file in the same format that
replaces the table (sites with their own builds, and the tests).

Only ``install_only`` archives are offered (a ``python/`` folder with
``bin/python3.X``), for Linux with glibc on x86_64/aarch64 and for macOS, and
only entries that carry a sha256: an archive is never unpacked unverified.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from . import settings
from .spec import MAX_MINOR, MIN_FREE_THREADED_MINOR, MIN_MINOR, PythonVersion

DOWNLOAD_MARKER = "/releases/download/"

# Typical sizes (MB) of the Linux x86_64 ``install_only_stripped`` archives,
# shown before a download as "about N MB" (the table has no sizes); the exact
# number comes from the server once the download starts.
_APPROX_MB = {9: 24, 10: 25, 11: 27, 12: 29, 13: 31, 14: 33}
_FREE_THREADED_EXTRA_MB = 3


@dataclass(frozen=True)
class Build:
    """One downloadable ``install_only`` archive."""

    version: tuple[int, int, int]
    free_threaded: bool
    platform: str
    arch: str
    url: str
    sha256: str
    filename: str

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}" + ("t" if self.free_threaded else "")

    @property
    def dir_name(self) -> str:
        """The folder under ``paths.pythons_dir()`` this build unpacks into."""
        return f"cpython-{self.label}-{self.platform}-{self.arch}"

    @property
    def approx_size(self) -> int:
        mb = _APPROX_MB.get(self.version[1], 30)
        return (mb + (_FREE_THREADED_EXTRA_MB if self.free_threaded else 0)) * 1_000_000

    def url_from(self, mirror: Optional[str]) -> str:
        """The URL to fetch: the table's, or the same release path under ``mirror``.

        A mirror is laid out like the upstream release downloads (and like uv's
        ``UV_PYTHON_INSTALL_MIRROR``): ``<mirror>/<release tag>/<file name>``.
        """
        if not mirror:
            return self.url
        base = mirror.rstrip("/")
        if DOWNLOAD_MARKER in self.url:
            return f"{base}/{self.url.split(DOWNLOAD_MARKER, 1)[1]}"
        return f"{base}/{self.url.rsplit('/', 1)[1]}"


def this_platform() -> Optional[tuple[str, str]]:
    """(platform, arch) in the table's terms, or None where no build fits."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if arch not in ("x86_64", "aarch64"):
        return None
    if system == "linux":
        libc, _ = platform.libc_ver()
        return ("linux", arch) if libc == "glibc" else None
    if system == "darwin":
        return ("macos", arch)
    return None


def _read_payload() -> list[dict[str, Any]]:
    explicit = settings.PYTHON_CATALOG.get()
    if explicit:
        data = json.loads(Path(explicit).read_text(encoding="utf-8"))
    else:
        try:
            from importlib.resources import files

            resource = files("pbs_installer").joinpath("versions.json")
            data = json.loads(resource.read_text(encoding="utf-8"))
        except (ImportError, OSError, ValueError):
            return []
    return data if isinstance(data, list) else []


_UNWANTED = re.compile(r"-(musl|debug)|x86_64_v\d")


@lru_cache(maxsize=4)
def _table(source: str) -> tuple[Build, ...]:
    builds = []
    for entry in _read_payload():
        version = entry.get("python_version", {})
        if version.get("implementation") != "cpython" or version.get("major") != 3:
            continue
        triple = (3, int(version["minor"]), int(version["micro"]))
        for item in entry.get("files", []):
            name = str(item.get("filename", ""))
            if not item.get("install_only") or not item.get("sha256") or _UNWANTED.search(name):
                continue
            if not name.endswith(".tar.gz"):
                continue
            builds.append(Build(triple, bool(version.get("freethreaded")), item["platform"],
                                item["arch"], item["url"], str(item["sha256"]).lower(), name))
    return tuple(builds)


def table() -> tuple[Build, ...]:
    """Every install_only CPython build the source lists, for all platforms."""
    return _table(settings.PYTHON_CATALOG.get() or "")


def builds(where: Optional[tuple[str, str]] = None) -> list[Build]:
    """Builds for this platform (or ``where``) and supported versions, newest first."""
    where = where or this_platform()
    if where is None:
        return []
    found = [
        b for b in table()
        if (b.platform, b.arch) == where and MIN_MINOR <= b.version[1] <= MAX_MINOR
        and not (b.free_threaded and b.version[1] < MIN_FREE_THREADED_MINOR)
    ]
    return sorted(found, key=lambda b: (b.version, b.free_threaded), reverse=True)


def best(want: PythonVersion, where: Optional[tuple[str, str]] = None) -> Optional[Build]:
    """The newest build matching ``want``, or None."""
    for build in builds(where):
        if want.matches(build.version, build.free_threaded):
            return build
    return None


def newest_per_minor(where: Optional[tuple[str, str]] = None) -> list[Build]:
    """One build per 3.X and 3.Xt on offer, newest patch release of each."""
    seen: dict[tuple[int, bool], Build] = {}
    for build in builds(where):
        seen.setdefault((build.version[1], build.free_threaded), build)
    return sorted(seen.values(), key=lambda b: (b.version[1], b.free_threaded))
