"""Run several Poetry commands in one process, in Poetry's own tool environment.

Run by that environment's Python as ``python -I -u poetry_batch.py -- CMD... -- CMD...``
(-I: neither this folder nor the user's project lands on sys.path, so no module there can
shadow one of Poetry's). Poetry takes about a second to start, a good part of a ``lock``
plus ``export``. This module never imports colab_wizard and is never imported by it.
"""

import sys


def main(args: list[str]) -> int:
    from cleo.io.inputs.argv_input import ArgvInput
    from poetry.console.application import Application

    commands: list[list[str]] = []
    for arg in args:
        if arg == "--":
            commands.append([])
        elif commands:
            commands[-1].append(arg)
    for command in commands:
        app = Application()
        app.auto_exits(False)
        code = app.run(ArgvInput(["poetry", *command]))
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
