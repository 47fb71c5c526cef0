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
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from . import settings
from .errors import SpecError

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
                              (settings.INDEX_URL.name, settings.INDEX_URL.get()),
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


Credentials = tuple[str, str]


def split_credentials(url: str) -> tuple[str, Optional[Credentials]]:
    """The URL without its ``user:password@`` part, and that part (unquoted), if any.

    The URL is written into pyproject.toml, manifests and logs, which are downloaded,
    saved to Drive and shared; the credentials only ever travel in environment variables.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    public = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return public, (unquote(parts.username or ""), unquote(parts.password or ""))


def known_credentials(public_url: str) -> Optional[Credentials]:
    """Credentials this machine is configured with for ``public_url`` (from
    ``COLAB_WIZARD_INDEX_URL`` or pip's setting), so a saved project restored on a new VM
    authenticates with that VM's own settings."""
    for candidate in (settings.INDEX_URL.get(), pip_index_url()):
        if not candidate or not candidate.strip():
            continue
        public, auth = split_credentials(normalize_index_url(candidate))
        if auth is not None and public == normalize_index_url(public_url):
            return auth
    return None


def env_suffix(source_name: str) -> str:
    """How Poetry and uv spell a source name inside an environment variable's name."""
    return "".join(c if c.isalnum() else "_" for c in source_name).upper()


@dataclass(frozen=True)
class IndexFile:
    """One file a simple-API project page lists."""

    filename: str
    url: str
    sha256: Optional[str]
    yanked: bool = False


_HTML_LINK = re.compile(r"<a\s([^>]*)>([^<]+)</a>", re.I)
_HREF = re.compile(r"href=[\"']([^\"']+)[\"']", re.I)


def project_files(index_url: str, name: str, auth: Optional[Credentials] = None,
                  timeout: float = 30.0) -> list[IndexFile]:
    """The files the index's simple API lists for project ``name`` (PEP 691 JSON when the
    index offers it, else the PEP 503 HTML page)."""
    import html

    import requests
    from packaging.utils import canonicalize_name

    page = f"{normalize_index_url(index_url)}{canonicalize_name(name)}/"
    accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
    response = requests.get(page, headers={"Accept": accept}, auth=auth, timeout=timeout)
    response.raise_for_status()
    if "json" in response.headers.get("Content-Type", ""):
        data: dict[str, Any] = response.json()
        return [IndexFile(str(f["filename"]), urljoin(page, str(f["url"])),
                          f.get("hashes", {}).get("sha256"), bool(f.get("yanked")))
                for f in data.get("files", [])]
    found = []
    for attributes, text in _HTML_LINK.findall(response.text):
        href = _HREF.search(attributes)
        if href is None:
            continue
        url = urljoin(page, html.unescape(href.group(1)))
        fragment = urlsplit(url).fragment
        digest = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
        found.append(IndexFile(html.unescape(text).strip(), url.split("#")[0], digest,
                               "data-yanked" in attributes))
    return found
