"""A Colab-shaped host built in a temp dir: IPython config, a stand-in google.colab, env vars.

Mirrors what a Colab VM has: an IPython config that every kernel reads (Colab's
``/etc/ipython/ipython_config.py``; here ``$IPYTHONDIR/profile_default``, which every
IPython kernel reads too and which ranks *above* the system dir, so an override
that beats it beats Colab's), the ``google-colab`` distribution with its
``google/colab`` package and ``colab_kernel_launcher`` in the host's site dir, and
``PYTHONPATH`` / ``UV_*`` exported.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# The shape of Colab's real /etc/ipython/ipython_config.py (2024-2026).
IPYTHON_CONFIG = """\
c = get_config()
c.IPKernelApp.capture_fd_output = False
c.IPKernelApp.kernel_class = 'google.colab._kernel.Kernel'
c.Completer.use_jedi = False
c.InteractiveShellApp.extensions = ['google.colab']
c.InteractiveShellApp.reraise_ipython_extension_failures = True
c.InteractiveShellApp.exec_lines = ['__import__("logging").basicConfig()']
c.HistoryManager.hist_file = ':memory:'
c.InteractiveShellApp.matplotlib = 'inline'
"""

COLAB_INIT = '''\
"""Stand-in for Colab's google.colab package."""
import portpicker  # a runtime requirement, as Colab's package has
{extra_import}

def load_ipython_extension(ipython):
    ipython.user_ns["_colab_extension_loaded"] = True
'''

COLAB_KERNEL = '''\
from ipykernel import ipkernel


class Kernel(ipkernel.IPythonKernel):
    """Stand-in for google.colab._kernel.Kernel."""

    colab_standin = True
'''

LAUNCHER = '''\
"""Stand-in for Colab's colab_kernel_launcher."""
import sys

if __name__ == "__main__":
    if sys.path[0] == "":
        del sys.path[0]
    from ipykernel import kernelapp as app
    app.launch_new_instance()
'''

# The frontend side, as far as a kernel sees it: a request answered by the page, a download.
MESSAGE = '''\
import json, os


def blocking_request(request_type, request="", timeout_sec=5, parent=None):
    assert request_type == "get_ipynb"
    with open(os.environ["COLAB_STANDIN_NOTEBOOK"]) as fh:
        return {"ipynb": json.load(fh)}
'''

FILES = '''\
import os, shutil


def download(filename):
    shutil.copy(filename, os.environ["COLAB_STANDIN_DOWNLOADS"])
'''

METADATA = """\
Metadata-Version: 2.1
Name: google-colab
Version: 1.0.0
Requires-Dist: ipykernel==6.17.1
Requires-Dist: ipython==7.34.0
Requires-Dist: portpicker==1.5.2
Requires-Dist: notebook
Requires-Dist: pytest ; extra == "tests"
"""


def build(root: Path, host_only_dependency: bool = False) -> dict[str, Path]:
    """Write the host's pieces under ``root``; returns their paths.

    ``host_only_dependency``: google.colab imports a module only the host has, so a
    copy of it cannot be imported in another environment (the *full* profile fails).
    """
    site = root / "dist-packages"
    package = site / "google" / "colab"
    package.mkdir(parents=True)
    extra = "import _colab_host_only" if host_only_dependency else ""
    (package / "__init__.py").write_text(COLAB_INIT.format(extra_import=extra))
    (package / "_kernel.py").write_text(COLAB_KERNEL)
    (package / "_message.py").write_text(MESSAGE)
    (package / "files.py").write_text(FILES)
    (site / "_colab_host_only.py").write_text("VALUE = 1\n")
    # The host has google.colab's requirements installed (a stand-in for the one it imports).
    (site / "portpicker.py").write_text("def pick_unused_port():\n    return 0\n")
    (site / "colab_kernel_launcher.py").write_text(LAUNCHER)
    dist = site / "google_colab-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(METADATA)
    ipython_dir = root / "ipython"
    (ipython_dir / "profile_default").mkdir(parents=True)
    (ipython_dir / "profile_default" / "ipython_config.py").write_text(IPYTHON_CONFIG)
    env_python = root / "env" / "python"
    env_python.mkdir(parents=True)
    (env_python / "colab_env_marker.py").write_text("LEAKED = True\n")
    constraint = root / "uv-constraints.txt"
    constraint.write_text(textwrap.dedent("""\
        # Colab pins its own stack for uv; a new environment must not inherit this.
        ipykernel==6.17.1
    """))
    return {"site": site, "ipython_dir": ipython_dir, "env_python": env_python,
            "constraint": constraint}
