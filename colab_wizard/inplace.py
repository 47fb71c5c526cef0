"""Use a kernel in *this* notebook on Colab: redirect what the default kernel starts.

Colab's backend restarts a kernel with the argv it started it with
(``python3 -m colab_kernel_launcher -f ...``; jupyter_client caches the
kernelspec). :func:`use` therefore changes one file, the launcher module that
argv runs, into a small shim (:mod:`.inplace_shim`) that carries Colab's
original file inside it and hands each start to the chosen environment's
Python. Nothing else of Colab's changes: not ``/usr/bin/python3``, not its
site-packages, not its kernelspec. :func:`reset` writes the original back,
byte for byte. A start that cannot reach a ready kernel undoes the switch by
itself and comes up on Colab's own Python (see the shim and
:mod:`.inplace_boot`).

The switched kernel finds colab_wizard in a private folder (a copy of this
package, plus any pure-Python dependency its environment lacks) appended to
its ``sys.path``, so ``show()`` works there without touching the environment.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from . import kernels, paths, settings
from .errors import WizardError
from .files import write_atomic
from .host import detect_host
from .spec import SpecError

DEFAULT_KERNEL = "python3"
SHIM_MARK = "# colab_wizard in-place switch"
RESTART_DELAY = 0.5  # seconds
COLAB_ONLY = ("Using a kernel in this notebook works on Colab only, where the notebook's "
              "kernel can be restarted on another Python; nothing was changed. Here, pick "
              "the kernel with Kernel \u203a Change Kernel\u2026 instead.")
# What `import colab_wizard` and its panel need in the switched kernel; the ones its
# environment lacks are copied into the private folder when they are pure Python.
KERNEL_SIDE_IMPORTS = ("tomlkit", "packaging", "requests", "jupyter_client", "ipywidgets")


class NotColab(WizardError):
    """Not on Colab: nothing was changed (``use()`` says so and returns)."""

    bad_input = True


def _require_colab() -> None:
    if detect_host() != "colab":
        raise NotColab(COLAB_ONLY)


@dataclass(frozen=True)
class Launcher:
    """The module file the default kernel's argv runs."""

    kernel: str
    python: str
    module: str
    path: Path


@dataclass(frozen=True)
class Switch:
    """Which kernel the default kernel's starts are handed to."""

    name: str
    display_name: str
    python: str
    project_dir: Path
    venv_python: Path
    launcher: Path


# -- where the default kernel starts ------------------------------------------------------


def _spec_argv(kernel: str) -> tuple[list[str], dict[str, str]]:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise WizardError(f"This machine has no '{kernel}' kernel to switch; nothing was "
                       "changed.") from None
    return list(spec.argv), dict(spec.env or {})


def default_launcher(kernel: str = DEFAULT_KERNEL) -> Launcher:
    """The launcher of ``kernel`` (``python3 -m colab_kernel_launcher`` on Colab), found the
    way its argv finds it: that Python, that environment, ``-m``."""
    configured = settings.INPLACE.get()
    if configured:  # inside a switched kernel: its shim said where it lives
        config = json.loads(configured)
        return Launcher(kernel, config["host_python"], config["module"],
                        Path(config["launcher_file"]))
    argv, env = _spec_argv(kernel)
    if len(argv) < 3 or argv[1] != "-m":
        raise WizardError(f"The '{kernel}' kernel starts with {' '.join(argv)!r}, not "
                       "'python -m <launcher>'; colab_wizard cannot switch it.")
    python = shutil.which(argv[0], path=env.get("PATH", os.environ.get("PATH"))) or argv[0]
    where = subprocess.run(
        [python, "-c", "import importlib.util, sys\n"
         "spec = importlib.util.find_spec(sys.argv[1])\n"
         "print(spec.origin if spec and spec.origin else '')", argv[2]],
        env=kernel_env(env), cwd="/", capture_output=True, text=True, check=False)
    origin = where.stdout.strip()
    if where.returncode != 0 or not origin.endswith(".py"):
        raise WizardError(f"The '{kernel}' kernel's launcher {argv[2]} was not found as a .py "
                       f"file by {python}; colab_wizard cannot switch it.")
    return Launcher(kernel, python, argv[2], Path(origin))


# -- the shim -------------------------------------------------------------------------------


def is_shim(text: str) -> bool:
    return text.startswith(SHIM_MARK)


def _shim_values(text: str) -> tuple[dict[str, Any], str]:
    """TARGET and ORIGINAL of a written shim, read as literals (never executed)."""
    found: dict[str, Any] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("TARGET", "ORIGINAL"):
                found[target.id] = ast.literal_eval(node.value)
    return found["TARGET"], found["ORIGINAL"]


def original_bytes(path: Path) -> bytes:
    """The launcher as Colab shipped it: the file itself, or the copy a shim keeps."""
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    if not is_shim(text):
        return data
    target, original = _shim_values(text)
    kept = base64.b64decode(original)
    if hashlib.sha256(kept).hexdigest() != target["original_sha256"]:
        raise WizardError(f"The copy of Colab's launcher kept in {path} is damaged; reinstall "
                       "the runtime (Runtime \u203a Disconnect and delete runtime).")
    return kept


def shim_text(target: dict[str, Any], original: bytes) -> str:
    source = Path(__file__).with_name("inplace_shim.py").read_text(encoding="utf-8")
    filled = source.replace("TARGET = {}  # type: dict\n", f"TARGET = {target!r}\n", 1)
    filled = filled.replace('ORIGINAL = ""\n',
                            f"ORIGINAL = {base64.b64encode(original).decode('ascii')!r}\n", 1)
    assert filled.count("TARGET = {}") == 0 and 'ORIGINAL = ""' not in filled
    header = (f"{SHIM_MARK}: this file replaced {target['module']}.py so that the default "
              f"kernel starts '{target['display_name']}'.\n# Undo: python -m colab_wizard use "
              "--reset (Colab's original is kept below, byte for byte).\n")
    return header + filled


# -- the state folder -------------------------------------------------------------------------


def state_dir() -> Path:
    return paths.data_dir() / "inplace"


def fallback_record() -> Path:
    return state_dir() / "fell-back.json"


def marker_path() -> Path:
    """Written by the shim as a start begins, removed once the kernel is initialised."""
    return state_dir() / "starting.json"


def kernel_env(spec_env: dict[str, str]) -> dict[str, str]:
    """A kernelspec's env over ours, ``${VAR}`` expanded as jupyter_client does."""
    return {**os.environ, **{k: string.Template(v).safe_substitute(os.environ)
                             for k, v in spec_env.items()}}


def _probe_missing(venv_python: Path, env: dict[str, str]) -> list[str]:
    """Which of KERNEL_SIDE_IMPORTS the environment lacks (also proves its Python runs)."""
    code = ("import importlib.util as u, json, sys\n"
            "print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m) is None]))")
    try:
        done = subprocess.run([str(venv_python), "-c", code, *KERNEL_SIDE_IMPORTS],
                              env=kernel_env(env), capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WizardError(f"The kernel's Python {venv_python} does not run ({exc}); rebuild the "
                       "kernel with the wizard, then try again.") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WizardError(f"The kernel's Python {venv_python} does not run: {last}. Rebuild the "
                       "kernel with the wizard, then try again.")
    missing: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return missing


def _is_pure_python(folder: Path) -> bool:
    return not any(p.suffix in (".so", ".pyd") for p in folder.rglob("*"))


def private_lib(missing: list[str]) -> Path:
    """colab_wizard (and the pure-Python packages in ``missing``) for the switched kernel,
    built beside the old folder and swapped in."""
    lib = state_dir() / "lib"
    new = state_dir() / f".lib-new-{os.getpid()}"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(__file__).parent, new / "colab_wizard", ignore=ignore)
    for module in missing:
        found = importlib.util.find_spec(module)
        if found is None or found.origin is None:
            continue
        if found.submodule_search_locations:
            folder = Path(list(found.submodule_search_locations)[0])
            if _is_pure_python(folder):
                shutil.copytree(folder, new / folder.name, ignore=ignore)
        elif found.origin.endswith(".py"):
            shutil.copy2(found.origin, new / Path(found.origin).name)
    old = state_dir() / f".lib-old-{os.getpid()}"
    if lib.exists():
        os.replace(lib, old)
    os.replace(new, lib)
    shutil.rmtree(old, ignore_errors=True)
    return lib


# -- use / reset / status -----------------------------------------------------------------------


def _target_kernel(name: str) -> tuple[kernels.KernelInfo, dict[str, Any]]:
    for info in kernels.list_ours():
        if info.name == name:
            spec = kernels.read_spec(info.resource_dir)
            if spec is not None:
                return info, spec
    made = ", ".join(k.name for k in kernels.list_ours()) or "none yet"
    raise SpecError("name", f"No kernel named '{name}' was made by colab_wizard (made here: "
                    f"{made}). Build it with the wizard first, or check the spelling.")


def _split_argv(argv: list[str]) -> tuple[str, list[str]]:
    """(launcher module, extra arguments) of a kernelspec argv ``python -m mod ... -f {cf}``."""
    if len(argv) < 3 or argv[1] != "-m":
        raise WizardError(f"The kernel starts with {' '.join(argv)!r}, not 'python -m "
                       "<launcher>'; rebuild it with the wizard.")
    extra = [a for a in argv[3:] if a not in ("-f", "{connection_file}")]
    return argv[2], extra


def use(name: str, kernel: str = DEFAULT_KERNEL) -> Switch:
    """Make the next start of the default kernel run the wizard's kernel ``name``."""
    _require_colab()
    info, spec = _target_kernel(name)
    launcher_module, extra = _split_argv(list(spec["argv"]))
    env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    venv_python = Path(spec["argv"][0])
    missing = _probe_missing(venv_python, env)
    launcher = default_launcher(kernel)
    try:
        original = original_bytes(launcher.path)
        stat = launcher.path.stat()
    except OSError as exc:
        raise WizardError(f"Cannot read the default kernel's launcher {launcher.path} "
                       f"({exc.strerror}); nothing was changed.") from None
    try:
        lib = private_lib(missing)
    except OSError as exc:
        raise WizardError(f"Cannot copy colab_wizard for the switched kernel into {state_dir()} "
                       f"({exc.strerror or exc}); nothing was changed.") from None
    current = current_switch(launcher)
    target = {
        "name": info.name, "display_name": info.display_name, "python_label": info.python,
        "project_dir": str(info.project_dir), "python": str(venv_python),
        "launcher": launcher_module, "extra_argv": extra, "env": env,
        "lib": str(lib), "boot": str(lib / "colab_wizard" / "inplace_boot.py"),
        "marker": str(marker_path()), "fallback_record": str(fallback_record()),
        "module": launcher.module, "launcher_file": str(launcher.path),
        "original_sha256": hashlib.sha256(original).hexdigest(),
        # A switch over a switch keeps the original's own mode and times.
        "original_mode": current[1]["original_mode"] if current else stat.st_mode & 0o7777,
        "original_mtime_ns": (current[1]["original_mtime_ns"] if current
                              else stat.st_mtime_ns),
    }
    try:
        write_atomic(launcher.path, shim_text(target, original).encode("utf-8"),
                     stat.st_mode & 0o7777)
    except OSError as exc:
        raise WizardError(f"Cannot change the default kernel's launcher {launcher.path} "
                       f"({exc.strerror}); nothing was changed.") from None
    # A fresh switch: neither an old fallback nor a start marker left by an earlier one.
    for leftover in (fallback_record(), marker_path()):
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass
    return Switch(info.name, info.display_name, info.python, info.project_dir, venv_python,
                  launcher.path)


def current_switch(launcher: Optional[Launcher] = None
                   ) -> Optional[tuple[Switch, dict[str, Any]]]:
    """The switch the launcher file holds now, with its settings; None when it is Colab's."""
    launcher = launcher or default_launcher()
    try:
        text = launcher.path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not is_shim(text):
        return None
    target, _ = _shim_values(text)
    return _switch_of(target), target


def _switch_of(target: dict[str, Any]) -> Switch:
    return Switch(target["name"], target["display_name"], target["python_label"],
                  Path(target["project_dir"]), Path(target["python"]),
                  Path(target["launcher_file"]))


def status() -> Optional[Switch]:
    """Which kernel the default kernel's next start runs (None: Colab's own)."""
    _require_colab()
    found = current_switch()
    return found[0] if found else None


def reset() -> Optional[Switch]:
    """Write Colab's launcher back, byte for byte; returns the switch that was undone."""
    _require_colab()
    launcher = default_launcher()
    found = current_switch(launcher)
    if found is None:
        return None
    switch, target = found
    data = original_bytes(launcher.path)
    try:
        write_atomic(launcher.path, data, target["original_mode"], target["original_mtime_ns"])
    except OSError as exc:
        raise WizardError(f"Cannot write Colab's launcher back to {launcher.path} "
                       f"({exc.strerror}).") from None
    try:
        Path(target["marker"]).unlink()
    except OSError:
        pass
    return switch


# -- inside a kernel --------------------------------------------------------------------------


def running_switch() -> Optional[Switch]:
    """The switch this very kernel was started through (None: not a switched kernel)."""
    configured = settings.INPLACE.get()
    return _switch_of(json.loads(configured)) if configured else None


@dataclass(frozen=True)
class FellBack:
    """This kernel is Colab's own because the switched one could not start."""

    name: str
    display_name: str
    problem: str

    def sentence(self) -> str:
        return (f"The kernel \u201c{self.display_name}\u201d could not start: {self.problem}. "
                "This notebook runs on Colab's own Python again and the switch was undone; "
                "rebuild that kernel with the wizard, then use it again.")


def fell_back() -> Optional[FellBack]:
    """Why this kernel started on Colab's own Python instead of the switched one."""
    text = settings.FELL_BACK.get()
    if not text:
        return None
    what = json.loads(text)
    return FellBack(what["name"], what["display_name"], what["problem"])


def last_fallback() -> Optional[FellBack]:
    """The most recent start that fell back (for a terminal, which has no such env)."""
    try:
        what = json.loads(fallback_record().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return FellBack(what["name"], what["display_name"], what["problem"])


def in_kernel() -> bool:
    """Whether this process is a notebook kernel (which a restart would bring back)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def restart_kernel() -> None:
    """End this kernel so that Jupyter starts it again with the same argv (Colab's backend
    and jupyter_client's restarter both do), as condacolab does on Colab."""
    from IPython import get_ipython

    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        raise WizardError("Not running in a notebook kernel: restart it with Runtime \u203a "
                       "Restart session.")
    loop = getattr(kernel, "io_loop", None)
    if loop is None:
        kernel.do_shutdown(True)
        return
    # A moment later, so the sentence saying so reaches the page before the kernel goes.
    loop.call_later(RESTART_DELAY, kernel.do_shutdown, True)


def running_python() -> str:
    return ".".join(str(v) for v in sys.version_info[:3])


# -- sentences ------------------------------------------------------------------------------


def describe_use(switch: Switch) -> str:
    return (f"This notebook's kernel now starts on \u201c{switch.display_name}\u201d (Python "
            f"{switch.python}, project {switch.project_dir}) from its next restart: "
            "Runtime \u203a Restart session. Back to Colab's Python: "
            "python -m colab_wizard use --reset.")


def describe_reset(undone: Optional[Switch]) -> str:
    if undone is None:
        return "This notebook's kernel already starts on Colab's own Python; nothing to undo."
    return (f"Colab's own launcher is back: from the next restart (Runtime \u203a Restart "
            f"session) this notebook runs on Colab's Python instead of "
            f"\u201c{undone.display_name}\u201d.")


def describe_status() -> str:
    switch = status()
    lines = []
    if switch is None:
        lines.append("This notebook's kernel starts on Colab's own Python.")
    else:
        lines.append(f"This notebook's kernel starts on \u201c{switch.display_name}\u201d "
                     f"(Python {switch.python}, project {switch.project_dir}).")
    last = last_fallback()
    if last is not None and switch is None:
        lines.append(last.sentence())
    return "\n".join(lines)
