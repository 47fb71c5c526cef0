"""The environment the wizard's subprocesses run with.

Hosts set variables that would silently redirect an install: Colab exports
``PYTHONPATH=/env/python`` and ``UV_*``; an active virtualenv or a ``PIP_*``
setting would make Poetry or pip act on the wrong place. They are dropped;
output is made unbuffered and colourless so progress can be read line by line.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

_DROP_EXACT = {
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONEXECUTABLE",
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "__PYVENV_LAUNCHER__",
    "MPLBACKEND",
    # ipykernel 7 exports these into every kernel: Poetry's and pip's progress bars then
    # write cursor and colour escapes into the log instead of plain lines.
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "TTY_COMPATIBLE",
}
_DROP_PREFIXES = ("UV_", "PIP_", "POETRY_")
# Where Poetry keeps its own state is the caller's choice (tests isolate it).
_KEEP = {"POETRY_HOME", "POETRY_CACHE_DIR", "POETRY_CONFIG_DIR", "POETRY_DATA_DIR"}


def clean_env(
    extra: Optional[Mapping[str, str]] = None, base: Optional[Mapping[str, str]] = None
) -> dict[str, str]:
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if key in _KEEP or (key not in _DROP_EXACT and not key.startswith(_DROP_PREFIXES))
    }
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "NO_COLOR": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "POETRY_NO_INTERACTION": "1",
        }
    )
    if extra:
        env.update(extra)
    return env
