"""The project's ``pyproject.toml``: written from an EnvSpec, read back, edited in place.

tomlkit keeps the user's comments, order and formatting when the wizard edits a
file the user already touched; only the keys the wizard owns change.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Array, Table

from .spec import EnvSpec, SpecError

KERNEL_PACKAGE = "ipykernel"
SOURCE_NAME = "colab-wizard-index"


def requires_python(spec: EnvSpec) -> str:
    minor = spec.python.minor
    return f">=3.{minor},<3.{minor + 1}"


def dependencies_with_kernel(spec: EnvSpec) -> list[str]:
    """The user's requirements plus ipykernel, which every kernel needs."""
    deps = list(spec.dependencies)
    names = {canonicalize_name(Requirement(d).name) for d in deps}
    if KERNEL_PACKAGE not in names:
        deps.append(KERNEL_PACKAGE)
    return deps


def render(spec: EnvSpec) -> str:
    """A new pyproject.toml for ``spec``."""
    return update("", spec)


def parse(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        line = getattr(exc, "line", None)
        col = getattr(exc, "col", None)
        where = f" at line {line}, column {col}" if line else ""
        raise SpecError(
            "pyproject", f"pyproject.toml is not valid TOML{where}: {exc}", line
        ) from None


def _table(parent: Any, key: str) -> Any:
    if key not in parent:
        parent[key] = tomlkit.table()
    table = parent[key]
    if not isinstance(table, (Table, dict)):
        raise SpecError("pyproject", f"'{key}' must be a table in pyproject.toml.")
    return table


def _sync_array(array: Array, wanted: list[str]) -> None:
    """Make ``array`` hold ``wanted`` while keeping comments on the items that stay."""
    wanted_set = set(wanted)
    for index in reversed(range(len(array))):
        if str(array[index]) not in wanted_set:
            del array[index]
    present = {str(item) for item in array}
    for item in wanted:
        if item not in present:
            array.append(item)
    if len(array) > 0:
        array.multiline(True)


def update(text: str, spec: EnvSpec) -> str:
    """Edit (or create) a pyproject.toml so that it describes ``spec``."""
    doc = parse(text) if text.strip() else tomlkit.document()
    project = _table(doc, "project")
    project.setdefault("name", spec.name)
    project.setdefault("version", "0.1.0")
    project.setdefault("description", f"Kernel '{spec.display_name}' made by colab_wizard")
    project["requires-python"] = requires_python(spec)
    deps = project.get("dependencies")
    if not isinstance(deps, Array):
        deps = tomlkit.array()
        project["dependencies"] = deps
    _sync_array(deps, dependencies_with_kernel(spec))

    poetry = _table(_table(doc, "tool"), "poetry")
    poetry["package-mode"] = False
    set_source(doc, spec.index_url)
    return tomlkit.dumps(doc)


def set_source(doc: Any, index_url: str) -> None:
    """Make ``[tool.poetry]`` name ``index_url`` as the wizard's primary source."""
    poetry = _table(_table(doc, "tool"), "poetry")
    sources = poetry.get("source")
    if sources is None:
        sources = tomlkit.aot()
        poetry["source"] = sources
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise SpecError(
            "pyproject",
            "[tool.poetry] source must be an array of tables, each written as "
            "[[tool.poetry.source]] with a name and a url.",
        )
    ours = [s for s in sources if s.get("name") == SOURCE_NAME]
    entry = ours[0] if ours else tomlkit.table()
    entry["name"] = SOURCE_NAME
    entry["url"] = index_url
    entry["priority"] = "primary"
    if not ours:
        sources.append(entry)


def set_group(text: str, group: str, requirements: list[str]) -> str:
    """Make Poetry dependency group ``group`` hold ``requirements`` (none: drop the group)."""
    doc = parse(text)
    poetry = _table(_table(doc, "tool"), "poetry")
    groups = poetry.get("group")
    if not requirements:
        if groups is not None and group in groups:
            del groups[group]
            if not groups:
                del poetry["group"]
        return tomlkit.dumps(doc)
    deps = _table(_table(_table(poetry, "group"), group), "dependencies")
    for key in list(deps):
        del deps[key]
    for text_req in requirements:
        req = Requirement(text_req)
        value: Any = str(req.specifier) or "*"
        if req.marker is not None:
            value = tomlkit.inline_table()
            value.update({"version": str(req.specifier) or "*", "markers": str(req.marker)})
        deps[req.name] = value
    return tomlkit.dumps(doc)


def install_groups(text: str) -> list[str]:
    """The Poetry dependency groups ``poetry sync`` installs by default (not optional)."""
    groups = parse(text).get("tool", {}).get("poetry", {}).get("group", {})
    return [str(name) for name, table in groups.items()
            if isinstance(table, dict) and not table.get("optional", False)]


def dependencies(text: str) -> list[str]:
    """The ``[project] dependencies`` of a pyproject.toml, as written."""
    doc = parse(text)
    project = doc.get("project")
    if project is None:
        raise SpecError("pyproject", "pyproject.toml has no [project] table.")
    if "name" not in project:
        raise SpecError("pyproject", "The [project] table needs a name, e.g. name = \"my-env\".")
    deps = project.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise SpecError("pyproject", "[project] dependencies must be a list of strings.")
    return [str(d) for d in deps]


POETRY_TOML = """\
# Written by colab_wizard: keep the virtualenv inside the project folder.
[virtualenvs]
in-project = true
create = true
"""
