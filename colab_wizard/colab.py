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

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from .host import detect_host

FULL, PLAIN = "full", "plain"
PROFILES = (FULL, PLAIN)
DRIVE_ROOT = Path("/content/drive/MyDrive")
CACHE_FOLDER = "colab_wizard"

# Command-line config beats every config file (system, env, profile): the kernel
# class and extensions Colab's system config asks for are replaced here.
PLAIN_ARGV = (
    "--IPKernelApp.kernel_class=ipykernel.ipkernel.IPythonKernel",
    "--IPKernelApp.extensions=[]",
)
# Colab exports PYTHONPATH=/env/python for its own Python; a kernel of another
# version must not import compiled modules from there.
KERNEL_ENV = {"PYTHONPATH": ""}
# Pinned exactly as the host has them: the frontend talks to these.
KERNEL_STACK = {"ipython", "ipykernel", "ipywidgets", "jupyter-client"}
# Server-side parts of google-colab's requirements a kernel never imports.
_SERVER_ONLY = {"notebook", "jupyter-server", "ipyparallel"}
# When the host's google-colab metadata cannot be read: what Colab's kernel stack needs.
FALLBACK_REQUIREMENTS = (
    "ipython==7.34.0", "ipykernel==6.17.1", "ipywidgets==7.7.1", "ipython-genutils",
    "portpicker", "pandas", "google-auth", "requests", "tornado",
)
PLAIN_LACKS = (
    "google.colab (drive.mount, files.upload/download, auth, output, userdata) and "
    "Colab's own widget and form integration"
)


def choose_profile(requested: Optional[str] = None) -> Optional[str]:
    """The profile to build: the request, else *full* on Colab, else none (plain Jupyter)."""
    if requested in (None, "", "auto"):
        return FULL if detect_host() == "colab" else None
    if requested == "none":
        return None
    if requested not in PROFILES:
        raise ValueError(f"unknown kernel profile {requested!r}; use full, plain or none")
    return requested


def kernel_extras(profile: Optional[str]) -> tuple[tuple[str, ...], dict[str, str], str]:
    """(extra argv, env, launcher module) for a kernelspec of ``profile``."""
    if profile == PLAIN:
        return PLAIN_ARGV, dict(KERNEL_ENV), "ipykernel_launcher"
    if profile == FULL:
        launcher = "colab_kernel_launcher" if host_file("colab_kernel_launcher") else (
            "ipykernel_launcher")
        return (), dict(KERNEL_ENV), launcher
    return (), {}, "ipykernel_launcher"


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


def _host_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("ipython", "ipykernel", "ipywidgets"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def full_requirements() -> list[str]:
    """google.colab's runtime requirements, as the host's google-colab declares them.

    Exact pins (Colab pins IPython 7.34 and ipykernel 6.17) support Python 3.7+, so
    they hold for every version the wizard builds; ipywidgets follows the host's so
    the kernel matches the page's widget manager.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = metadata.requires("google-colab")
    except metadata.PackageNotFoundError:
        declared = None
    if declared is None:
        wanted = list(FALLBACK_REQUIREMENTS)
    else:
        wanted = []
        for text in declared:
            req = Requirement(text)
            if req.marker is not None and "extra" in str(req.marker):
                continue
            if canonicalize_name(req.name) not in _SERVER_ONLY:
                wanted.append(_relaxed(req))
    names = {canonicalize_name(Requirement(r).name) for r in wanted}
    for name, version in _host_versions().items():
        if name not in names:
            wanted.append(f"{name}=={version}")
    if "ipywidgets" in {canonicalize_name(Requirement(r).name) for r in wanted}:
        if "ipython-genutils" not in names:
            wanted.append("ipython-genutils")
    return wanted


def _relaxed(req: Any) -> str:
    """Keep Colab's exact pins for the kernel stack (pure Python, any 3.x); turn the others'
    ``==X`` into ``>=X`` so a Python that X has no wheels for gets a newer release."""
    from packaging.utils import canonicalize_name

    specs = list(req.specifier)
    if canonicalize_name(req.name) in KERNEL_STACK or len(specs) != 1 or specs[0].operator != "==":
        return str(req)
    marker = f"; {req.marker}" if req.marker is not None else ""
    return f"{req.name}>={specs[0].version}{marker}"


def site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages in {venv}")
    return found[-1]


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

        shutil.copy2(launcher, target / launcher.name)
        # While Colab's default kernel is switched its launcher is our shim: copy Colab's own.
        (target / launcher.name).write_bytes(original_bytes(launcher))
        copied.append(str(target / launcher.name))
    return copied


def full_installed(venv: Path) -> bool:
    try:
        target = site_packages(venv)
    except FileNotFoundError:
        return False
    package = host_file("google.colab")
    return package is None or (target / "google" / "colab" / "__init__.py").exists()


# -- the frontend: notebook, files, Drive (only reachable on a real Colab VM) -----------


# Seconds to wait for the page to hand over the open notebook (it answers in well under one).
PAGE_TIMEOUT = 30.0
# Where to point the user when the page cannot be asked (from a click) or does not answer.
BY_PATH = ("save the notebook to Drive (File > Save a copy in Drive), mount Drive, and give "
           "its path: colab_wizard.switch_notebook(notebook_path='/content/drive/MyDrive/"
           "Colab Notebooks/NAME.ipynb')")


class PageError(Exception):
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


def default_cache_dir() -> Optional[Path]:
    """``MyDrive/colab_wizard`` when Drive is mounted; else no default."""
    return DRIVE_ROOT / CACHE_FOLDER if drive_mounted() else None


def mount_lines(cache_dir: Optional[Path]) -> list[str]:
    """Cell lines that mount Drive first when a cache lives there."""
    mount_point = DRIVE_ROOT.parent
    if cache_dir is None or not Path(cache_dir).is_relative_to(mount_point):
        return []
    return ["from google.colab import drive", f"drive.mount({str(mount_point)!r})"]


def offer(path: Path) -> str:
    """Put a file where the user gets it: Drive when mounted, else a browser download."""
    if drive_mounted():
        folder = DRIVE_ROOT / CACHE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / path.name
        if dest.resolve() != path.resolve():
            shutil.copy2(path, dest)
        return f"Saved to Drive: {dest}. Open it from Drive, then choose the kernel."
    from google.colab import files  # type: ignore[import-not-found]

    files.download(str(path))
    return f"Downloading {path.name}: upload it with File > Upload notebook."


def environment_report() -> dict[str, Optional[str]]:
    """The variables Colab sets that change what a build or a kernel does."""
    keys = sorted(k for k in os.environ if k.startswith(("UV_", "COLAB_")))
    return {k: os.environ.get(k) for k in ["PYTHONPATH", *keys]}
