"""Everything that only matters on Google Colab, in one thin module.

Every IPython kernel on a Colab VM reads ``/etc/ipython/ipython_config.py``,
which sets ``IPKernelApp.kernel_class = 'google.colab._kernel.Kernel'`` and
loads the ``google.colab`` extension (failures fatal). A new kernel must
therefore either carry a working ``google.colab`` (profile *full*) or be
started with command-line overrides that do not need it (profile *plain*).
The frontend parts (reading the open notebook, offering a file, Drive) are
here too; the rest of the package never imports ``google.colab``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal, Optional

from . import imports, ipyconfig, wheels
from .errors import SpecError, WizardError
from .host import detect_host

if TYPE_CHECKING:
    from packaging.requirements import Requirement

# How a kernel copes with the host's IPython config: it carries what the config loads (full),
# it is started with overrides instead (plain), or there is nothing to cope with (none: a
# plain Jupyter host). "none" is the one spelling of no profile; None only means "not said".
Profile = Literal["full", "plain", "none"]
# What a caller may ask for: a profile, or "auto" (the same as None) to let the host decide.
ProfileChoice = Literal["auto", "full", "plain", "none"]
FULL: Profile = "full"
PLAIN: Profile = "plain"
NONE: Profile = "none"
PROFILES: tuple[Profile, ...] = (FULL, PLAIN, NONE)
PROFILE_CHOICES: tuple[ProfileChoice, ...] = ("auto", "full", "plain", "none")
DRIVE_ROOT = Path("/content/drive/MyDrive")
# The wizard's folder on Drive: saves for a fresh VM, notebook copies.
DRIVE_FOLDER = "colab_wizard"

# Command-line config beats every config file (system, env, profile): the kernel
# class and extensions Colab's system config asks for are replaced here.
PLAIN_ARGV = (
    "--IPKernelApp.kernel_class=ipykernel.ipkernel.IPythonKernel",
    "--IPKernelApp.extensions=[]",
)
# Colab exports PYTHONPATH=/env/python for its own Python; a kernel of another
# version must not import compiled modules from there.
KERNEL_ENV = {"PYTHONPATH": ""}
# What Colab's system config makes every kernel import (kernel class, extension).
COLAB_MODULES = ("google.colab._kernel", "google.colab")
# Pinned exactly as the host has them: the frontend talks to these, and they are pure
# Python, so the host's release installs on every version the wizard builds.
KERNEL_STACK = ("ipython", "ipykernel", "ipywidgets", "jupyter-client", "traitlets")
# Copied from the host rather than installed (see install_full).
CARRIED = "google-colab"
# Loaded by the probe's interpreter, not needed by a kernel: installers (setuptools'
# .pth hook), the wizard itself, and the server side of google-colab's requirements.
_NOT_REQUIRED = {"pip", "setuptools", "wheel", "colab-wizard", CARRIED,
                 "notebook", "jupyter-server", "ipyparallel"}


# The last line of a traceback: "ModuleNotFoundError: No module named 'numpy'".
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


def fallback_reason(lines: Iterable[str]) -> str:
    """Why *full* fell back to *plain*, in one sentence, from the failed kernel's output."""
    errors = [m.group(0).strip() for m in map(_ERROR_LINE.match, lines) if m]
    cause = f" ({errors[-1]})" if errors else ""
    modules = list(demanded_modules()) or ["google.colab"]
    what = ", ".join(modules[:-1]) + (" and " if len(modules) > 1 else "") + modules[-1]
    return (f"The new kernel could not import {what}{cause}, which this host's IPython config "
            "loads into every kernel, so it runs without them (profile 'plain').")


def demanded_modules() -> tuple[str, ...]:
    """What a kernel on this host must import to start: what the host's IPython config
    names, or on a Colab without a readable config, what Colab's config names."""
    modules = ipyconfig.read().modules
    if not modules and detect_host() == "colab" and host_file("google.colab") is not None:
        return COLAB_MODULES
    return modules


def choose_profile(requested: Optional[str] = None) -> Profile:
    """The profile to build: the request; else *full* (falling back to *plain*) when the
    host's IPython config demands a kernel class or extension, or on Colab; else none."""
    if requested in (None, "", "auto"):
        return FULL if demanded_modules() or detect_host() == "colab" else NONE
    for profile in PROFILES:
        if requested == profile:
            return profile
    raise SpecError("profile", f"{requested!r} is not a kernel profile; choose "
                    f"{', '.join(PROFILE_CHOICES[:-1])} or {PROFILE_CHOICES[-1]}.")


def kernel_extras(profile: Profile,
                  venv: Path) -> tuple[tuple[str, ...], dict[str, str], str]:
    """(extra argv, env, launcher module) for a kernelspec of ``profile``.

    Every profile puts the venv's ``bin`` first on PATH (jupyter_client expands
    ``${PATH}``), so ``!pip`` and Colab's ``%pip`` (a shell ``pip``) install into the
    kernel's own venv, not the host's Python.
    """
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}${{PATH}}"}
    if profile == PLAIN:
        return PLAIN_ARGV, {**env, **KERNEL_ENV}, "ipykernel_launcher"
    if profile == FULL:
        launcher = "colab_kernel_launcher" if host_file("colab_kernel_launcher") else (
            "ipykernel_launcher")
        return (), {**env, **KERNEL_ENV}, launcher
    return (), env, "ipykernel_launcher"


def host_file(module: str) -> Optional[Path]:
    """Where the host's ``module`` lives (a package dir or a .py file), if importable."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    return Path(found.origin) if found.origin else None


def _carried_requirements() -> list[str]:
    """What the copied google-colab declares it needs at run time (no extras)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        declared = metadata.requires(CARRIED) or []
    except metadata.PackageNotFoundError:
        return []
    return [text for text in declared
            if Requirement(text).marker is None or "extra" not in str(Requirement(text).marker)]


def full_requirements(minor: int, index_url: str, skip: Iterable[str] = (),
                      auth: Optional[tuple[str, str]] = None,
                      free_threaded: bool = False) -> list[str]:
    """What a kernel of Python 3.<minor> needs to start under the host's IPython config.

    The distributions importing the demanded modules loads on the host, plus what the
    copied google-colab declares: the kernel stack pinned to the host's releases, the
    rest at the host's release or the nearest one with a wheel for 3.<minor> (what the
    index does not have is left out). Names in ``skip`` (the user's own dependencies)
    are left to the user's constraints.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    versions, loose = _host_releases()
    dropped = _NOT_REQUIRED | {canonicalize_name(n) for n in skip}
    wanted = {k: nv for k, nv in versions.items() if k not in dropped and nv[1]}
    chosen = _releases_for(wanted, minor, index_url, auth, free_threaded)
    # Not on the index (a private or local distribution): left out, so the kernel fails
    # its pre-flight and falls back to *plain* rather than the lock failing.
    result = [f"{wanted[k][0]}=={chosen[k]}" for k in sorted(wanted) if chosen[k]]
    result += [str(r) for r in loose if canonicalize_name(r.name) not in dropped]
    if minor < 10 and host_file("google.colab") is not None:
        result += [r for r in PY39_REQUIREMENTS if canonicalize_name(Requirement(r).name)
                   not in wanted and canonicalize_name(Requirement(r).name) not in dropped]
    return result


def _host_releases() -> tuple[dict[str, tuple[str, str]], list[Requirement]]:
    """{canonical name: (name, the host's version)} of what the kernel needs: what importing
    the demanded modules loads, what google-colab declares, ipykernel; and the declared
    requirements the host has not installed (kept as they are written)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    loaded = imports.loaded_distributions(demanded_modules())
    versions: dict[str, tuple[str, str]] = {
        canonicalize_name(n): (n, v) for n, v in loaded.dists.items()}
    loose = []
    for text in _carried_requirements():
        req = Requirement(text)
        key = canonicalize_name(req.name)
        if key in versions:
            continue
        try:
            versions[key] = (req.name, metadata.version(req.name))
        except metadata.PackageNotFoundError:
            loose.append(req)
    versions.setdefault("ipykernel", ("ipykernel", _host_version("ipykernel")))
    return versions, loose


def _releases_for(wanted: dict[str, tuple[str, str]], minor: int, index_url: str,
                  auth: Optional[tuple[str, str]], free_threaded: bool
                  ) -> dict[str, Optional[str]]:
    """The release of each wanted distribution for 3.<minor> (None: not on the index): the
    kernel stack pinned to the host's, the rest asked of the index, eight at a time."""

    def release(key: str) -> Optional[str]:
        name, version = wanted[key]
        if key in KERNEL_STACK:
            return version
        return wheels.release_for(name, version, minor, index_url, auth=auth,
                                  free_threaded=free_threaded)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(wanted, pool.map(release, list(wanted))))


def host_fingerprint() -> str:
    """Changes when the host's Python, its installed releases or its IPython config do."""
    from importlib import metadata

    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    text = "\n".join([sys.executable, *demanded_modules(), *dists])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _host_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages in {venv}")
    return found[-1]


# google.colab's %pip (its import warning, _pip.py) calls importlib.metadata.
# packages_distributions, new in 3.10: on 3.9 the backport's stands in, set at start-up
# (a .pth line runs in every process of the venv; it must never break one).
COMPAT_PTH = "colab_wizard_py39_compat.pth"
COMPAT_LINE = (
    "import sys; exec('try:\\n import importlib.metadata as m, importlib_metadata as b\\n"
    " m.packages_distributions = getattr(m, \\'packages_distributions\\', None) or "
    "b.packages_distributions\\nexcept Exception:\\n pass')\n"
)
PY39_REQUIREMENTS = ("importlib-metadata>=4.8",)


def install_full(venv: Path) -> list[str]:
    """Copy the host's google/colab package and colab_kernel_launcher into ``venv``.

    Copied, not installed from the index: the frontend and the package must agree,
    and Colab's google.colab is not published in that exact version.
    """
    target = site_packages(venv)
    copied = []
    package = host_file("google.colab")
    if package is not None and package.is_dir():
        dest = target / "google" / "colab"
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(package, dest, ignore=shutil.ignore_patterns("__pycache__"))
        copied.append(str(dest))
    launcher = host_file("colab_kernel_launcher")
    if launcher is not None and launcher.is_file():
        from .inplace import original_bytes

        # Unlinked first: in a build cloned with hard links, copying onto the file would
        # write through to the live venv's copy (see swap.py).
        (target / launcher.name).unlink(missing_ok=True)
        shutil.copy2(launcher, target / launcher.name)
        # While Colab's default kernel is switched its launcher is our shim: copy Colab's own.
        (target / launcher.name).write_bytes(original_bytes(launcher))
        copied.append(str(target / launcher.name))
    if package is not None and target.parent.name == "python3.9":
        (target / COMPAT_PTH).write_text(COMPAT_LINE, encoding="utf-8")
        copied.append(str(target / COMPAT_PTH))
    return copied


def full_installed(venv: Path) -> bool:
    try:
        target = site_packages(venv)
    except FileNotFoundError:
        return False
    package = host_file("google.colab")
    if package is None:
        return True
    compat = target.parent.name != "python3.9" or (target / COMPAT_PTH).exists()
    return compat and (target / "google" / "colab" / "__init__.py").exists()


# -- the frontend: notebook, files, Drive (only reachable on a real Colab VM) -----------


# Seconds to wait for the page to hand over the open notebook (it answers in well under one).
PAGE_TIMEOUT = 30.0
# Where to point the user when the page cannot be asked (from a click) or does not answer.
BY_PATH = ("save the notebook to Drive (File > Save a copy in Drive), mount Drive, and give "
           "its path: colab_wizard.switch_notebook(notebook_path='/content/drive/MyDrive/"
           "Colab Notebooks/NAME.ipynb')")


class PageError(WizardError):
    """The Colab page did not hand over what was asked; the message says what to do."""


def read_current_notebook(timeout: Optional[float] = None) -> dict[str, Any]:
    """The notebook open in this Colab tab, as nbformat JSON (asks the page).

    ``blocking_request`` returns None when the page does not answer in time and
    raises ``MessageError`` when it answers with an error: both become a
    :class:`PageError` with a sentence, never a traceback.
    """
    from google.colab import _message  # type: ignore[import-not-found]

    wait = PAGE_TIMEOUT if timeout is None else timeout
    refused = getattr(_message, "MessageError", None)
    try:
        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=wait)
    except Exception as exc:
        if refused is None or not isinstance(exc, refused):
            raise
        raise PageError(f"The Colab page refused to hand over this notebook ({exc}). "
                        f"Reload the page and try again, or {BY_PATH}.") from None
    if reply is None:
        raise PageError(f"The Colab page did not hand over this notebook within {wait:.0f} "
                        f"seconds. Try again in a moment, or {BY_PATH}.")
    notebook = reply.get("ipynb") if isinstance(reply, dict) else None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise PageError(f"The Colab page answered, but not with a notebook. {BY_PATH[0].upper()}"
                        f"{BY_PATH[1:]}.")
    return notebook


def drive_mounted() -> bool:
    return DRIVE_ROOT.is_dir()


def default_save_dir() -> Optional[Path]:
    """``MyDrive/colab_wizard`` when Drive is mounted; else no default."""
    return DRIVE_ROOT / DRIVE_FOLDER if drive_mounted() else None


def mount_lines(folder: Optional[Path]) -> list[str]:
    """Cell lines that mount Drive first when ``folder`` (a save) lives there."""
    mount_point = DRIVE_ROOT.parent
    if folder is None or not Path(folder).is_relative_to(mount_point):
        return []
    return ["from google.colab import drive", f"drive.mount({str(mount_point)!r})"]


def offer(path: Path) -> str:
    """Put a file where the user gets it: Drive when mounted, else a browser download."""
    if drive_mounted():
        folder = DRIVE_ROOT / DRIVE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / path.name
        if dest.resolve() != path.resolve():
            shutil.copy2(path, dest)
        return f"Saved to Drive: {dest}. Open it from Drive, then choose the kernel."
    from google.colab import files  # type: ignore[import-not-found]

    files.download(str(path))
    return f"Downloading {path.name}: upload it with File > Upload notebook."
