"""The first code of a switched default kernel, on the chosen environment's Python.

Started by the launcher shim (:mod:`colab_wizard.inplace_shim`) as
``<venv python> <this file> <Colab's kernel arguments>``, with its settings in
``$COLAB_WIZARD_INPLACE``. It starts the environment's kernel the way that
kernel's own launcher would (the launcher's ``IPKernelApp`` subclass, the
kernelspec's extra arguments). Anything that stops the kernel from
initialising (a package failing at import, ``google.colab`` missing under
Colab's IPython config) hands the same process back to Colab's own Python,
whose shim then undoes the switch: that start still ends in a working kernel.

Standard library only until the kernel is imported; runs on Python 3.9+.
"""

import json
import os
import sys
import traceback

CONFIG_ENV = "COLAB_WIZARD_INPLACE"
FAILED_ENV = "COLAB_WIZARD_INPLACE_FAILED"


def make_app(launcher):
    """An instance of the launcher module's kernel app (IPKernelApp if it defines none)."""
    import importlib

    from ipykernel.kernelapp import IPKernelApp

    module = importlib.import_module(launcher)
    for value in list(vars(module).values()):
        if (isinstance(value, type) and issubclass(value, IPKernelApp)
                and value.__module__ == module.__name__):
            return value.instance()
    return IPKernelApp.instance()


def hand_back(config, exc, std_fds):
    """Start Colab's own kernel in this process instead, telling its shim why."""
    lines = traceback.format_exception_only(type(exc), exc)
    problem = (lines[-1].strip() if lines else repr(exc)) or type(exc).__name__
    # The kernel may have redirected fds 1 and 2 into pipes read by its (now gone) threads.
    for fd, copy in std_fds.items():
        os.dup2(copy, fd)
    name = config["display_name"]
    sys.__stderr__.write(f"colab_wizard: the kernel {name!r} failed while starting:\n")
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.__stderr__)
    sys.__stderr__.flush()
    env = dict(os.environ)
    for key, value in config["saved_env"].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.pop(CONFIG_ENV, None)
    env[FAILED_ENV] = f"it failed while starting: {problem}"
    python = config["host_python"]
    os.execve(python, [python, "-m", config["module"]] + sys.argv[1:], env)


def main():
    del sys.path[0]  # this file's folder: colab_wizard's own modules are no top-level names
    config = json.loads(os.environ[CONFIG_ENV])
    sys.path.append(config["lib"])  # colab_wizard itself, after the environment's packages
    std_fds = {fd: os.dup(fd) for fd in (0, 1, 2)}
    args = list(config["extra_argv"]) + sys.argv[1:]
    try:
        app = make_app(config["launcher"])
        sys.argv = [sys.argv[0]] + args
        app.initialize(args)
    except BaseException as exc:  # noqa: BLE001 - whatever stops the start hands over
        hand_back(config, exc, std_fds)
    for copy in std_fds.values():
        os.close(copy)
    try:
        os.remove(config["marker"])
    except OSError:
        pass
    app.start()


if __name__ == "__main__":
    main()
