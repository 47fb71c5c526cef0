"""Which package index the new environment installs from.

The wizard follows pip: the index pip is configured with is the one the
machine can reach (company mirrors, proxies). It is written into the project
as Poetry's primary source using the simple API, because some routes to an
index serve ``/simple/`` but not the per-version JSON Poetry's default
source needs.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Optional

PYPI_SIMPLE = "https://pypi.org/simple/"


def _pip_config_files() -> list[Path]:
    """pip's config files, lowest priority first (as pip reads them)."""
    home = Path.home()
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d]
    files.append(Path("/etc/pip.conf"))
    files.append(home / ".pip" / "pip.conf")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files.append(Path(config_home) / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit and explicit != os.devnull:
        files.append(Path(explicit))
    return files


def pip_index_url() -> Optional[str]:
    """The index-url pip would use, from its environment variable or config files."""
    from_env = os.environ.get("PIP_INDEX_URL")
    if from_env:
        return from_env.split()[0]
    found: Optional[str] = None
    for path in _pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_option(section, "index-url"):
                found = parser.get(section, "index-url").split()[0]
    return found


def normalize_index_url(url: str) -> str:
    return url.strip().rstrip("/") + "/"


def resolve_index_url(explicit: Optional[str] = None) -> str:
    """Argument, then ``COLAB_WIZARD_INDEX_URL``, then pip's setting, then PyPI."""
    for candidate in (explicit, os.environ.get("COLAB_WIZARD_INDEX_URL"), pip_index_url()):
        if candidate and candidate.strip():
            return normalize_index_url(candidate)
    return PYPI_SIMPLE


def missing_names(names: list[str], index_url: Optional[str] = None,
                  timeout: float = 3.0) -> list[str]:
    """The names the index says do not exist (404 on its simple API).

    A timeout or any other error is not reported as missing: this only warns.
    """
    import requests
    from packaging.utils import canonicalize_name

    base = resolve_index_url(index_url)
    missing = []
    with requests.Session() as session:
        for name in names:
            try:
                # stream=True: the status is enough, a big project page is never read.
                with session.get(f"{base}{canonicalize_name(name)}/", timeout=timeout,
                                 stream=True) as response:
                    if response.status_code == 404:
                        missing.append(name)
            except requests.RequestException:
                continue
    return missing
