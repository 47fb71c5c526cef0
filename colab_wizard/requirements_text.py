"""The dependency editor's text, understood: requirements lines or a whole pyproject.toml.

Pure functions, no widgets: the panel (and anything else) hands in what the
user typed or pasted and gets back the requirements, every bad line with its
number and the reason, and warnings for things that were understood but not
used. The requirements view and the pyproject.toml view convert into each
other through tomlkit, so comments the user wrote survive the round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import tomlkit
from tomlkit.items import Array

from . import pyproject
from .spec import SpecError, listed_twice, parse_requirement

# A TOML table header or a ``key = value`` line at the start of the text: a pyproject.toml.
# (a requirement line never starts with '[').
_TOML_HEADER = re.compile(r"^\s*\[", re.M)
_HASH_OPTION = re.compile(r"\s--hash[= ]\S+")
_ARRAY_LINE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*,?\s*(?:#\s?(.*))?$""")


@dataclass(frozen=True)
class Line:
    """One line of the requirements view: a requirement (maybe with a comment) or a comment."""

    number: int
    requirement: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Parsed:
    kind: str  # "requirements" or "pyproject"
    requirements: tuple[str, ...] = ()
    errors: tuple[SpecError, ...] = ()
    warnings: tuple[str, ...] = ()
    lines: tuple[Line, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def message(self) -> str:
        """Every error as a sentence naming its line, one per line."""
        out = []
        for error in self.errors:
            where = f"Line {error.line}: " if error.line is not None else ""
            out.append(where + error.message)
        return "\n".join(out)


def looks_like_pyproject(text: str) -> bool:
    return bool(_TOML_HEADER.search(text or ""))


def parse(text: str) -> Parsed:
    """Requirements (one per line, ``#`` comments) or a pasted pyproject.toml."""
    if looks_like_pyproject(text):
        return parse_pyproject(text)
    return parse_requirements(text)


def _split_comment(raw: str) -> tuple[str, str]:
    # pip's rule: '#' starts a comment at the line start or after whitespace (URLs keep '#').
    match = re.search(r"(^|\s)#", raw)
    if not match:
        return raw.strip(), ""
    return raw[: match.start()].strip(), raw[match.end():].strip()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with ``\\`` continuations joined, each with the number of its first line."""
    result: list[tuple[int, str]] = []
    pending: Optional[tuple[int, str]] = None
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if pending is not None:
            number, raw = pending[0], pending[1] + " " + raw.strip()
            pending = None
        if raw.rstrip().endswith("\\") and not raw.lstrip().startswith("#"):
            pending = (number, raw.rstrip()[:-1])
            continue
        result.append((number, raw))
    if pending is not None:
        result.append(pending)
    return result


def parse_requirements(text: str) -> Parsed:
    errors: list[SpecError] = []
    warnings: list[str] = []
    lines: list[Line] = []
    reqs: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in _logical_lines(text):
        body, comment = _split_comment(raw)
        body = _HASH_OPTION.sub("", " " + body).strip()
        if not body:
            if comment or raw.strip():
                lines.append(Line(number, "", comment))
            continue
        if body.startswith("-"):
            option = body.split()[0]
            if option in ("-r", "--requirement", "-c", "--constraint"):
                errors.append(SpecError(
                    "dependencies",
                    f"'{body}' refers to another file, which the wizard cannot see; "
                    "paste that file's lines here instead.", number))
            else:
                warnings.append(f"Line {number}: the pip option '{option}' is ignored "
                                "(the wizard sets the package index itself).")
                lines.append(Line(number, "", f"{body} {comment}".strip()))
            continue
        try:
            requirement = parse_requirement(body, number)
        except SpecError as exc:
            errors.append(exc)
            continue
        twice = listed_twice(requirement, number, seen)
        if twice is not None:
            errors.append(twice)
            continue
        reqs.append(body)
        lines.append(Line(number, body, comment))
    return Parsed("requirements", tuple(reqs), tuple(errors), tuple(warnings), tuple(lines))


def _poetry_constraint(name: str, value: Any) -> str:
    """A ``[tool.poetry.dependencies]`` entry as a PEP 508 requirement."""
    extras = ""
    if isinstance(value, dict):
        if value.get("extras"):
            extras = "[" + ",".join(str(e) for e in value["extras"]) + "]"
        value = value.get("version", "*")
    text = str(value).strip()
    parts = []
    for piece in [p.strip() for p in text.split(",") if p.strip()]:
        if piece == "*":
            continue
        if piece[0] in "^~" and not piece.startswith("~="):
            numbers = piece[1:].strip().split(".")
            base = [int(n) if n.isdigit() else 0 for n in numbers]
            if piece[0] == "^":
                index = next((i for i, n in enumerate(base) if n != 0), len(base) - 1)
            else:
                index = 0 if len(base) == 1 else 1
            upper = base[: index + 1]
            upper[-1] += 1
            parts.append(f">={'.'.join(numbers)},<{'.'.join(map(str, upper))}")
        elif piece[0].isdigit():
            parts.append("==" + piece)
        else:
            parts.append(piece)
    return f"{name}{extras}{','.join(parts)}"


def _array_lines(array: Array, first_line: int) -> list[Line]:
    """The items and comment lines of a multi-line TOML array, as the user wrote them."""
    lines: list[Line] = []
    for offset, raw in enumerate(array.as_string().splitlines()):
        stripped = raw.strip().lstrip("[").rstrip("]").strip()
        number = first_line + offset
        if stripped.startswith("#"):
            lines.append(Line(number, "", stripped[1:].strip()))
            continue
        match = _ARRAY_LINE.match(stripped)
        if match:
            value = tomlkit.parse(f"v = {match.group(1)}")["v"]
            lines.append(Line(number, str(value), (match.group(2) or "").strip()))
    if not lines and len(array):
        lines = [Line(first_line, str(item)) for item in array]
    return lines


def parse_pyproject(text: str) -> Parsed:
    """The dependencies of a pasted pyproject.toml (PEP 621, or Poetry's own table)."""
    try:
        doc = pyproject.parse(text)
    except SpecError as exc:
        return Parsed("pyproject", errors=(exc,))
    warnings: list[str] = []
    project = doc.get("project")
    lines: list[Line] = []
    if project is not None and "dependencies" in project:
        deps = project["dependencies"]
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            return Parsed("pyproject", errors=(SpecError(
                "pyproject", "[project] dependencies must be a list of strings."),))
        first = _line_of(text, "dependencies")
        lines = _array_lines(deps, first) if isinstance(deps, Array) else [
            Line(first, str(d)) for d in deps]
    else:
        poetry_deps = doc.get("tool", {}).get("poetry", {}).get("dependencies", {})
        first = _line_of(text, "[tool.poetry.dependencies]") + 1
        for offset, (name, value) in enumerate(poetry_deps.items()):
            if name.lower() == "python":
                continue
            lines.append(Line(first + offset, _poetry_constraint(name, value)))
        if poetry_deps:
            warnings.append("Converted [tool.poetry.dependencies] to PEP 508 requirements.")
    if project is None and not lines:
        return Parsed("pyproject", errors=(SpecError(
            "pyproject", "This pyproject.toml has no [project] table and no "
            "[tool.poetry.dependencies]; add [project] with a dependencies list."),))
    reqs_text = "\n".join(line.requirement for line in lines)
    checked = parse_requirements(reqs_text)
    # Map line numbers of the joined requirement text back to the TOML file's lines.
    numbered = [line.number for line in lines]
    errors = tuple(
        SpecError(e.field, e.message, numbered[e.line - 1] if e.line else None)
        for e in checked.errors
    )
    return Parsed("pyproject", checked.requirements, errors,
                  tuple(warnings) + checked.warnings, tuple(lines))


def _line_of(text: str, needle: str) -> int:
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip().startswith(needle):
            return number
    return 1


def requirements_text(lines: Union[list[Line], tuple[Line, ...]]) -> str:
    out = []
    for line in lines:
        if line.requirement:
            out.append(line.requirement + (f"  # {line.comment}" if line.comment else ""))
        else:
            out.append(f"# {line.comment}" if line.comment else "")
    return "\n".join(out)


def from_pyproject(text: str) -> str:
    """The requirements view of a pyproject.toml: one requirement per line, comments kept."""
    parsed = parse_pyproject(text)
    if parsed.errors and not parsed.lines:
        raise parsed.errors[0]
    return requirements_text(parsed.lines)


def starter_pyproject(name: str, python_minor: int) -> str:
    doc = tomlkit.document()
    project = tomlkit.table()
    project["name"] = name or "my-kernel"
    project["version"] = "0.1.0"
    project["requires-python"] = f">=3.{python_minor},<3.{python_minor + 1}"
    project["dependencies"] = tomlkit.array()
    doc["project"] = project
    poetry = tomlkit.table()
    poetry["package-mode"] = False
    tool = tomlkit.table(is_super_table=True)
    tool["poetry"] = poetry
    doc["tool"] = tool
    return tomlkit.dumps(doc)


def to_pyproject(requirements: str, base: str = "", name: str = "",
                 python_minor: int = 12) -> str:
    """Put the requirements view's lines (with comments) into a pyproject.toml.

    ``base`` is the pyproject text the user had before (kept: other tables, comments,
    formatting); only ``[project] dependencies`` is rewritten.
    """
    parsed = parse_requirements(requirements)
    if parsed.errors:
        raise parsed.errors[0]
    doc = pyproject.parse(base) if base.strip() else pyproject.parse(
        starter_pyproject(name, python_minor))
    project = doc.get("project")
    if project is None:
        project = tomlkit.table()
        project["name"] = name or "my-kernel"
        project["version"] = "0.1.0"
        doc["project"] = project
    array = tomlkit.array()
    for line in parsed.lines:
        if line.requirement:
            array.add_line(line.requirement, comment=line.comment or None)
        elif line.comment:
            array.add_line(comment=line.comment)
    if len(parsed.lines):
        array.add_line(indent="")
    project["dependencies"] = array
    return tomlkit.dumps(doc)
