"""Stands in for Colab's kernel launcher while the default kernel is switched.

:mod:`colab_wizard.inplace` writes this file, with ``TARGET`` and ``ORIGINAL``
filled in, over the launcher module that the default kernel's argv runs
(``python3 -m colab_kernel_launcher``). It runs on Colab's own Python at every
start and restart of that kernel, imports only the standard library, and either

* hands the process over (``execve``, same pid, same arguments) to the chosen
  environment's Python, through :mod:`colab_wizard.inplace_boot`; or
* when that kernel cannot start, writes Colab's original launcher back (kept
  below, byte for byte), notes what happened, and starts Colab's own kernel
  with the very same argv. A broken environment therefore costs one start,
  never a crash loop.
"""

import base64
import hashlib
import json
import os
import string
import subprocess
import sys
import time

TARGET = {}  # type: dict
ORIGINAL = ""

FAILED_ENV = "COLAB_WIZARD_INPLACE_FAILED"
CONFIG_ENV = "COLAB_WIZARD_INPLACE"
FELL_BACK_ENV = "COLAB_WIZARD_FELL_BACK"
# A start that has not reached "kernel initialised" within this long is taken as dead
# even when its pid was reused.
MARKER_STALE_SECONDS = 600


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _previous_start_died():
    """The last start wrote a marker and died before the kernel was initialised."""
    try:
        with open(TARGET["marker"]) as fh:
            marker = json.load(fh)
    except (OSError, ValueError):
        return ""
    pid = int(marker.get("pid", 0))
    fresh = time.time() - float(marker.get("time", 0)) < MARKER_STALE_SECONDS
    if pid and pid != os.getpid() and _alive(pid) and fresh:
        return ""  # another start of this kernel is under way right now
    return "its last start stopped before the kernel was ready (see the runtime's log)"


def _kernel_env():
    """The kernelspec's env over ours, ``${VAR}`` expanded as jupyter_client does (the
    venv's bin goes before ``${PATH}``)."""
    env = dict(os.environ)
    for key, value in TARGET["env"].items():
        env[key] = string.Template(value).safe_substitute(os.environ)
    return env


def _python_problem():
    python = TARGET["python"]
    if not os.path.exists(python):
        return f"its Python {python} is gone (was the environment deleted?)"
    if not os.access(python, os.X_OK):
        return f"its Python {python} cannot be run"
    if not os.path.exists(TARGET["boot"]):
        return "colab_wizard's start-up file {} is gone".format(TARGET["boot"])
    env = _kernel_env()
    try:
        probe = subprocess.run([python, "-c", "import encodings, site"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"its Python {python} does not run ({exc})"
    if probe.returncode != 0:
        lines = probe.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"]
        return f"its Python {python} does not run: {lines[-1]}"
    return ""


def _write_marker():
    try:
        os.makedirs(os.path.dirname(TARGET["marker"]), exist_ok=True)
        with open(TARGET["marker"], "w") as fh:
            json.dump({"pid": os.getpid(), "time": time.time()}, fh)
    except OSError:
        pass  # without a marker only the crash-after-exec guard is lost


def _clear_marker():
    try:
        os.remove(TARGET["marker"])
    except OSError:
        pass


def start_target():
    """Become the switched kernel: the boot module on the environment's Python."""
    env = _kernel_env()
    saved = {key: os.environ.get(key) for key in TARGET["env"]}
    config = dict(TARGET, saved_env=saved, host_python=sys.executable)
    env[CONFIG_ENV] = json.dumps(config)
    _write_marker()
    python = TARGET["python"]
    os.execve(python, [python, TARGET["boot"]] + sys.argv[1:], env)


def restore_original():
    """Colab's launcher back in place, with its mode and times (atomic rename)."""
    data = base64.b64decode(ORIGINAL)
    if hashlib.sha256(data).hexdigest() != TARGET["original_sha256"]:
        raise OSError("the kept copy of the launcher does not match its checksum")
    path = TARGET["launcher_file"]
    tmp = f"{path}.colab_wizard-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, TARGET["original_mode"])
    os.utime(tmp, ns=(TARGET["original_mtime_ns"], TARGET["original_mtime_ns"]))
    os.replace(tmp, path)


def fall_back(problem):
    """Undo the switch and start Colab's own kernel with the same argv, saying why."""
    what = {"name": TARGET["name"], "display_name": TARGET["display_name"],
            "python": TARGET["python_label"], "problem": problem, "time": time.time()}
    sys.stderr.write("colab_wizard: the kernel {!r} could not start: {}; starting Colab's own "
                     "kernel and undoing the switch.\n".format(TARGET["display_name"], problem))
    _clear_marker()
    argv = [sys.executable, "-m", TARGET["module"]] + sys.argv[1:]
    try:
        restore_original()
    except OSError as exc:
        what["problem"] += f"; the switch could not be undone ({exc})"
        # Run Colab's launcher from the kept copy; the file stays switched.
        argv = [sys.executable, "-c", base64.b64decode(ORIGINAL).decode("utf-8")] + sys.argv[1:]
    try:
        os.makedirs(os.path.dirname(TARGET["fallback_record"]), exist_ok=True)
        with open(TARGET["fallback_record"], "w") as fh:
            json.dump(what, fh)
    except OSError:
        pass
    env = dict(os.environ)
    env.pop(FAILED_ENV, None)
    env.pop(CONFIG_ENV, None)
    env[FELL_BACK_ENV] = json.dumps(what)
    os.execve(sys.executable, argv, env)


def main():
    problem = os.environ.get(FAILED_ENV, "")
    if not problem:
        problem = _previous_start_died() or _python_problem()
    if not problem:
        try:
            start_target()
        except OSError as exc:
            problem = "its Python {} could not be started ({})".format(TARGET["python"], exc)
    fall_back(problem)


if __name__ == "__main__":
    main()
