"""Which installed distributions importing some modules loads, measured on a Python.

Declared metadata is not enough: Colab's ``google.colab`` imports anywidget, PIL,
numpy and httplib2 when it loads and declares none of them. So the modules are
imported in a fresh process of the host's Python, with the host's environment, and
every module that ends up in ``sys.modules`` is traced back to the distribution
that installed its files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional

# Runs in the measured Python (3.8+): imports argv's modules, then maps each loaded
# module to a distribution. In a namespace package or a top-level name shared by several
# distributions (``google``), the one holding the module's second level owns it.
_PROBE = r"""
import sys
before = set(sys.modules)  # start-up hooks (.pth files) are not what the import loads
import importlib, json
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = "%s: %s" % (type(exc).__name__, exc)
from importlib import metadata
owners = metadata.packages_distributions()
files = {}
def holds(dist, parts):
    if dist not in files:
        try:
            found = metadata.distribution(dist).files or []
        except Exception:
            found = []
        files[dist] = {tuple(str(f).replace("\\", "/").split("/")[:2]) for f in found}
    return tuple(parts[:2]) in files[dist]
dists = {}
for name in [n for n in list(sys.modules) if n not in before]:
    parts = name.split(".")
    candidates = list(dict.fromkeys(owners.get(parts[0], [])))  # a dir twice on sys.path
    namespace = getattr(sys.modules.get(parts[0]), "__file__", None) is None
    if namespace or len(candidates) > 1:
        if len(parts) == 1:
            continue
        candidates = [d for d in candidates if holds(d, parts)]
    for dist in candidates:
        if dist not in dists:
            try:
                dists[dist] = metadata.version(dist)
            except Exception:
                pass
print(json.dumps({"dists": dists, "failed": failed}))
"""


@dataclass(frozen=True)
class Loaded:
    """Distribution name -> installed version, and the modules that failed to import."""

    dists: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None


def loaded_distributions(modules: tuple[str, ...], python: str = sys.executable,
                         timeout: float = 120) -> Loaded:
    """Import ``modules`` in a fresh ``python`` and list the distributions that loads."""
    try:
        done = subprocess.run([python, "-c", _PROBE, *modules], capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Loaded(error=f"could not run {python}: {exc}")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return Loaded(error=(done.stderr.strip().splitlines() or ["no output"])[-1])
    data = json.loads(lines[-1])
    return Loaded(dict(data["dists"]), dict(data["failed"]))
