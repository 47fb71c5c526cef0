"""Build beside, then swap: a kernel that works keeps working until its successor has passed.

A change to an existing environment is never made in place. It is built in a
*build folder* inside the project's state folder, laid out like a project of
its own::

    project/
      pyproject.toml  poetry.lock  poetry.toml      <- the live project files
      .venv -> .colab_wizard/envs/2/.venv           <- a relative symlink
      .colab_wizard/
        state.json  kernel/<name>/                  <- the live state and kernelspec
        envs/2/  (pyproject.toml ... .venv/ .colab_wizard/state.json)   <- live env
        envs/3/  (the same, being built)
        building                                    <- "3": the build in progress
        swap.json                                   <- only during a swap

Why a symlink to a versioned folder, rather than building in a sibling folder and
renaming it over ``.venv``: a venv cannot move. Its console scripts' ``#!`` lines and
``bin/activate`` name the folder it was made in, so a venv built elsewhere and renamed
would run its scripts through a path that no longer exists. A venv made in
``envs/3/.venv`` stays there for its whole life; only the ``.venv`` link moves, and
replacing a symlink with ``rename(2)`` is atomic. Poetry follows the link (its in-project
check is ``.venv.is_dir()``), and the kernelspec names ``project/.venv/bin/python``, so a
kernel restarted with its cached argv (Colab's gateway does that) starts on whatever env is
live. Python keeps the link path as ``sys.prefix``, so ``sys.prefix`` stays under the project.

The swap itself (project files, the link, the live state, the kernelspec) is several
renames; a journal (``swap.json``, written atomically once the build has passed) makes it one
step: every later run first finishes a swap it finds (:func:`recover`), and every step of
:func:`roll_forward` can be repeated.

A one-package change stays cheap: the live venv is cloned into the build with hard links
(pip, uv and Poetry replace a file by unlinking it first, never by writing into it), and the
installer then changes only what differs.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Iterable, Optional

from . import kernels
from .errors import WizardError
from .files import replacing, write_atomic

STATE_DIR = ".colab_wizard"
PROJECT_FILES = ("pyproject.toml", "poetry.lock", "poetry.toml")
ENVS = "envs"
BUILDING = "building"
JOURNAL = "swap.json"
# What the build leaves ready for the swap: the live state and kernelspec, live paths inside.
FINAL = "final"
# A real .venv folder from before builds were versioned, moved aside by the first swap.
REPLACED_VENV = "replaced-venv"
KEPT_VENV = ".venv-before-colab_wizard"
TRASH = ".trash-"
# What a new build starts from besides the project files: the state, and the lock's export.
SEEDED_STATE = ("state.json", "requirements.txt")


def state_dir(project: Path) -> Path:
    return project / STATE_DIR


def envs_dir(project: Path) -> Path:
    return state_dir(project) / ENVS


def live_build(project: Path) -> Optional[Path]:
    """The build folder the project's ``.venv`` link points into, if it is one of ours."""
    link = project / ".venv"
    if not link.is_symlink():
        return None
    target = (project / os.readlink(link)).parent
    return target if target.parent == envs_dir(project) else None


def pending(project: Path) -> Optional[Path]:
    """The build a previous run started and did not swap in, if its folder is still there."""
    try:
        name = (state_dir(project) / BUILDING).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = envs_dir(project) / name
    if not name or not folder.is_dir() or folder == live_build(project):
        return None
    return folder


def open_build(project: Path, fresh: bool = False) -> Path:
    """The build folder for this run: the pending one (``fresh``: emptied), else a new one
    seeded with the live project files, so unchanged pins stay as they are."""
    folder = pending(project)
    if folder is not None and fresh:
        shutil.rmtree(folder)
        folder = None
    if folder is None:
        envs = envs_dir(project)
        envs.mkdir(parents=True, exist_ok=True)
        check_symlinks(envs)
        taken = [int(p.name) for p in envs.iterdir() if p.name.isdigit()]
        # Short names: the venv's path ends up in every #! line, which Linux cuts at 127 bytes.
        folder = envs / str(max(taken, default=0) + 1)
        folder.mkdir()
        for name in PROJECT_FILES:
            if (project / name).is_file():
                shutil.copy2(project / name, folder / name)
        # The live state too: what it says about the project (adopted, say) must survive the
        # swap, and its fingerprints name files and paths, so a stale one never matches.
        (folder / STATE_DIR).mkdir()
        for name in SEEDED_STATE:
            if (state_dir(project) / name).is_file():
                shutil.copy2(state_dir(project) / name, folder / STATE_DIR / name)
        write_atomic(state_dir(project) / BUILDING, folder.name)
    return folder


def check_symlinks(folder: Path) -> None:
    """The swap moves a symlink: refuse, before any work, a folder that cannot hold one."""
    probe = folder / f".symlink-check-{os.getpid()}"
    try:
        os.symlink(".", probe)
        probe.unlink()
    except OSError as exc:
        raise WizardError(
            f"{folder} cannot hold a symbolic link ({exc.strerror}), which the project's .venv "
            "is. Choose a project folder on the machine's own disk (on Colab, under /content, "
            "not on Drive).") from None


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links, or another device
        shutil.copy2(src, dst)


def clone_venv(source: Path, dest: Path) -> None:
    """Copy the venv ``source`` to ``dest`` as hard links, its scripts pointed at ``dest``."""
    real = source.resolve()
    shutil.copytree(real, dest, symlinks=True, copy_function=_link_or_copy)
    relink_scripts(dest, [real, source])


def relink_scripts(venv: Path, old_roots: Iterable[Path]) -> list[Path]:
    """Point the scripts in ``venv/bin`` (``#!`` lines, ``activate``) that name one of
    ``old_roots`` at ``venv`` instead; each is rewritten to a new file, never in place,
    so the hard-linked original keeps its bytes."""
    new = str(venv).encode()
    olds = sorted({str(r).encode() for r in old_roots if str(r) != str(venv)},
                  key=len, reverse=True)
    changed = []
    bin_dir = venv / "bin"
    for script in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else []:
        if script.is_symlink() or not script.is_file() or script.stat().st_size > 1 << 16:
            continue
        data = script.read_bytes()
        if not (data.startswith(b"#!") or script.name.startswith("activate")):
            continue
        updated = data
        for old in olds:
            # Only whole path components: "/p/.venv" must not match "/p/.venv2".
            for end in (b"/", b"\"", b"'", b"\n", b" "):
                updated = updated.replace(old + end, new + end)
        if updated != data:
            # Not flushed one by one: the build is not live before the journaled swap, and
            # a build cut short is thrown away.
            with replacing(script, durable=False) as tmp:
                tmp.write_bytes(updated)
                shutil.copymode(script, tmp)
            changed.append(script)
    return changed


def prepare_final(build: Path, kernel_name: str, kernel_spec: dict[str, Any],
                  live_state: dict[str, Any]) -> Path:
    """Write what the swap installs: the kernelspec and state with the live paths."""
    final = build / STATE_DIR / FINAL
    try:
        kernels.write_spec(final / "kernel" / kernel_name, kernel_spec)
        write_atomic(final / "state.json", json.dumps(live_state, indent=1, sort_keys=True))
    except OSError as exc:
        raise WizardError(f"cannot write {exc.filename or final} ({exc.strerror}); the kernel "
                        "was left as it was. Free some space, then run again.") from None
    return final


def commit(project: Path, build: Path, kernel_name: str) -> None:
    """Swap the verified ``build`` in: the journal first (from then on the swap counts as
    done and :func:`recover` finishes it), then :func:`roll_forward`."""
    if not (build / STATE_DIR / FINAL / "kernel" / kernel_name / "kernel.json").is_file():
        raise WizardError(f"{build} was not made ready for the swap; run again to rebuild it.")
    try:
        write_atomic(state_dir(project) / JOURNAL,
                     json.dumps({"build": build.name, "kernel": kernel_name}))
    except OSError as exc:
        raise WizardError(f"cannot write {state_dir(project) / JOURNAL} ({exc.strerror}); the "
                        "kernel was left as it was. Free some space, then run again.") from None
    roll_forward(project)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _journal(project: Path) -> Optional[dict[str, Any]]:
    return _read_json(state_dir(project) / JOURNAL) or None


def roll_forward(project: Path) -> bool:
    """Finish the swap the journal names (every step may be repeated); False if none."""
    journal = _journal(project)
    if journal is None:
        return False
    build = envs_dir(project) / str(journal.get("build", ""))
    name = str(journal.get("kernel", ""))
    final = build / STATE_DIR / FINAL
    state = state_dir(project)
    try:
        # The kernelspec first: its argv names the .venv link, so until the link moves it
        # still starts the old env, and a kernels folder that is full or read-only fails
        # the swap before the project has changed at all.
        kernels.register(final / "kernel" / name, name)
        (state / "kernel").mkdir(parents=True, exist_ok=True)
        staged = state / "kernel" / name
        tmp_kernel = state / "kernel" / f".{name}.swap"
        shutil.rmtree(tmp_kernel, ignore_errors=True)
        shutil.copytree(final / "kernel" / name, tmp_kernel)
        shutil.rmtree(staged, ignore_errors=True)
        os.replace(tmp_kernel, staged)
        for file_name in PROJECT_FILES:
            if (build / file_name).is_file():
                _copy_over(build / file_name, project / file_name)
        _point_venv_link(project, build)
        # What the build's state names besides state.json (the lock's export, say).
        for extra in sorted((build / STATE_DIR).iterdir()):
            if extra.is_file() and extra.name != "state.json":
                _copy_over(extra, state / extra.name)
        _copy_over(final / "state.json", state / "state.json")
        if pending(project) is None:
            (state / BUILDING).unlink(missing_ok=True)
        (state / JOURNAL).unlink()
    except OSError as exc:
        where, why = _reason(exc, project)
        raise WizardError(
            f"the switch to the new environment stopped half-way at {where} ({why}). The "
            "kernel still starts; free some space (or fix the permission), then run again "
            "to finish the switch."
        ) from None
    remove_old(project)
    return True


def _copy_over(source: Path, dest: Path) -> None:
    """Replace ``dest`` by a copy of ``source`` in one step. Not flushed: after a crash the
    journal redoes the whole commit from the build."""
    with replacing(dest, durable=False) as tmp:
        shutil.copy2(source, tmp)


def _reason(exc: OSError, default: Path) -> tuple[str, str]:
    """The file and the reason of an OSError, also of shutil.copytree's list of them."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) \
            and exc.args[0]:
        _, dst, why = exc.args[0][0]
        return str(dst), str(why).split("] ", 1)[-1].split(":", 1)[0]
    return str(exc.filename or default), str(exc.strerror or exc)


def _point_venv_link(project: Path, build: Path) -> None:
    link = project / ".venv"
    target = os.path.relpath(build / ".venv", project)
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.exists() and not link.is_symlink():
        # A real folder: ours from before builds were versioned (deleted after the swap), or
        # someone else's, which is kept beside the project under a name that says why.
        ours = "venv_for" in _read_json(state_dir(project) / "state.json")
        aside = state_dir(project) / REPLACED_VENV if ours else project / KEPT_VENV
        if ours:
            shutil.rmtree(aside, ignore_errors=True)
        elif aside.exists():
            aside = project / f"{KEPT_VENV}-{os.getpid()}"
        os.rename(link, aside)
    tmp = project / ".venv.swap"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def remove_old(project: Path) -> None:
    """Delete builds that are neither live nor pending (a failure here harms nothing).

    They are first renamed out of the way (instant), then deleted in a thread: a venv is
    thousands of files, and the run need not wait for them. A process that exits first
    leaves a ``.trash-*`` folder, which the next swap deletes."""
    keep = {live_build(project), pending(project)}
    folder = envs_dir(project)
    trash = []
    for build in sorted(folder.iterdir()) if folder.is_dir() else []:
        if build.name.startswith(TRASH):
            trash.append(build)
        elif build not in keep and build.name.isdigit():
            try:
                trash.append(build.rename(folder / f"{TRASH}{build.name}-{os.getpid()}"))
            except OSError:
                continue
    replaced = state_dir(project) / REPLACED_VENV
    if replaced.exists():
        trash.append(replaced)
    if trash:
        threading.Thread(target=_delete, args=(trash,), daemon=True).start()


def _delete(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def recover(project: Path) -> bool:
    """Finish a swap a killed run left half-done; call with the project's run lock held."""
    return roll_forward(project)
