"""Why a stage failed, in plain words: the package at fault and what to do.

Poetry and pip explain failures at length, in their own terms, and the part
that matters (the Python range a pin supports, the host that did not answer,
the compiler's first error) is often far from the last lines. :func:`explain`
reads a failed command's whole output and returns a :class:`Finding`: what went
wrong, naming the package, and the fix. The stages put it into their
StageError, so the panel's banner and the CLI show it above the raw output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from . import wheels

# The versions the wizard offers: a fix may only suggest one of these.
OFFERED_MINORS = range(9, 15)


@dataclass(frozen=True)
class Finding:
    """``problem`` names the package (or host) at fault; ``fix`` says what to do."""

    cause: str  # python-range, unknown-name, no-match, index-unreachable, git-offline,
    # url-offline, build-failed, no-wheel
    problem: str
    fix: str

    @property
    def sentence(self) -> str:
        return f"{self.problem}; {self.fix}"


@dataclass(frozen=True)
class Context:
    """What the failed run asked for: the Python, the index and the requirements."""

    python_minor: int
    index_url: str
    dependencies: tuple[str, ...] = ()
    lock_file: Optional[Path] = None


def stage_output(log_path: Optional[Path], stage: str) -> list[str]:
    """The output of ``stage``'s last command, from the run's log (every line, not a tail)."""
    if log_path is None:
        return []
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    prefix = f"[{stage}] "
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        body = line[len(prefix):]
        if body.startswith("$ "):
            lines = []
        else:
            lines.append(body)
    return lines


# -- the Python range a package supports -------------------------------------------------

_REQUIRES = re.compile(r"(?:depends on|^\s*-)\s*(?P<name>[A-Za-z0-9][\w.-]*)"
                       r"(?: \((?P<version>[^)]*)\))?\s+(?:which )?requires Python "
                       r"(?P<range>[<>=!~*.,0-9 ]+?)(?:,? so\b|,? version solving|$)")


def _minors(spec: str) -> list[int]:
    try:
        allowed = SpecifierSet(spec.replace(" ", ""))
    except InvalidSpecifier:
        return []
    return [m for m in range(0, 30) if allowed.contains(f"3.{m}", prereleases=True)
            or allowed.contains(f"3.{m}.0", prereleases=True)]


def _span(minors: Sequence[int]) -> str:
    if not minors:
        return "no Python 3 version"
    if len(minors) == 1:
        return f"Python 3.{minors[0]}"
    last = "" if minors[-1] >= 29 else f"3.{minors[-1]}"
    return f"Python 3.{minors[0]}\u2013{last}" if last else f"Python 3.{minors[0]} or later"


def _python_range(lines: Sequence[str], ctx: Context) -> Optional[Finding]:
    matches = [m for m in map(_REQUIRES.search, lines) if m is not None]
    # "depends on numpy (1.21.6) which requires ..." names the version too: read it first.
    for found in sorted(matches, key=lambda m: m.group("version") is None):
        name = found.group("name")
        if canonicalize_name(name) == "python":
            continue
        version = (found.group("version") or "").strip()
        minors = _minors(found.group("range"))
        if not minors or ctx.python_minor in minors:
            continue
        label = f"{name} {version}" if re.fullmatch(r"[0-9][\w.]*", version) else name
        offered = [m for m in minors if m in OFFERED_MINORS]
        newer = ctx.python_minor > minors[-1]
        other = "a newer" if newer else "an older"
        nearest = max(offered) if newer else min(offered) if offered else 0
        choose = f"choose Python 3.{nearest}, or " if offered else "choose "
        fits = _nearest_fit(name, version, newer, ctx) if label != name else ""
        return Finding(
            "python-range",
            f"{label} supports {_span(minors)}, not Python 3.{ctx.python_minor}",
            f"{choose}{other} {name} (remove or change its version pin)" + (
                f"; {fits}" if fits else ""),
        )
    return None


def version_with_wheel(files: Iterable[dict[str, object]], minor: int, pinned: str,
                       newer: bool) -> str:
    """The first release after ``pinned`` (``newer``), else the last one before it, with a
    ready-made wheel for Python 3.``minor`` that it says it supports; empty if none."""
    from packaging.version import InvalidVersion, Version

    try:
        pin = Version(pinned)
    except InvalidVersion:
        return ""
    fitting = [v for v in wheels.fitting_releases(files, minor)
               if (v > pin if newer else v < pin)]
    if not fitting:
        return ""
    return str(min(fitting) if newer else max(fitting))


def _nearest_fit(name: str, pinned: str, newer: bool, ctx: Context) -> str:
    found = version_with_wheel(wheels.index_files(name, ctx.index_url), ctx.python_minor,
                               pinned, newer)
    if not found:
        return ""
    which = "first" if newer else "last"
    return f"{name} {found} is the {which} with a wheel for Python 3.{ctx.python_minor}"


# -- names the index does not have, pins it cannot meet ---------------------------------

_NO_MATCH = re.compile(r"depends on (?P<name>[A-Za-z0-9][\w.-]*) \((?P<constraint>[^)]*)\) "
                       r"which doesn't match any versions")


def _no_match(lines: Sequence[str], ctx: Context,
              missing: Callable[[list[str], str], list[str]]) -> Optional[Finding]:
    for line in lines:
        found = _NO_MATCH.search(line)
        if found is None:
            continue
        name, constraint = found.group("name"), found.group("constraint").strip()
        if missing([name], ctx.index_url):
            return Finding("unknown-name",
                           f"there is no package called {name} on the index {ctx.index_url}",
                           "check the spelling of its name")
        return Finding("no-match",
                       f"no version of {name} on the index matches {constraint}",
                       f"change the version pin of {name}")
    return None


# -- hosts that did not answer ------------------------------------------------------------

_REFUSED = re.compile(r"All attempts to connect to (?P<host>[^\s]+?) failed")
_POOL = re.compile(r"HTTPS?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\)"
                   r".*?with url: (?P<path>\S+)")
_HTTP_ERROR = re.compile(r"(?P<code>\d{3}) (?:Server|Client) Error: (?P<why>.*?) for url: "
                         r"(?P<url>\S+)")
_CLONE = re.compile(r"Failed to clone (?P<url>\S+?),? check")
_PIP_RETRY = re.compile(r"connection broken by .*")
_WHY = (("Connection refused", "the connection was refused"),
        ("timed out", "it did not answer in time"),
        ("Name or service not known", "its host name is unknown"),
        ("Temporary failure in name resolution", "its host name could not be looked up"),
        ("No route to host", "there is no route to it"),
        ("CERTIFICATE_VERIFY_FAILED", "its certificate was not trusted"))


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.hostname}:{port}"


def _same_host(found: str, wanted: str) -> bool:
    """``found`` may lack the port (some messages name only the host)."""
    if ":" in found:
        return found == wanted
    return found == wanted.rsplit(":", 1)[0]


def _why(text: str) -> str:
    return next((reason for marker, reason in _WHY if marker in text), "it did not answer")


def _direct_urls(ctx: Context) -> list[tuple[str, str]]:
    """(name, url) of the requirements given as a URL (``name @ url``)."""
    found = []
    for line in ctx.dependencies:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.url:
            found.append((requirement.name, requirement.url))
    return found


def _unreachable(lines: Sequence[str], ctx: Context) -> Optional[Finding]:
    text = "\n".join(lines)
    clone = _CLONE.search(text)
    where = _unreachable_host(lines, text, ctx, clone)
    if where is None:
        return None
    host, reason = where
    return _url_offline(host, reason, clone is not None, ctx) or _index_offline(host, reason, ctx)


def _unreachable_host(lines: Sequence[str], text: str, ctx: Context,
                      clone: Optional[re.Match[str]]) -> Optional[tuple[str, str]]:
    """(host:port, reason) from the first sign, in the tools' words, of a host not reached."""
    if clone:
        return _netloc(clone.group("url").removeprefix("git+")), "it could not be cloned"
    refused = _REFUSED.search(text)
    if refused:
        return refused.group("host"), _why(text)
    pool = _POOL.search(text)
    if pool:
        line = next(x for x in lines if pool.group(0) in x)
        return f"{pool.group('host')}:{pool.group('port')}", _why(line)
    answered = _HTTP_ERROR.search(text)
    if answered:
        return (_netloc(answered.group("url")),
                f"it answered {answered.group('code')} {answered.group('why').strip()}")
    retry = _PIP_RETRY.search(text)
    if retry:
        return _netloc(ctx.index_url), _why(retry.group(0))
    return None


def _url_offline(host: str, reason: str, cloned: bool, ctx: Context) -> Optional[Finding]:
    """A dependency's own git or file URL on the host that was not reached."""
    for name, url in _direct_urls(ctx):
        plain = url.removeprefix("git+")
        if not _same_host(host, _netloc(plain)):
            continue
        if url.startswith("git+") or cloned:
            return Finding("git-offline",
                           f"the git repository {plain} of {name} could not be reached ({reason})",
                           "check its address, and that this machine can reach it, then retry")
        return Finding("url-offline",
                       f"the file {plain} for {name} could not be downloaded ({reason})",
                       "check its address, and that this machine can reach it, then retry")
    return None


def _index_offline(host: str, reason: str, ctx: Context) -> Optional[Finding]:
    if _same_host(host, _netloc(ctx.index_url)) or not _direct_urls(ctx):
        return Finding("index-unreachable",
                       f"the package index {ctx.index_url} could not be reached ({reason})",
                       f"check the network connection, and that {ctx.index_url} is the "
                       "right index (--index-url, COLAB_WIZARD_INDEX_URL or pip's index-url), "
                       "then retry")
    return None


# -- builds from source, and packages with nothing to install ----------------------------

_BUILD_FAILED = ("PEP517 build of a dependency failed", "Backend subprocess exited",
                 "Failed building wheel", "Failed to build")
_INSTALLING = re.compile(r"(?:Installing|Updating|issues with) (?P<name>[A-Za-z0-9][\w.-]*) "
                         r"\((?P<version>[^\s)]+)")
_COMPILER_ERROR = re.compile(r"^\S+:\d+(?::\d+)?: (?:fatal )?error: .+")
_ANY_ERROR = re.compile(r"\b(?:fatal )?error: .+", re.IGNORECASE)
_HEADER = re.compile(r"fatal error: (?P<header>[\w./+-]+\.h(?:pp)?): No such file")
# uv: "Failed to build `name @ file:///.../name-1.0.tar.gz`" or "`name==1.0`"
_UV_BUILD = re.compile(r"Failed to build `(?P<name>[A-Za-z0-9][\w.-]*)"
                       r"(?:==(?P<version>[^\s`]+)| @ (?P<url>[^`]+))?`")
# uv: "... but we only found wheels for `name` (v1.0) with the following Python ABI tag: `cp39`"
_UV_WHEELS = re.compile(r"only found wheels for `(?P<name>[^`]+)` \(v(?P<version>[^)]+)\) with "
                        r"the following Python (?:ABI|implementation) tags?: (?P<tags>.+)")
_CANDIDATES = re.compile(r"Unable to find installation candidates for (?P<name>[A-Za-z0-9][\w.-]*)"
                         r" \((?P<version>[^)]+)\)")


def _unpiped(line: str) -> str:
    stripped = line.strip()
    return stripped[1:].strip() if stripped.startswith("|") else stripped


def _package(lines: Sequence[str]) -> str:
    """"name version" of the package whose build failed (Poetry's or uv's words)."""
    label = ""
    for line in lines:
        found = _INSTALLING.search(line)
        if found:
            label = f"{found.group('name')} {found.group('version')}"
        built = _UV_BUILD.search(line)
        if built:
            return f"{built.group('name')} {_uv_version(built)}".strip()
    return label


def _uv_version(found: re.Match[str]) -> str:
    if found.group("version"):
        return found.group("version")
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    try:
        return str(parse_sdist_filename(Path(urlsplit(found.group("url") or "").path).name)[1])
    except InvalidSdistFilename:
        return ""


def first_compiler_error(lines: Iterable[str]) -> str:
    """The compiler's first error line (``file.c:2:10: fatal error: ...``), else the first
    line that says ``error:``; empty when there is none."""
    plain = [_unpiped(line) for line in lines]
    for pattern in (_COMPILER_ERROR, _ANY_ERROR):
        found = next((line for line in plain if pattern.search(line)), None)
        if found:
            return found
    return ""


def _build_failed(lines: Sequence[str], ctx: Context) -> Optional[Finding]:
    if not any(marker in line for line in lines for marker in _BUILD_FAILED):
        return None
    package = _package(lines) or "a package"
    error = first_compiler_error(lines)
    problem = f"{package} had to be built from source for Python 3.{ctx.python_minor}, " \
              "and the build failed" + (f": {error}" if error else "")
    header = _HEADER.search(error)
    if header:
        fix = (f"install the system package that provides {header.group('header')} (on "
               "Debian or Ubuntu usually a '-dev' package, with apt-get), or choose a Python "
               "version or a version of the package that has a ready-made wheel")
    else:
        fix = ("choose a Python version or a version of the package that has a ready-made "
               "wheel, or install the build tools it needs")
    return Finding("build-failed", problem, fix)


def wheel_pythons(lock_file: Optional[Path], name: str) -> list[int]:
    """The CPython 3 minor versions the locked files of ``name`` have wheels for."""
    import tomlkit
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        lock = tomlkit.parse(Path(lock_file).read_text(encoding="utf-8")) if lock_file else {}
    except (OSError, ValueError):
        return []
    minors: set[int] = set()
    for package in lock.get("package", []):
        if canonicalize_name(str(package.get("name", ""))) != canonicalize_name(name):
            continue
        for entry in package.get("files", []):
            try:
                tags = parse_wheel_filename(str(entry.get("file", "")))[3]
            except InvalidWheelFilename:
                continue
            for tag in tags:
                found = re.fullmatch(r"cp3(\d+)", tag.interpreter)
                if found:
                    minors.add(int(found.group(1)))
    return sorted(minors)


def _no_wheel(lines: Sequence[str], ctx: Context) -> Optional[Finding]:
    for line in lines:
        found = _CANDIDATES.search(line) or _UV_WHEELS.search(line)
        if found is None:
            continue
        name, version = found.group("name"), found.group("version")
        minors = wheel_pythons(ctx.lock_file, name) or sorted(
            {int(m) for m in re.findall(r"cp3(\d+)", found.groupdict().get("tags") or "")})
        has = (f" (its wheels are for {', '.join(f'3.{m}' for m in minors)})"
               if minors else "")
        offered = [m for m in minors if m in OFFERED_MINORS]
        choose = (f"choose Python 3.{min(offered, key=lambda m: abs(m - ctx.python_minor))}"
                  if offered else f"choose a Python version {name} {version} has wheels for")
        return Finding(
            "no-wheel",
            f"{name} {version} has no wheel for Python 3.{ctx.python_minor} on this "
            f"platform{has}, and no source to build it from",
            f"{choose}, or another version of {name}")
    return None


def explain(lines: Sequence[str], ctx: Context,
            missing: Optional[Callable[[list[str], str], list[str]]] = None
            ) -> Optional[Finding]:
    """The first cause the output shows, or None when it shows none of them.

    ``missing`` asks the index which names it lacks (default: its simple API).
    """
    if missing is None:
        from .index import missing_names as missing
    assert missing is not None
    for check in (_python_range, _build_failed, _no_wheel, _unreachable):
        finding = check(lines, ctx)
        if finding is not None:
            return finding
    return _no_match(lines, ctx, missing)
