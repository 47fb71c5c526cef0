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
from urllib.parse import urlsplit

from .spec import SpecError

PYPI_SIMPLE = "https://pypi.org/simple/"
PIP_SOURCE = "pip's configuration"


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


def check_index_url(url: str, source: str = "index_url") -> str:
    """An http(s) or file URL with no spaces or control characters, else a SpecError.

    A URL typed for the wizard may not hold shell characters either (it never reaches a
    shell; they are refused as typos or pasted commands). pip's own setting is trusted
    with them: a password in it may legally contain '$' or ';'.
    """
    value = url.strip()
    where = "" if source == "index_url" else f" (from {source})"
    shell_chars = "" if source == PIP_SOURCE else "\\`$|;"
    if any(c.isspace() or ord(c) < 32 for c in value) or any(c in value for c in shell_chars):
        raise SpecError(
            "index_url",
            f"'{value}'{where} contains spaces, line breaks or shell characters; give one URL "
            "like https://pypi.org/simple/.",
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.path):
        raise SpecError(
            "index_url",
            f"'{value}'{where} is not a package index URL; give its simple API, "
            "like https://pypi.org/simple/.",
        )
    if parts.scheme != "file" and not parts.hostname:
        raise SpecError("index_url", f"'{value}'{where} has no host name; "
                        "write it like https://pypi.org/simple/.")
    return value


def resolve_index_url(explicit: Optional[str] = None) -> str:
    """Argument, then ``COLAB_WIZARD_INDEX_URL``, then pip's setting, then PyPI."""
    for source, candidate in (("index_url", explicit),
                              ("COLAB_WIZARD_INDEX_URL", os.environ.get("COLAB_WIZARD_INDEX_URL")),
                              (PIP_SOURCE, pip_index_url())):
        if candidate and candidate.strip():
            return normalize_index_url(check_index_url(candidate, source))
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
