"""After an install, before the kernel is registered: is the new venv what was asked, whole?

The restore compares every distribution with the lock itself (freshvm.py); this also
catches what that cannot: a dependency that some installed distribution needs and that
nothing installed (a wheel a saved folder lacks, say), named in the sentence, as
``pip check`` would. One short run of the venv's Python lists its distributions, their
requirements and its marker environment; the rest is :mod:`packaging` on this side (``pip
check`` itself takes most of a second to start: pip is big).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .errors import WizardError
from .preflight import MARKERS_CODE
from .procenv import clean_env

_SURVEY_CODE = MARKERS_CODE + """
import json, importlib.metadata as m
_dists = {}
for _d in m.distributions():
    _name = _d.metadata["Name"]
    if _name and _name not in _dists:
        _dists[_name] = [_d.version, _d.requires or []]
print(json.dumps({"dists": _dists, "markers": _env}))
"""


@dataclass(frozen=True)
class Survey:
    """What a venv holds: {canonical name: version}, each one's requirements, its markers."""

    versions: dict[str, str]
    requires: dict[str, list[str]]
    markers: dict[str, str]

    def unmet(self) -> list[str]:
        """``pip check``'s findings, in its words: a requirement nothing installed, or
        installed at a version the requirement excludes (extras are not asked for)."""
        problems = []
        for name, requirements in sorted(self.requires.items()):
            for text in requirements:
                try:
                    req = Requirement(text)
                except InvalidRequirement:
                    continue
                if req.marker is not None and not req.marker.evaluate(
                        {**self.markers, "extra": ""}):
                    continue
                got = self.versions.get(canonicalize_name(req.name))
                if got is None:
                    problems.append(f"{name} {self.versions[name]} requires {req.name}, "
                                    "which is not installed.")
                elif req.specifier and not req.specifier.contains(got, prereleases=True):
                    problems.append(f"{name} {self.versions[name]} has requirement {req}, but "
                                    f"you have {req.name} {got}.")
        return problems


def survey_argv(venv_python: Path) -> list[str]:
    """The command that lists the venv's distributions with its own Python (isolated: none
    of ours); its output is read by :func:`read_survey`. A save records what it lists, a
    restore checks against it: one list, so both see the same version of a name found twice
    (the first on the path, as imports do)."""
    return [str(venv_python), "-I", "-c", _SURVEY_CODE]


def read_survey(out: Union[str, bytes]) -> Survey:
    data = json.loads(out)
    versions: dict[str, str] = {}
    requires: dict[str, list[str]] = {}
    for name, (version, needs) in data["dists"].items():
        key = canonicalize_name(name)
        versions.setdefault(key, version)
        requires.setdefault(key, list(needs))
    return Survey(versions, requires, dict(data["markers"]))


async def survey(venv_python: Path) -> Survey:
    """What the venv holds (see :func:`survey_argv`)."""
    process = await asyncio.create_subprocess_exec(
        *survey_argv(venv_python), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=clean_env())
    out, err = await process.communicate()
    if process.returncode != 0:
        raise WizardError(f"{venv_python} could not list its packages: "
                           f"{err.decode('utf-8', 'replace').strip()[-300:]}")
    return read_survey(out)
