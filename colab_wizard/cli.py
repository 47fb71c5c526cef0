"""``python -m colab_wizard``: create, list and remove kernels from a terminal.

Exit codes: 0 done, 1 failed, 2 bad input, 130 cancelled. The commands raise; :func:`main`
turns a :class:`~colab_wizard.errors.WizardError` into its sentence and exit code, once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Optional, Sequence

from . import adoption, api, colab, demo, pythons, settings
from .errors import SpecError, WizardError
from .sync import run_sync
from .terminal import TerminalView

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m colab_wizard",
        description="Make any CPython 3.9-3.14 with Poetry-managed dependencies a Jupyter kernel.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    create = commands.add_parser("create", help="build (or update) an environment and its kernel")
    create.add_argument("--python", help="version: 3.12, 3.12.4 or 3.13t")
    create.add_argument("--name", help="kernelspec name (derived from the display name if absent)")
    create.add_argument("--display-name", help="name shown in the kernel menu")
    create.add_argument("--dep", action="append", default=[], metavar="SPEC",
                        help="a PEP 508 requirement; repeat for more")
    create.add_argument("--project-dir", help="folder for pyproject.toml, poetry.lock and .venv")
    create.add_argument("--index-url", help="package index (simple API); default: pip's")
    create.add_argument("--python-mirror", metavar="URL",
                        help="download Python builds only from here (<URL>/<release>/<file>); "
                        "default: $COLAB_WIZARD_PYTHON_MIRROR, else the upstream releases")
    create.add_argument("--verbose", "-v", action="store_true", help="echo the tools' output")
    create.add_argument("--replace", action="store_true",
                        help="replace another kernel registered under --name for another "
                        "project folder (that folder is kept)")
    create.add_argument("--profile", choices=colab.PROFILE_CHOICES, default="auto",
                        help="how the kernel copes with Colab's IPython config (default: full "
                        "on Colab, falling back to plain; none elsewhere)")
    adopt = commands.add_parser(
        "adopt", help="make your own Poetry project (a folder or a git URL) a kernel")
    adopt.add_argument("source", metavar="PATH-OR-GIT-URL",
                       help="the folder holding pyproject.toml, or a repository to clone")
    adopt.add_argument("--python", help="version (default: the newest the project allows)")
    adopt.add_argument("--name", help="kernelspec name (default: from the project's name)")
    adopt.add_argument("--display-name", help="name shown in the kernel menu")
    adopt.add_argument("--project-dir", help="where a git repository is cloned "
                       "(default: the projects folder)")
    adopt.add_argument("--index-url", help="package index (simple API); default: pip's")
    adopt.add_argument("--relock", action="store_true",
                       help="resolve again when poetry.lock does not match pyproject.toml")
    adopt.add_argument("--dry-run", action="store_true",
                       help="only say what would change (a git URL is still cloned)")
    adopt.add_argument("--profile", choices=colab.PROFILE_CHOICES, default="auto")
    adopt.add_argument("--verbose", "-v", action="store_true", help="echo the tools' output")
    demo_cmd = commands.add_parser(
        "demo", help="create the embedded example: " + demo.DEMO_SUMMARY
    )
    demo_cmd.add_argument("--verbose", "-v", action="store_true", help="echo the tools' output")
    commands.add_parser("list", help="kernels made by colab_wizard")
    commands.add_parser("pythons", help="Python versions on offer: installed here or downloadable")
    remove = commands.add_parser("remove", help="unregister a kernel made by colab_wizard")
    remove.add_argument("name")
    save = commands.add_parser("save", help="save a kernel's Python, wheels and lock to a folder")
    save.add_argument("folder", help="for example /content/drive/MyDrive/colab_wizard")
    save.add_argument("--name", help="the kernel (default: the only one colab_wizard made)")
    restore = commands.add_parser("restore", help="rebuild a saved kernel without the index")
    restore.add_argument("folder")
    restore.add_argument("--name", help="which saved kernel, if the folder holds several")
    restore.add_argument("--project-dir", help="where to rebuild (default: as for create)")
    restore.add_argument("--profile", choices=colab.PROFILE_CHOICES,
                         help="override the saved kernel profile")
    restore.add_argument("--verbose", "-v", action="store_true")
    doctor = commands.add_parser("doctor", help="a report to paste into a question")
    doctor.add_argument("--no-start", action="store_true", help="do not start the kernels")
    switch = commands.add_parser("switch", help="copy a notebook so it opens on a kernel")
    switch.add_argument("notebook")
    switch.add_argument("--name", help="the kernel (default: the only one colab_wizard made)")
    switch.add_argument("--save-dir", dest="save_dir",
                        help="where 'Save for a fresh VM' wrote: the copy's first cell "
                             "restores from the save there")
    # The earlier name of --save-dir, still accepted.
    switch.add_argument("--cache", dest="save_dir", help=argparse.SUPPRESS)
    use = commands.add_parser(
        "use", help="Colab: restart this notebook's own kernel on a kernel colab_wizard made")
    use.add_argument("name", nargs="?", help="the kernel (without it: say which one is in use)")
    use.add_argument("--reset", action="store_true", help="back to Colab's own Python")
    return parser


async def _run_with_signals(spec: api.EnvSpec, view: TerminalView,
                            profile: Optional[colab.ProfileChoice] = None,
                            adopted: Optional[adoption.Adoption] = None) -> api.Created:
    runner, ws = api.build_runner(spec, [view], profile, adopted)
    loop = asyncio.get_running_loop()
    # Ctrl-C cancels the runner (which kills the children) instead of tearing the loop down.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.cancel)
    return await api.run_plan(runner, ws)


def run_create(spec: api.EnvSpec, verbose: bool, profile: Optional[colab.ProfileChoice] = None,
               adopted: Optional[adoption.Adoption] = None) -> int:
    view = TerminalView(verbose=verbose)
    made = run_sync(_run_with_signals(spec, view, profile, adopted))
    print(f"Kernel '{made.name}' ({made.display_name}) is ready: Python {made.python}, "
          f"project {made.project_dir}")
    if made.notice:
        print(made.notice)
    return EXIT_OK


def cmd_create(args: argparse.Namespace) -> int:
    if not args.python:
        raise SpecError("python", "Give --python, for example --python 3.12.")
    if args.python_mirror:
        # Read by the python stage (download.mirror()); the process is ours to configure.
        os.environ[settings.PYTHON_MIRROR.name] = args.python_mirror
    spec = api.make_spec(args.python, args.dep, args.name, args.display_name,
                         args.project_dir, args.index_url, args.replace)
    return run_create(spec, args.verbose, args.profile)


def cmd_adopt(args: argparse.Namespace) -> int:
    adopted = api.prepare_adoption(adoption.Request(
        args.source, args.python, args.name, args.display_name, args.project_dir,
        args.index_url, args.relock, args.profile))
    spec = adopted.spec
    print(f"Adopting {spec.project_dir} as kernel '{spec.name}' ({spec.display_name}):")
    for line in adopted.changes:
        print(f"  - {line}")
    if args.dry_run:
        return EXIT_OK
    return run_create(spec, args.verbose, args.profile, adopted)


def cmd_demo(args: argparse.Namespace) -> int:
    return run_create(demo.demo_spec(), args.verbose)


def cmd_list(args: argparse.Namespace) -> int:
    found = api.list_kernels()
    if not found:
        print("No kernels made by colab_wizard are registered.")
    for info in found:
        print(f"{info.name}\t{info.display_name}\tPython {info.python}\t{info.project_dir}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    where = api.remove_kernel(args.name)
    print(f"Removed kernel '{args.name}' ({where}); its project folder was kept.")
    return EXIT_OK


def cmd_pythons(args: argparse.Namespace) -> int:
    for offer in pythons.available():
        where = f"\t{offer.path}" if offer.path else ""
        print(f"{offer.label}\t{offer.describe()}{where}")
    return EXIT_OK


def cmd_save(args: argparse.Namespace) -> int:
    from . import freshvm

    saved = freshvm.save(args.folder, args.name)
    print(f"Saved {saved.folder} ({len(saved.files)} files, {saved.wheels} wheels, "
          f"{saved.size / 1e6:.1f} MB)")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from . import freshvm

    view = TerminalView(verbose=args.verbose)
    made = freshvm.restore(args.folder, args.name, args.project_dir, [view], args.profile)
    print(f"Kernel '{made.name}' ({made.display_name}) restored: project {made.project_dir}")
    if made.notice:
        print(made.notice)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    doctor(check_kernels=not args.no_start)
    return EXIT_OK


def cmd_switch(args: argparse.Namespace) -> int:
    from . import notebook

    _, message = notebook.switch(args.name, args.notebook, save_dir=args.save_dir)
    print(message)
    return EXIT_OK


def cmd_use(args: argparse.Namespace) -> int:
    from . import inplace

    if args.reset and args.name:
        raise SpecError("name", "Give a kernel name or --reset, not both.")
    if args.reset:
        print(inplace.describe_reset(inplace.reset()))
    elif args.name:
        print(inplace.describe_use(inplace.use(args.name)))
    else:
        print(inplace.describe_status())
    return EXIT_OK


COMMANDS = {"create": cmd_create, "adopt": cmd_adopt, "demo": cmd_demo, "list": cmd_list,
            "remove": cmd_remove,
            "pythons": cmd_pythons, "save": cmd_save, "restore": cmd_restore,
            "doctor": cmd_doctor, "switch": cmd_switch, "use": cmd_use}


def report(error: WizardError) -> int:
    """Print what went wrong and what to do (no traceback); return the exit code."""
    if isinstance(error, api.CreateFailed):  # the terminal view has shown the failed stage
        return EXIT_CANCELLED if error.outcome == "cancelled" else EXIT_FAILED
    # "Error in <field>: <what to do>" for bad input, so the user knows what to retype.
    print(f"Error in {error}" if isinstance(error, SpecError) else error, file=sys.stderr)
    return EXIT_BAD_INPUT if error.bad_input else EXIT_FAILED


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return COMMANDS[args.command](args)
    except WizardError as exc:
        return report(exc)
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    except OSError as exc:
        # No traceback for a terminal user: the file and the reason, which they can act on.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"Error: {where}{exc.strerror or exc}. Check that the path exists and can be "
              "written, then try again.", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: still a sentence, and where to report it
        print(f"Error: colab_wizard stopped on an unexpected {type(exc).__name__}: {exc}. "
              "This is a bug; please report it with the output of "
              "'python -m colab_wizard doctor'.", file=sys.stderr)
        return EXIT_FAILED

