"""pyproject.toml: rendered from a spec, read back, edited without losing the user's text."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from colab_wizard import pyproject
from colab_wizard.spec import EnvSpec, SpecError


def make(tmp_path: Path, deps: list[str], python: str = "3.12") -> EnvSpec:
    return EnvSpec.make(python, deps, name="demo", project_dir=tmp_path,
                        index_url="https://pypi.org/simple/")


def test_render_is_a_poetry_project(tmp_path: Path) -> None:
    text = pyproject.render(make(tmp_path, ["six>=1.16", "tabulate"]))
    doc = tomlkit.parse(text)
    assert doc["project"]["name"] == "demo"
    assert doc["project"]["requires-python"] == ">=3.12,<3.13"
    assert list(doc["project"]["dependencies"]) == ["six>=1.16", "tabulate", "ipykernel"]
    assert doc["tool"]["poetry"]["package-mode"] is False
    source = doc["tool"]["poetry"]["source"][0]
    assert (source["url"], source["priority"]) == ("https://pypi.org/simple/", "primary")
    assert pyproject.dependencies(text) == ["six>=1.16", "tabulate", "ipykernel"]


def test_ipykernel_not_added_twice(tmp_path: Path) -> None:
    text = pyproject.render(make(tmp_path, ["ipykernel>=6"]))
    assert pyproject.dependencies(text) == ["ipykernel>=6"]


USER_FILE = '''\
# my notes about this environment
[project]
name = "mine"  # keep this name
version = "1.2.3"
requires-python = ">=3.10"
dependencies = [
    "six",  # needed by old code
    "tabulate",
]

[tool.black]
line-length = 88
'''


def test_update_keeps_comments_order_and_foreign_tables(tmp_path: Path) -> None:
    text = pyproject.update(USER_FILE, make(tmp_path, ["six", "requests"]))
    assert text.startswith("# my notes about this environment\n[project]\nname = \"mine\"  # keep")
    assert '"six",  # needed by old code' in text
    assert "tabulate" not in text
    assert text.index("[tool.black]") < text.index("[tool.poetry]")
    doc = tomlkit.parse(text)
    assert doc["project"]["version"] == "1.2.3"
    assert doc["project"]["requires-python"] == ">=3.12,<3.13"
    assert list(doc["project"]["dependencies"]) == ["six", "requests", "ipykernel"]
    # Editing again with the same spec changes nothing.
    assert pyproject.update(text, make(tmp_path, ["six", "requests"])) == text


def test_invalid_toml_says_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        pyproject.update("[project]\nname = \n", make(tmp_path, []))
    assert caught.value.field == "pyproject"
    assert "line 2" in caught.value.message and "column" in caught.value.message


def test_project_without_name(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="needs a name"):
        pyproject.dependencies('[project]\ndependencies = ["six"]\n')
    with pytest.raises(SpecError, match="no \\[project\\]"):
        pyproject.dependencies("[tool.x]\n")
