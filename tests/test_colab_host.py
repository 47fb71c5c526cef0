"""The Colab-shaped host itself: what Colab's default kernel is, checked through the gateway.

Every other Colab test relies on this host being faithful (docs/colab.md lists the
facts and their sources), so its shape is asserted from inside a kernel started by
name through the real kernel gateway, the way Colab's backend starts it.
"""

from __future__ import annotations

import json
from pathlib import Path

import colab_host
import gateway
import pytest

HOST_PROBE = r"""
import json, os, sys
import zmq
ip = get_ipython()
import IPython, ipykernel, ipywidgets, jupyter_client, traitlets
from IPython.core.application import SYSTEM_CONFIG_DIRS
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
try:
    import colab_env_marker
    marker = True
except ImportError:
    marker = False
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "kernel_class": type(ip.kernel).__module__ + "." + type(ip.kernel).__name__,
    "stack": [IPython.__version__, ipykernel.__version__, ipywidgets.__version__,
              jupyter_client.__version__, traitlets.__version__],
    "launcher": type(app).__module__ + "." + type(app).__name__,
    "argv0": sys.argv[0],
    "iopub_hwm": app.iopub_thread.socket.getsockopt(zmq.SNDHWM),
    "extensions": sorted(ip.extension_manager.loaded),
    "hist_file": ip.history_manager.hist_file,
    "use_jedi": ip.Completer.use_jedi,
    "system_config": [d for d in SYSTEM_CONFIG_DIRS
                      if os.path.isfile(os.path.join(d, "ipython_config.py"))],
    "release_tag": os.environ.get("COLAB_RELEASE_TAG"),
    "uv": sorted(k for k in os.environ if k.startswith("UV_")),
    "env_python_importable": marker,
    "google_colab": __import__("google.colab").colab.__file__,
    "pid": os.getpid(),
}))
"""


def test_default_kernel_is_colabs_started_by_name_through_the_gateway(
    colab_vm: colab_host.Host, tmp_path: Path
) -> None:
    with gateway.Gateway(colab_vm, tmp_path / "gateway.log") as gw:
        spec = gw.kernelspecs()["python3"]["spec"]
        assert spec["argv"][:3] == ["python3", "-m", "colab_kernel_launcher"]
        kernel = gw.start_kernel("python3")
        gw.wait_ready(kernel)
        got = gw.execute(kernel, HOST_PROBE).json_line()
        assert got["python"] == colab_host.COLAB_MINOR
        assert got["kernel_class"] == "google.colab._kernel.Kernel"
        assert got["stack"] == ["7.34.0", "6.17.1", "7.7.1", "7.4.9", "5.7.1"]
        assert got["launcher"] == "__main__.ColabKernelApp"
        assert got["argv0"].endswith("colab_kernel_launcher.py")
        assert got["iopub_hwm"] == 0
        assert "google.colab" in got["extensions"]
        assert got["hist_file"] == ":memory:" and got["use_jedi"] is False
        if colab_vm.namespaced:  # a system config, like Colab's /etc/ipython
            assert got["system_config"] == ["/usr/local/etc/ipython"]
        assert got["release_tag"] == colab_host.RELEASE_TAG
        assert {"UV_CONSTRAINT", "UV_SYSTEM_PYTHON"} <= set(got["uv"])
        assert got["env_python_importable"] is True
        assert got["google_colab"].startswith(str(colab_vm.venv))

        # Runtime > Restart session: same manager, same argv, a new process.
        gw.restart(kernel)
        gw.wait_ready(kernel)
        again = gw.execute(kernel, HOST_PROBE).json_line()
        assert again["pid"] != got["pid"]
        assert again["kernel_class"] == got["kernel_class"]
        gw.shutdown(kernel)


MEASURE = colab_host.CELL_BOOTSTRAP + (
    "import json\n"
    "from colab_wizard.imports import loaded_distributions\n"
    "print(json.dumps(loaded_distributions(('google.colab._kernel', 'google.colab')).dists))\n")


@pytest.mark.slow
@pytest.mark.skipif(colab_host.colabtools() is None, reason="needs COLAB_WIZARD_COLABTOOLS")
def test_the_standin_loads_what_the_real_google_colab_loads(
    wizard_env: dict[str, Path], tmp_path: Path
) -> None:
    """CI runs on the stand-in; it is only as good as this match with the real package."""
    measured = {}
    for label, standin in (("real", False), ("standin", True)):
        host = colab_host.make_host(tmp_path / label, standin=standin)
        done = host.python_code(MEASURE)
        assert done.returncode == 0, done.stderr
        measured[label] = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert measured["real"] == measured["standin"]


def test_the_wizard_on_the_host_reads_colabs_config_as_every_kernel_does(
    colab_vm: colab_host.Host
) -> None:
    done = colab_vm.wizard("doctor", "--no-start")
    assert done.returncode == 0, done.stderr
    assert "host: colab" in done.stdout
    assert "kernel profile default here: full" in done.stdout
    config = "/usr/local/etc/ipython" if colab_vm.namespaced else str(colab_vm.root / "ipython")
    assert "every kernel here must import: google.colab._kernel and google.colab (from " + (
        config) in done.stdout
