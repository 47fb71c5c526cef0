"""Which release of a distribution installs on another Python: the host's, or the nearest.

A kernel of Python 3.9 cannot take numpy 2.1.3 from a Colab host on 3.13 (no wheel,
requires 3.10). The host's release is kept when the index has it and the wheel the
host installed fits the target Python too (judged from its tags); else the nearest
release with a wheel that fits is taken: the newest not newer than the host's, else
the oldest newer. A distribution the index does not have at all cannot be installed.
"""

from __future__ import annotations

import json
import re
from email.parser import HeaderParser
from importlib import metadata
from typing import Any, Iterable, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_ANCHOR = re.compile(r"<a\s([^>]*)>([^<]+)</a>", re.IGNORECASE)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


def target_tags(minor: int, free_threaded: bool = False) -> set[Tag]:
    """The wheel tags CPython 3.<minor> accepts on this platform."""
    version = (3, minor)
    abi = f"cp3{minor}t" if free_threaded else f"cp3{minor}"
    tags = set(cpython_tags(version, abis=[abi, "abi3", "none"]))
    tags.update(compatible_tags(version, interpreter=f"cp3{minor}"))
    return tags


def python_fits(requires_python: Optional[str], minor: int) -> bool:
    """Whether a ``Requires-Python`` admits 3.<minor> (any patch release of it)."""
    if not requires_python:
        return True
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True
    return any(spec.contains(f"3.{minor}.{patch}") for patch in (0, 99))


def installed_fits(name: str, minor: int, free_threaded: bool = False) -> Optional[bool]:
    """Whether the host's installed release of ``name`` also installs on 3.<minor>;
    None when its wheel tags are unknown (not installed from a wheel)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if not python_fits(dist.metadata["Requires-Python"], minor):
        return False
    wheel = dist.read_text("WHEEL")
    if not wheel:
        return None
    tags: set[Tag] = set()
    for value in HeaderParser().parsestr(wheel).get_all("Tag") or []:
        tags.update(parse_tag(value))
    return bool(tags & target_tags(minor, free_threaded)) if tags else None


def fetch_files(name: str, index_url: str, auth: Optional[tuple[str, str]] = None,
                timeout: float = 15.0) -> Optional[list[dict[str, Any]]]:
    """The files the index lists for ``name`` (filename, requires-python, yanked): PEP 691
    JSON, else PEP 503 HTML; ``[]`` when it does not know the name, None when it did not
    answer."""
    import requests

    url = f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"
    try:
        reply = requests.get(url, headers={"Accept": f"{SIMPLE_JSON}, text/html;q=0.1"},
                             timeout=timeout, auth=auth)
        if reply.status_code == 404:
            return []
        reply.raise_for_status()
        if reply.headers.get("Content-Type", "").startswith(SIMPLE_JSON):
            files = json.loads(reply.text).get("files", [])
            return [f for f in files if isinstance(f, dict)]
    except (requests.RequestException, ValueError, AttributeError):
        return None
    found = []
    for attrs, text in _ANCHOR.findall(reply.text):
        values = dict(_ATTR.findall(attrs))
        found.append({"filename": text.strip(),
                      "requires-python": _unescape(values.get("data-requires-python", "")),
                      "yanked": "data-yanked" in attrs})
    return found


def index_files(name: str, index_url: str, auth: Optional[tuple[str, str]] = None,
                timeout: float = 15.0) -> list[dict[str, Any]]:
    """:func:`fetch_files`, empty when the index cannot say."""
    return fetch_files(name, index_url, auth, timeout) or []


def listed_releases(files: Iterable[dict[str, Any]]) -> set[Version]:
    """Every release the files belong to (wheels and sdists)."""
    found = set()
    for entry in files:
        filename = str(entry.get("filename", ""))
        try:
            if filename.endswith(".whl"):
                found.add(parse_wheel_filename(filename)[1])
            elif filename.endswith((".tar.gz", ".zip")):
                found.add(parse_sdist_filename(filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
    return found


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def fitting_releases(files: Iterable[dict[str, Any]], minor: int,
                     free_threaded: bool = False) -> set[Version]:
    """Releases with a wheel for 3.<minor> on this platform (yanked ones left out)."""
    tags = target_tags(minor, free_threaded)
    found = set()
    for entry in files:
        if entry.get("yanked") or not python_fits(entry.get("requires-python"), minor):
            continue
        try:
            _, version, _, wheel_tags = parse_wheel_filename(str(entry.get("filename", "")))
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if not version.is_prerelease and wheel_tags & tags:
            found.add(version)
    return found


def nearest(host: Version, candidates: set[Version]) -> Optional[Version]:
    """The host's release if it fits, else the newest older one, else the oldest newer."""
    if host in candidates:
        return host
    older = [v for v in candidates if v < host]
    if older:
        return max(older)
    newer = [v for v in candidates if v > host]
    return min(newer) if newer else None


def release_for(name: str, host_version: str, minor: int, index_url: str,
                auth: Optional[tuple[str, str]] = None, free_threaded: bool = False,
                timeout: float = 15.0) -> Optional[str]:
    """The release of ``name`` to install on 3.<minor>: the host's when it fits there,
    else the nearest with a wheel for it; the host's when the index does not answer;
    None when the index does not have ``name`` (nothing to install it from)."""
    files = fetch_files(name, index_url, auth, timeout)
    if files is None:
        return host_version
    listed = listed_releases(files)
    if not listed:
        return None
    host = Version(host_version)
    if host in listed and installed_fits(name, minor, free_threaded):
        return host_version
    chosen = nearest(host, fitting_releases(files, minor, free_threaded))
    if chosen is not None:
        return str(chosen)
    return host_version if host in listed else None
