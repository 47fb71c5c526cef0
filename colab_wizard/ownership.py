"""Who a project folder belongs to: the wizard made it, adopted it, or it is someone else's.

``create`` rewrites the project files it owns (the dependency list, ``requires-python``,
``poetry.toml``). Doing that to a user's own Poetry project loses their settings and
dependencies, so a folder holding a ``pyproject.toml`` or ``poetry.toml`` the wizard
did not write is refused before anything runs; adopting it edits it in place instead.

The wizard's mark is its state file (``.colab_wizard/state.json``): written by every
run (the first stage saves the Python it found) and by the panel when it puts the
user's own text into a new project. An adopted project's state says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .spec import SpecError

STATE_DIR = ".colab_wizard"
STATE_FILE = "state.json"
PROJECT_FILES = ("pyproject.toml", "poetry.toml")
# The key an adopted project's state carries (where it came from: folder or git URL).
ADOPTED = "adopted"

EMPTY, OURS, ADOPTED_OWNER, FOREIGN = "empty", "ours", "adopted", "foreign"


def state_path(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / STATE_FILE


def read_state(project_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(state_path(project_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def owner(project_dir: Path) -> str:
    """"empty" (no project files), "ours", "adopted" or "foreign"."""
    state = read_state(project_dir)
    if state.get(ADOPTED):
        return ADOPTED_OWNER
    if not any((project_dir / name).exists() for name in PROJECT_FILES):
        return EMPTY
    return OURS if state_path(project_dir).exists() else FOREIGN


def claim(project_dir: Path) -> None:
    """Mark a new project folder as the wizard's before it writes the first file there."""
    path = state_path(project_dir)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # The state folder is the wizard's business, never something to commit.
    (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    path.write_text("{}", encoding="utf-8")


def check_create(project_dir: Path) -> None:
    """Refuse to ``create`` into a Poetry project the wizard did not write (or adopted)."""
    found = owner(project_dir)
    if found == FOREIGN:
        present = " and ".join(n for n in PROJECT_FILES if (project_dir / n).exists())
        raise SpecError(
            "project_dir",
            f"{project_dir} already holds a {present} that colab_wizard did not write; "
            "creating a kernel there would replace its dependencies and settings. To use "
            f"that project as the kernel, adopt it (python -m colab_wizard adopt {project_dir}"
            ", or create(..., adopt=True)); otherwise choose an empty folder.",
        )
    if found == ADOPTED_OWNER:
        raise SpecError(
            "project_dir",
            f"{project_dir} is a project colab_wizard adopted: its dependencies are its own. "
            f"Run adopt again (python -m colab_wizard adopt {project_dir}) to rebuild its "
            "kernel, or choose an empty folder for a new one.",
        )
