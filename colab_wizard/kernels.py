"""Kernelspecs the wizard writes, registers, lists and removes.

Only kernels carrying our metadata mark are ever listed or removed, so a
user's own kernels are safe. Registration replaces an old kernel of the same
name only after the new one has passed pre-flight, and swaps directories by
rename so Jupyter never sees a half-written spec.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_core.paths import jupyter_path

from .errors import SpecError
from .files import write_atomic

MARK = "colab_wizard"


@dataclass(frozen=True)
class KernelInfo:
    """A kernel the wizard registered."""

    name: str
    display_name: str
    resource_dir: Path
    python: str
    project_dir: Path
    argv: tuple[str, ...]


def user_kernels_dir() -> Path:
    """Jupyter's per-user kernels folder (honours ``JUPYTER_DATA_DIR``)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "kernels"


def kernel_json(
    name: str,
    display_name: str,
    venv_python: Path,
    project_dir: Path,
    python_label: str,
    extra_argv: tuple[str, ...] = (),
    env: Optional[dict[str, str]] = None,
    launcher: str = "ipykernel_launcher",
) -> dict[str, Any]:
    return {
        "argv": [str(venv_python), "-m", launcher, *extra_argv,
                 "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "env": dict(env or {}),
        "metadata": {
            MARK: {"name": name, "python": python_label, "project_dir": str(project_dir)},
            "debugger": True,
        },
    }


def write_spec(directory: Path, spec: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / "kernel.json", json.dumps(spec, indent=1, sort_keys=True) + "\n")


def read_spec(directory: Path) -> Optional[dict[str, Any]]:
    try:
        data = json.loads((directory / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_ours(spec: Optional[dict[str, Any]]) -> bool:
    return bool(spec) and MARK in (spec or {}).get("metadata", {})


def _manager() -> KernelSpecManager:
    # jupyter_client's default list imports all of IPython (a second or more) only to add
    # IPython's own kernels dir; the same list without that import keeps a re-run fast.
    ipython_dir = os.environ.get("IPYTHONDIR") or os.path.join(os.path.expanduser("~"),
                                                               ".ipython")
    return KernelSpecManager(kernel_dirs=[*jupyter_path("kernels"),
                                          os.path.join(ipython_dir, "kernels")])


def find_existing(name: str) -> Optional[Path]:
    """The resource dir of any kernelspec Jupyter knows under ``name``."""
    try:
        return Path(_manager().get_kernel_spec(name).resource_dir)
    except NoSuchKernel:
        return None


def check_name_free(name: str) -> None:
    """Refuse a name that belongs to a kernel the wizard did not make."""
    found = find_existing(name)
    if found is not None and not is_ours(read_spec(found)):
        raise SpecError(
            "name", f"A kernel named '{name}' already exists at {found} and was not made by "
            "colab_wizard. Choose another name, or remove that kernel first."
        )


def register(staged: Path, name: str) -> Path:
    """Install the staged kernelspec as ``name`` in the user's kernels dir, atomically."""
    kernels = user_kernels_dir()
    kernels.mkdir(parents=True, exist_ok=True)
    target = kernels / name
    new = kernels / f".{name}.new-{os.getpid()}"
    old = kernels / f".{name}.old-{os.getpid()}"
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        shutil.copytree(staged, new)
        if target.exists():
            if not is_ours(read_spec(target)):
                raise SpecError(
                    "name", f"{target} holds a kernel colab_wizard did not make; not replaced. "
                    "Choose another name.")
            os.replace(target, old)
        os.replace(new, target)
    except BaseException:
        # A full or read-only disk: leave the kernels folder as it was, nothing half-copied.
        shutil.rmtree(new, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def is_registered(staged: Path, name: str) -> bool:
    """Whether the user's kernels dir already holds exactly the staged spec."""
    current = read_spec(user_kernels_dir() / name)
    return current is not None and current == read_spec(staged)


def list_ours() -> list[KernelInfo]:
    result = []
    for name, directory in sorted(_manager().find_kernel_specs().items()):
        spec = read_spec(Path(directory))
        if not is_ours(spec):
            continue
        assert spec is not None
        mark = spec["metadata"][MARK]
        result.append(
            KernelInfo(
                name=name,
                display_name=spec.get("display_name", name),
                resource_dir=Path(directory),
                python=str(mark.get("python", "")),
                project_dir=Path(mark.get("project_dir", "")),
                argv=tuple(spec.get("argv", ())),
            )
        )
    return result


def remove(name: str) -> Path:
    """Remove a kernel the wizard registered; the project folder is left alone."""
    found = find_existing(name)
    if found is None:
        raise SpecError("name", f"No kernel named '{name}' is registered; "
                        "'python -m colab_wizard list' shows the ones colab_wizard made.")
    if not is_ours(read_spec(found)):
        raise SpecError("name", f"The kernel '{name}' was not made by colab_wizard; leaving it "
                        "alone (remove it with 'jupyter kernelspec remove').")
    shutil.rmtree(found)
    return found
