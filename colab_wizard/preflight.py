"""Pre-flight: start a staged kernel once, ask it who it is, shut it down.

Run as ``python -m colab_wizard.preflight KERNEL_DIR --python 3.12 --require SPEC...``
so the runner can stream, time out and kill it like any other step. A kernel
that cannot start (on Colab: one whose Python cannot import ``google.colab``)
fails here, before Jupyter is ever told about it.

Prints one line ``COLAB_WIZARD_PREFLIGHT {json}`` on success; exits 1 with a
sentence on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Optional

from . import settings

RESULT_PREFIX = "COLAB_WIZARD_PREFLIGHT "

# Runs in the kernel's Python (also lockcheck's): the PEP 508 marker environment, as ``_env``.
MARKERS_CODE = """
import os, platform, sys
_impl = sys.implementation
_env = {
    "implementation_name": _impl.name,
    "implementation_version": "{0.major}.{0.minor}.{0.micro}".format(_impl.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
"""

# Runs inside the new kernel after MARKERS_CODE: its Python, its packages, its markers.
_KERNEL_CODE = """
import json
try:
    import importlib.metadata as _md
except ImportError:
    _md = None
_names = {names!r}
_found = {{}}
for _n in _names:
    try:
        _found[_n] = _md.version(_n)
    except Exception:
        _found[_n] = None
print(json.dumps({{"version": list(sys.version_info[:3]), "executable": sys.executable,
                  "found": _found, "markers": _env}}))
"""


def check_requirements(found: dict[str, Optional[str]], markers: dict[str, str],
                       requirements: list[str]) -> list[str]:
    """Sentences for each requirement the kernel's environment does not satisfy."""
    from packaging.requirements import Requirement

    problems = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(markers):
            continue
        version = found.get(req.name)
        if version is None:
            problems.append(f"{req.name} is not installed in the kernel's environment")
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name} {version} does not satisfy '{text}'")
    return problems


def run_kernel(kernel_dir: Path, code: str, timeout: float) -> dict[str, Any]:
    """Start the kernelspec in ``kernel_dir``, execute ``code``, return its JSON output."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir.parent)], ensure_native_kernel=False)
    km = KernelManager(kernel_name=kernel_dir.name, kernel_spec_manager=ksm)

    def on_term(signum: int, frame: Any) -> None:
        # The runner cancels by SIGTERM; the kernel is in its own session, stop it too.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    print(f"Starting kernel '{kernel_dir.name}' once to check it ...", flush=True)
    env = dict(os.environ)
    # The runner cleaned PYTHONPATH for us; the kernel gets the host's back, as under a server.
    host_path = env.pop(settings.KERNEL_PYTHONPATH.name, None)
    if host_path is not None:
        env["PYTHONPATH"] = host_path
    km.start_kernel(env=env)
    client = km.client()
    outputs: list[str] = []
    try:
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)
        except RuntimeError as exc:
            raise SystemExit(f"The kernel did not start: {exc}") from None

        def hook(msg: dict[str, Any]) -> None:
            content = msg.get("content", {})
            if msg.get("msg_type") == "stream" and content.get("name") == "stdout":
                outputs.append(content.get("text", ""))
            elif msg.get("msg_type") == "error":
                outputs.append("ERROR " + "\n".join(content.get("traceback", [])))

        reply = client.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"].get("status") != "ok":
            raise SystemExit("The kernel started but could not run code:\n" + "".join(outputs))
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(outputs).strip().splitlines()
    if not text:
        raise SystemExit("The kernel ran the check but printed nothing.")
    result: dict[str, Any] = json.loads(text[-1])
    return result


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colab_wizard.preflight")
    parser.add_argument("kernel_dir", type=Path)
    parser.add_argument("--python", required=True, help="expected major.minor, e.g. 3.12")
    parser.add_argument("--require", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    from packaging.requirements import Requirement

    names = sorted({Requirement(r).name for r in args.require})
    result = run_kernel(args.kernel_dir, MARKERS_CODE + _KERNEL_CODE.format(names=names),
                        args.timeout)
    got = ".".join(str(x) for x in result["version"][:2])
    if got != args.python:
        print(f"The kernel runs Python {got}, not {args.python}.", flush=True)
        return 1
    problems = check_requirements(result["found"], result["markers"], args.require)
    for problem in problems:
        print(problem, flush=True)
    if problems:
        return 1
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
