"""Run several Poetry commands in one process, in Poetry's own tool environment.

Passed to that environment's Python with ``-c``; the arguments are the commands,
each after a ``--``. Poetry takes about a second to start, a good part of a
``lock`` plus ``export``. This module never imports colab_wizard and is never
imported by it.
"""

import sys

# -c puts the working directory (the user's project) first on sys.path: a file there
# named like one of Poetry's imports must not shadow it.
del sys.path[0]


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
