"""The user's own Poetry project from issue 10, as a folder and as a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE = "myproj"

PYPROJECT = """\
# My own project: the wizard must keep every line of this file.
[project]
name = "myproj"
version = "0.3.0"
description = "A package of mine"
requires-python = ">=3.9"
dependencies = ["requests>=2"]  # keep this

[tool.mytool]
answer = 42  # a table Poetry knows nothing about
colors = ["red", "green"]

[build-system]
requires = ["poetry-core>=2"]
build-backend = "poetry.core.masonry.api"
"""

POETRY_TOML = """\
# My Poetry settings for this folder
[virtualenvs]
prefer-active-python = true  # the Python on PATH

[installer]
max-workers = 3
"""

INIT = 'VALUE = "mine"\n'


def write(folder: Path, pyproject: str = PYPROJECT, poetry_toml: str = POETRY_TOML) -> Path:
    """The project as a user has it: a package, its pyproject.toml and poetry.toml."""
    (folder / PACKAGE).mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (folder / "poetry.toml").write_text(poetry_toml, encoding="utf-8")
    (folder / PACKAGE / "__init__.py").write_text(INIT, encoding="utf-8")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def git(folder: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                         check=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
                                          "HOME": str(folder), "PATH": "/usr/bin:/bin"})
    return out.stdout.strip()


def make_repo(folder: Path, extra: dict[str, str] | None = None) -> str:
    """Turn ``folder`` into a git repository with one commit; returns the commit id."""
    for name, text in (extra or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "my project")
    return git(folder, "rev-parse", "HEAD")
