"""Which notebook front end we are in; only the name, so the rest stays host-neutral."""

from __future__ import annotations

import os
import sys


def detect_host() -> str:
    """One of "colab", "vscode", "jupyter" (Lab, Notebook 7 or classic) or "terminal"."""
    forced = os.environ.get("COLAB_WIZARD_HOST")
    if forced:
        return forced
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if "VSCODE_PID" in os.environ or "VSCODE_CWD" in os.environ:
        return "vscode"
    if "ipykernel" in sys.modules:
        return "jupyter"
    return "terminal"
