"""Where the wizard keeps things: one data dir, overridable for tests and sites.

``COLAB_WIZARD_HOME`` moves everything (tool environments, downloaded Pythons,
projects outside Colab, logs); nothing is written to the host's site-packages.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import settings

COLAB_CONTENT = Path("/content")


def data_dir() -> Path:
    explicit = settings.HOME.get()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "colab_wizard"


def tools_dir() -> Path:
    """Tool environments (Poetry) live here, apart from any project."""
    return data_dir() / "tools"


def pythons_dir() -> Path:
    """Interpreters the wizard installed itself."""
    return data_dir() / "pythons"


def logs_dir() -> Path:
    return data_dir() / "logs"


def default_project_dir(kernel_name: str) -> Path:
    """``/content/<name>`` on Colab (visible in the file browser), else the data dir."""
    from .host import detect_host

    if detect_host() == "colab":
        return COLAB_CONTENT / kernel_name
    return data_dir() / "projects" / kernel_name


def new_log_path(kernel_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return logs_dir() / f"{kernel_name}-{stamp}-{os.getpid()}.log"
