"""EnvSpec: what the user asked for, checked before any process starts.

Every check raises :class:`SpecError` naming the field and saying how to fix
it, so the panel can put the sentence next to the field and the CLI can print
it and exit 2.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import paths
from .errors import SpecError as SpecError  # raised here; callers have imported it from here

MIN_MINOR = 9
MAX_MINOR = 14
# Free-threaded CPython builds exist from 3.13 on.
MIN_FREE_THREADED_MINOR = 13
NAME_MAX = 64

_VERSION_RE = re.compile(r"^3\.(\d{1,2})(?:\.(\d{1,3}))?(t?)$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Characters that only make sense to a shell; PEP 508 markers never need them.
_SHELL_CHARS = set("|`$\\\n\r")


@dataclass(frozen=True)
class PythonVersion:
    """A requested CPython: ``3.12``, ``3.12.4`` or free-threaded ``3.13t``."""

    minor: int
    patch: Optional[int] = None
    free_threaded: bool = False

    @property
    def short(self) -> str:
        """``3.12`` — what pyproject's requires-python and kernel names use."""
        return f"3.{self.minor}"

    def __str__(self) -> str:
        text = self.short if self.patch is None else f"{self.short}.{self.patch}"
        return text + ("t" if self.free_threaded else "")

    def matches(self, version: tuple[int, int, int], free_threaded: bool) -> bool:
        """Whether an interpreter reporting ``version`` satisfies this request."""
        if version[0] != 3 or version[1] != self.minor or free_threaded != self.free_threaded:
            return False
        return self.patch is None or version[2] == self.patch


def _require_text(field_name: str, value: object, what: str) -> None:
    if value is not None and not isinstance(value, str):
        raise SpecError(field_name, f"Give {what}, not {type(value).__name__} {value!r}.")


def parse_python(text: str) -> PythonVersion:
    value = (text or "").strip()
    if not value:
        raise SpecError("python", "Choose a Python version, for example 3.12.")
    match = _VERSION_RE.match(value)
    if not match:
        raise SpecError(
            "python",
            f"'{value}' is not a Python version. Write it like 3.12, 3.12.4 or 3.13t.",
        )
    minor = int(match.group(1))
    patch = int(match.group(2)) if match.group(2) is not None else None
    free_threaded = bool(match.group(3))
    if not MIN_MINOR <= minor <= MAX_MINOR:
        raise SpecError(
            "python",
            f"Python {value} is not supported. Choose a version from 3.{MIN_MINOR} "
            f"to 3.{MAX_MINOR}.",
        )
    if free_threaded and minor < MIN_FREE_THREADED_MINOR:
        raise SpecError(
            "python",
            f"Free-threaded builds start at 3.{MIN_FREE_THREADED_MINOR}; "
            f"choose 3.{MIN_FREE_THREADED_MINOR}t or later, or drop the 't'.",
        )
    return PythonVersion(minor, patch, free_threaded)


def default_display_name(python: PythonVersion) -> str:
    return f"Python {python} (poetry)"


def name_from_display_name(display_name: str) -> str:
    """Derive a kernelspec name: lower case, runs of other characters become '-'.

    Letters with no ASCII form (数据分析, 🐍) would all derive the same name, so where any
    was dropped a short suffix stable for the whole display name keeps them apart."""
    # NFKD splits accents off letters, so "Ü" keeps its "U" when non-ASCII is dropped.
    decomposed = unicodedata.normalize("NFKD", display_name)
    ascii_only = decomposed.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_only).strip("-.")
    slug = re.sub(r"\.{2,}", ".", slug)
    dropped = any(ord(c) > 127 and unicodedata.category(c) != "Mn" for c in decomposed)
    if not dropped:
        return slug[:NAME_MAX].rstrip("-.") or "poetry-kernel"
    suffix = hashlib.sha256(display_name.strip().encode("utf-8")).hexdigest()[:6]
    base = slug[:NAME_MAX - len(suffix) - 1].rstrip("-.") or "kernel"
    return f"{base}-{suffix}"


def check_name(name: str) -> str:
    value = name.strip() if isinstance(name, str) else name
    if not value:
        raise SpecError("name", "Give the kernel a name, for example py312-poetry.")
    if len(value) > NAME_MAX:
        raise SpecError(
            "name", f"The kernel name has {len(value)} characters; keep it to {NAME_MAX} or fewer."
        )
    if ".." in value or "/" in value or "\\" in value:
        raise SpecError(
            "name", f"'{value}' contains '/' or '..'; use letters, digits, '.', '-' and '_' only."
        )
    if not _NAME_RE.match(value):
        raise SpecError(
            "name",
            f"'{value}' is not a valid kernel name: use lower-case letters a-z, digits, "
            "'.', '-' and '_' (no spaces), starting with a letter or digit.",
        )
    if value == "python3":
        raise SpecError(
            "name", "'python3' is the notebook's built-in kernel; choose another name."
        )
    return value


def check_display_name(display_name: str) -> str:
    value = display_name.strip()
    if not value:
        raise SpecError("display_name", "Give the kernel a display name, e.g. 'Python 3.12'.")
    if len(value) > 120:
        raise SpecError("display_name", "Keep the display name to 120 characters or fewer.")
    if any(ord(c) < 32 for c in value):
        raise SpecError("display_name", "The display name cannot contain line breaks or tabs.")
    return value


def parse_requirement(text: str, line: Optional[int] = None) -> Requirement:
    """One PEP 508 requirement, or a SpecError that names the line."""
    value = text.strip()
    bad = sorted(c for c in set(value) & _SHELL_CHARS)
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise SpecError(
            "dependencies",
            f"'{value}' contains {shown}, which a requirement never needs. "
            "Write one package per line, like numpy>=1.26 or requests[socks].",
            line,
        )
    try:
        return Requirement(value)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise SpecError(
            "dependencies",
            f"'{value}' is not a valid requirement ({reason}). "
            "Write it like numpy>=1.26, pandas==2.2.2 or requests[socks].",
            line,
        ) from None


def listed_twice(requirement: Requirement, number: int,
                 seen: dict[str, int]) -> Optional[SpecError]:
    """The error for a package an earlier line already names, else None (and the line is
    noted in ``seen``, canonical name -> line). Lines with markers may repeat a name: the
    markers choose between them (``numpy<2; python_version<'3.10'``)."""
    key = canonicalize_name(requirement.name)
    if key in seen and not requirement.marker:
        return SpecError(
            "dependencies",
            f"'{requirement.name}' is listed twice (lines {seen[key]} and {number}); "
            "keep one line per package.",
            number,
        )
    seen.setdefault(key, number)
    return None


def check_dependencies(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    result = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise SpecError(
                "dependencies",
                f"Item {number} is {type(item).__name__} {item!r}, not text; give each "
                "requirement as a string like 'numpy>=1.26'.",
                number,
            )
        if not item.strip():
            raise SpecError("dependencies", "An empty dependency was given; remove it.", number)
        requirement = parse_requirement(item, number)
        twice = listed_twice(requirement, number, seen)
        if twice is not None:
            raise twice
        result.append(str(requirement))
    return tuple(result)


def check_project_dir(project_dir: Path) -> Path:
    text = str(project_dir)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise SpecError(
            "project_dir",
            f"{text!r} contains a line break or another control character; "
            "choose a folder name without them.",
        )
    try:
        path = Path(project_dir).expanduser()
    except RuntimeError:  # ~user of an unknown user
        raise SpecError("project_dir", f"{text} names a home folder that does not exist; "
                        "give the full path.") from None
    if path.exists() and not path.is_dir():
        raise SpecError(
            "project_dir",
            f"{path} is a file, not a folder. Choose a folder for the project "
            "(it will be created if it does not exist).",
        )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise SpecError("project_dir", f"{parent} is a file, so {path} cannot be created.")
    check_writable(path, "project_dir", "Choose a folder you can write to.")
    return path.absolute()


def check_writable(path: Path, field_name: str, fix: str, what: str = "") -> None:
    """Refuse ``path`` when it, or the folder it would be created in, cannot be written
    (permissions, or a read-only file system, which binds root too)."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK):
        raise SpecError(field_name, f"{what}{existing} is not writable. {fix}")


@dataclass(frozen=True)
class EnvSpec:
    """A validated request; build one with :meth:`EnvSpec.make`."""

    python: PythonVersion
    name: str
    display_name: str
    dependencies: tuple[str, ...] = field(default=())
    project_dir: Path = field(default=Path("."))
    # Never with user info: this URL is written into files and logs. The index's
    # credentials, if any, travel apart (only in environment variables, at run time).
    index_url: str = ""
    index_auth: Optional[tuple[str, str]] = field(default=None, repr=False, compare=False)

    @classmethod
    def make(
        cls,
        python: str,
        dependencies: Iterable[str] = (),
        name: Optional[str] = None,
        display_name: Optional[str] = None,
        project_dir: Optional[Path | str] = None,
        index_url: Optional[str] = None,
    ) -> EnvSpec:
        from .index import known_credentials, resolve_index_url, split_credentials

        _require_text("python", python, "the version as text, like '3.12' (the number 3.10 "
                      "would read as 3.1)")
        for field_name, value in (("name", name), ("display_name", display_name),
                                  ("index_url", index_url)):
            if value is not None:
                _require_text(field_name, value, "text")
        if project_dir is not None and not isinstance(project_dir, (str, os.PathLike)):
            raise SpecError("project_dir", f"Give the folder as text or a Path, not "
                            f"{type(project_dir).__name__} {project_dir!r}.")
        if dependencies is None:
            dependencies = ()
        try:
            iter(dependencies)
        except TypeError:
            raise SpecError("dependencies", f"Give a list of requirements, not "
                            f"{type(dependencies).__name__} {dependencies!r}.") from None
        version = parse_python(python)
        shown = check_display_name(
            display_name if display_name is not None else default_display_name(version)
        )
        kernel_name = check_name(name if name is not None else name_from_display_name(shown))
        if isinstance(dependencies, str):
            raise SpecError("dependencies", "Give a list of requirements, one string each.")
        deps = check_dependencies(dependencies)
        folder = check_project_dir(
            Path(project_dir) if project_dir else paths.default_project_dir(kernel_name)
        )
        url, auth = split_credentials(resolve_index_url(index_url))
        return cls(version, kernel_name, shown, deps, folder, url,
                   auth if auth is not None else known_credentials(url))
