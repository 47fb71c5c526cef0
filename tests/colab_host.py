"""A Colab-shaped host for tests: Colab's kernel stack, config, launcher, kernelspec and env.

What a Colab VM has and this host reproduces (facts and sources: docs/colab.md):

- a Python of Colab's minor version (3.13) with Colab's kernel stack at the versions of
  googlecolab/backend-info's pip freeze, in a virtualenv cached between runs (it is
  immutable once built, so concurrent test runs share it);
- ``google.colab``: the real package installed from a colabtools checkout when
  ``COLAB_WIZARD_COLABTOOLS`` names one, else a stand-in that imports at load time the
  same third-party modules as the real one;
- the system IPython config with every key Colab sets, read by *every* kernel as a
  system config: ``/usr/local/etc/ipython`` (one of IPython's system dirs, like Colab's
  ``/etc/ipython``) inside a private mount namespace, so nothing outside the test sees
  it. Where mount namespaces are not allowed, ``$IPYTHONDIR/profile_default`` instead
  (read by every kernel too; command-line overrides beat both);
- a ``colab_kernel_launcher`` module and a ``python3`` kernelspec whose argv runs
  ``python3 -m colab_kernel_launcher``, in the host's system kernels dir;
- ``COLAB_RELEASE_TAG``, ``PYTHONPATH`` naming an ``/env/python``-style folder,
  ``UV_SYSTEM_PYTHON`` / ``UV_CONSTRAINT``.

The wizard runs *on* that host (its Python, its packages), as it does on Colab:
``Host.wizard(...)`` runs the CLI there, and tests/gateway.py starts kernels by name
through a real jupyter_kernel_gateway, as Colab's backend does.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
COLAB_MINOR = "3.13"
# googlecolab/backend-info pip-freeze.txt (Colab's runtime, late 2026) for every package
# google.colab or the kernel touches, and the kernel gateway matching jupyter_client 7.4.9.
STACK = (
    "ipython==7.34.0", "ipykernel==6.17.1", "ipywidgets==7.7.1", "jupyter_client==7.4.9",
    "jupyter_core==5.9.1", "traitlets==5.7.1", "pyzmq==26.2.1", "tornado==6.5.7",
    "pandas==2.2.3", "numpy==2.1.3", "anywidget==0.9.21", "pillow==11.3.0",
    "httplib2==0.32.0", "portpicker==1.5.2", "google-auth==2.49.0", "requests==2.32.4",
    "ipython-genutils==0.2.0", "matplotlib-inline==0.2.2", "matplotlib==3.10.0",
    "psutil==5.9.5", "psygnal==0.15.1", "debugpy==1.8.15", "nest-asyncio==1.6.0",
    "notebook==6.5.7", "jupyter_server==2.20.0", "tomlkit==0.14.0", "six==1.17.0",
    "jupyter_kernel_gateway==2.5.2",
)
# What `pip install colab-wizard` adds on Colab (the rest of its dependencies are above).
WIZARD_EXTRAS = ("virtualenv>=20.10", "pbs-installer>=2025.1", "packaging>=20")
RELEASE_TAG = "release-colab-external_20261124-060000_RC00"

# Colab's /etc/ipython/ipython_config.py: every key it sets.
IPYTHON_CONFIG = """\
c = get_config()
c.IPKernelApp.capture_fd_output = False
c.IPKernelApp.kernel_class = 'google.colab._kernel.Kernel'
c.Completer.use_jedi = False
c.InteractiveShellApp.extensions = ['google.colab']
c.InteractiveShellApp.reraise_ipython_extension_failures = True
c.InteractiveShellApp.exec_lines = ['import logging; logging.basicConfig(level=logging.INFO)']
c.HistoryManager.hist_file = ':memory:'
c.InteractiveShellApp.matplotlib = 'inline'
"""

# Like Colab's launcher: an IPKernelApp whose iopub socket never drops messages
# (high-water mark 0), so a burst of output reaches the page whole.
LAUNCHER = '''\
"""colab_kernel_launcher, as on Colab: IPKernelApp with an unbounded iopub queue."""
import sys

import zmq
from ipykernel import kernelapp


class ColabKernelApp(kernelapp.IPKernelApp):
    def init_iopub(self, context):
        # Socket options must be set before bind; a context's sockopts apply to new sockets.
        context.setsockopt(zmq.SNDHWM, 0)
        try:
            super().init_iopub(context)
        finally:
            context.sockopts.pop(zmq.SNDHWM, None)


if __name__ == "__main__":
    if sys.path[0] == "":
        del sys.path[0]
    ColabKernelApp.launch_instance()
'''

KERNELSPEC = {
    "argv": ["python3", "-m", "colab_kernel_launcher", "-f", "{connection_file}"],
    "display_name": "Python 3",
    "language": "python",
}

# The stand-in google.colab: the third-party modules the real one imports when it loads
# (measured on this host with colabtools 3c07d776: sys.modules -> distributions), so the
# *full* profile must install the same set. tests/test_colab_host.py checks the match.
STANDIN_INIT = '''\
"""Stand-in for Colab's google.colab (see tests/colab_host.py)."""
import anywidget
import httplib2
import IPython
import ipykernel.ipkernel
import ipython_genutils
import ipywidgets
import jupyter_client
import numpy
import PIL
import psutil
import tornado.ioloop
import traitlets
import zmq

from google.colab import _kernel, _message, drive, files, output  # noqa: F401


def load_ipython_extension(ipython):
    ipython.user_ns.setdefault("_colab_standin", True)
'''
STANDIN_MODULES = {
    "_kernel.py": '''\
from ipykernel import ipkernel


class Kernel(ipkernel.IPythonKernel):
    """Stand-in for google.colab._kernel.Kernel."""
''',
    # The page's side as far as the stand-in goes: a notebook file answers get_ipynb.
    "_message.py": '''\
import json, os


class MessageError(RuntimeError):
    pass


def blocking_request(request_type, request="", timeout_sec=5, parent=None):
    if request_type != "get_ipynb":
        raise MessageError("unsupported request " + request_type)
    with open(os.environ["COLAB_STANDIN_NOTEBOOK"]) as fh:
        return {"ipynb": json.load(fh)}
''',
    "files.py": '''\
import os, shutil


def download(filename):
    shutil.copy(filename, os.environ["COLAB_STANDIN_DOWNLOADS"])
''',
    "drive.py": '''\
def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    raise RuntimeError("Drive is only available on a real Colab VM")
''',
    "output/__init__.py": '''\
def clear(wait=False, output_tags=()):
    from IPython.display import clear_output
    clear_output(wait=wait)
''',
}
# google-colab's metadata as colabtools' setup.py declares it (what pip writes).
STANDIN_METADATA = "Metadata-Version: 2.1\nName: google-colab\nVersion: 1.0.0\n" + "".join(
    f"Requires-Dist: {r}\n" for r in (
        "google-auth==2.47.0", "ipykernel==6.17.1", "ipyparallel==8.8.0", "ipython==7.34.0",
        "pandas==2.2.2", "jupyter-server==2.14.0", "portpicker==1.5.2", "requests==2.32.4",
        "tornado==6.5.1"))


def host_python() -> Path:
    """A CPython of Colab's minor version (the newest installed patch)."""
    found = sorted(PYENV_VERSIONS.glob(COLAB_MINOR + ".*/bin/python" + COLAB_MINOR))
    if not found:
        pytest.skip(f"no CPython {COLAB_MINOR} under {PYENV_VERSIONS} for the Colab host")
    return found[-1]


def colabtools() -> Optional[Path]:
    """The colabtools checkout named by ``COLAB_WIZARD_COLABTOOLS``, if any."""
    named = os.environ.get("COLAB_WIZARD_COLABTOOLS")
    if not named:
        return None
    path = Path(named)
    if not (path / "google" / "colab" / "__init__.py").is_file():
        raise RuntimeError(f"COLAB_WIZARD_COLABTOOLS={named} is not a colabtools checkout "
                           "(no google/colab/__init__.py)")
    return path


def colabtools_commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _flavour(checkout: Optional[Path]) -> str:
    """What google.colab the host gets: the checkout's commit, or the stand-in's digest."""
    if checkout is not None:
        return "real-" + colabtools_commit(checkout)[:12]
    # The writer's code too: a change in how the stand-in is installed rebuilds the image.
    text = (STANDIN_INIT + "".join(STANDIN_MODULES.values()) + STANDIN_METADATA
            + inspect.getsource(_write_standin))
    return "standin-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "colab_wizard"


@functools.cache
def ensure_image(checkout: Optional[Path]) -> Path:
    """The host's installed files (venv and system config dir), built once and cached;
    google.colab from ``checkout``, else the stand-in."""
    python = host_python()
    flavour = _flavour(checkout)
    key = hashlib.sha256("\n".join(
        [str(python), *STACK, *WIZARD_EXTRAS, IPYTHON_CONFIG, LAUNCHER, flavour]
    ).encode()).hexdigest()[:12]
    image = cache_root() / f"colab-host-{COLAB_MINOR}-{flavour}-{key}"
    if (image / "READY").exists():
        return image
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image.parent / (image.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (image / "READY").exists():
            _build_image(image, python, checkout)
    return image


def _run(argv: list[str]) -> str:
    """Run a build step quietly; on failure, raise with its output."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")
    return done.stdout


def _build_image(image: Path, python: Path, checkout: Optional[Path]) -> None:
    shutil.rmtree(image, ignore_errors=True)
    venv = image / "venv"
    _run([sys.executable, "-m", "virtualenv", "-q", "-p", str(python), str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run([*pip, *STACK, *WIZARD_EXTRAS])
    site = Path(_run([str(venv / "bin" / "python"), "-c",
                      "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    if checkout is not None:
        # As on Colab: google-colab installed without its pins (Colab's own freeze
        # differs from setup.py's, e.g. jupyter-server 2.20 vs 2.14).
        _run([*pip, "--no-deps", str(checkout)])
    else:
        _write_standin(site)
    (site / "colab_kernel_launcher.py").write_text(LAUNCHER)
    spec_dir = venv / "share" / "jupyter" / "kernels" / "python3"
    shutil.rmtree(spec_dir, ignore_errors=True)
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(KERNELSPEC, indent=1))
    config = image / "usr-local-etc" / "ipython"
    config.mkdir(parents=True)
    (config / "ipython_config.py").write_text(IPYTHON_CONFIG)
    (image / "READY").write_text("ok\n")


def _write_standin(site: Path) -> None:
    package = site / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(STANDIN_INIT)
    for name, text in STANDIN_MODULES.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    dist = site / "google_colab-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(STANDIN_METADATA)
    (dist / "INSTALLER").write_text("colab_host\n")
    (dist / "RECORD").write_text("".join(
        f"{path.relative_to(site).as_posix()},,\n" for path in sorted(package.rglob("*.py"))))


@functools.cache
def namespaces_allowed() -> bool:
    """Whether this machine lets us bind-mount a private system config dir."""
    if shutil.which("unshare") is None or not Path("/usr/local/etc").is_dir():
        return False
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "--bind", "/usr/local/etc",
         "/usr/local/etc"], capture_output=True)
    return done.returncode == 0


@dataclass
class Host:
    """One test's Colab VM: the cached image plus per-test env, folders and variables."""

    image: Path
    root: Path
    base_env: dict[str, str] = field(default_factory=dict)

    @property
    def venv(self) -> Path:
        return self.image / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python3"

    @property
    def system_config_dir(self) -> Path:
        return self.image / "usr-local-etc"

    @property
    def namespaced(self) -> bool:
        return namespaces_allowed()

    @property
    def real_colab(self) -> bool:
        """Whether google.colab is the real package (from a colabtools checkout)."""
        return self.image.name.startswith(f"colab-host-{COLAB_MINOR}-real-")

    @property
    def env_python(self) -> Path:
        return self.root / "env" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of Colab's backend (and so of every kernel it starts)."""
        env = dict(self.base_env)
        env.update({
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}",
            "COLAB_RELEASE_TAG": RELEASE_TAG,
            "PYTHONPATH": str(self.env_python),
            "UV_SYSTEM_PYTHON": "true",
            "UV_CONSTRAINT": str(self.root / "uv" / "constraints.txt"),
            "UV_BUILD_CONSTRAINT": str(self.root / "uv" / "build-constraints.txt"),
            "COLAB_WIZARD_SOURCE": str(ROOT),
        })
        env.pop("VIRTUAL_ENV", None)
        env.pop("COLAB_WIZARD_HOST", None)
        # Isolated from ~/.ipython; holds Colab's config only where namespaces are not allowed.
        env["IPYTHONDIR"] = str(self.root / "ipython")
        env.update(extra)
        return env

    def argv(self, argv: list[str]) -> list[str]:
        """``argv`` run on this host: inside its mount namespace when there is one."""
        if not self.namespaced:
            return list(argv)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /usr/local/etc && exec "$@"', str(self.system_config_dir),
                *argv]

    def run(self, argv: list[str], timeout: float = 900,
            **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(argv), env=kw.pop("env", self.env()), text=True,
                              capture_output=True, timeout=timeout, **kw)

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(argv), env=kw.pop("env", self.env()), text=True, **kw)

    def wizard(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        """``python -m colab_wizard ARGS`` on the host, with this tree's colab_wizard (as
        ``pip install colab-wizard`` would have it on Colab's path)."""
        return self.run([str(self.python), "-c", BOOTSTRAP, *args], timeout=timeout)

    def python_code(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.python), "-c", code], timeout=timeout)

    def add_env_module(self, name: str, text: str) -> None:
        """A module only the host's Python finds (on its ``PYTHONPATH``, like /env/python)."""
        (self.env_python / f"{name}.py").write_text(text)

    def set_profile_config(self, text: str) -> None:
        """Add to the IPython profile config every kernel on the host reads (it ranks above
        the system's)."""
        path = self.root / "ipython" / "profile_default" / "ipython_config.py"
        before = path.read_text() if path.exists() else "c = get_config()\n"
        path.write_text(before + text)


# Puts this tree's colab_wizard on the host's path, then runs the CLI with the rest of argv.
BOOTSTRAP = ("import os, sys; sys.path.insert(0, os.environ['COLAB_WIZARD_SOURCE']); "
             "from colab_wizard.cli import main; sys.exit(main(sys.argv[1:]))")
# The same for a cell in a kernel on the host.
CELL_BOOTSTRAP = "import os, sys; sys.path.insert(0, os.environ['COLAB_WIZARD_SOURCE'])\n"


def make_host(root: Path, standin: bool = False) -> Host:
    """A Colab VM rooted at ``root`` (the cached image is built on first use), with the real
    google.colab when ``COLAB_WIZARD_COLABTOOLS`` names a checkout, unless ``standin``."""
    image = ensure_image(None if standin else colabtools())
    root.mkdir(parents=True, exist_ok=True)
    env_python = root / "env" / "python"
    env_python.mkdir(parents=True)
    # A module only Colab's own Python should import: a new kernel must never see it.
    (env_python / "colab_env_marker.py").write_text("LEAKED = True\n")
    uv = root / "uv"
    uv.mkdir()
    (uv / "constraints.txt").write_text(textwrap.dedent("""\
        # Colab pins its own stack for uv; a new environment must not inherit this.
        ipykernel==6.17.1
    """))
    (uv / "build-constraints.txt").write_text("")
    profile = root / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    if not namespaces_allowed():
        (profile / "ipython_config.py").write_text(IPYTHON_CONFIG)
    return Host(image=image, root=root, base_env=dict(os.environ))


def iter_kernel_names(host: Host) -> Iterator[str]:
    """Kernelspec names the host's Jupyter sees (user dir first, then the system dirs)."""
    done = host.python_code(
        "from jupyter_client.kernelspec import KernelSpecManager as K; "
        "print('\\n'.join(sorted(K().find_kernel_specs())))")
    yield from done.stdout.split()


# -- the frontend calls alone, in this process (notebook.switch's own tests) --------------


def build(root: Path) -> dict[str, Path]:
    """A stand-in ``google.colab`` with only the page's side (``_message.blocking_request``
    answering get_ipynb from a file, ``files.download`` copying), to put on *this*
    process's path. Kernels and profiles are tested on the host (``make_host``)."""
    site = root / "dist-packages"
    package = site / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""In-process stand-in: frontend calls only."""\n')
    for name in ("_message.py", "files.py"):
        (package / name).write_text(STANDIN_MODULES[name])
    return {"site": site}
