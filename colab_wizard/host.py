"""Which notebook front end we are in; only the name, so the rest stays host-neutral."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal, Optional

from . import settings
from .errors import SpecError

# The front ends the wizard tells apart ("jupyter": Lab, Notebook 7 or classic).
Host = Literal["colab", "vscode", "jupyter", "terminal"]
HOSTS: tuple[Host, ...] = ("colab", "vscode", "jupyter", "terminal")


def detect_host() -> Host:
    """Which front end this is; ``COLAB_WIZARD_HOST`` says so when the detection is wrong."""
    forced = settings.HOST.get()
    if forced:
        for host in HOSTS:
            if forced == host:
                return host
        raise SpecError(settings.HOST.name, f"{forced!r} is not a front end the wizard knows; "
                        f"set it to one of {', '.join(HOSTS)}, or unset it.")
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if "VSCODE_PID" in os.environ or "VSCODE_CWD" in os.environ:
        return "vscode"
    if "ipykernel" in sys.modules:
        return "jupyter"
    return "terminal"


def notebook_path() -> Optional[Path]:
    """The running notebook's file, where the server tells the kernel (jupyter_server 2 sets
    ``JPY_SESSION_NAME``; the kernel starts in the notebook's folder)."""
    session = os.environ.get("JPY_SESSION_NAME")
    if not session or not session.endswith(".ipynb"):
        return None
    for candidate in (Path(session), Path.cwd() / Path(session).name):
        if candidate.is_file():
            return candidate.resolve()
    return None
