"""Save for a fresh VM: what makes a second machine fast, and the rebuild from it without the index.

A saved kernel is one folder holding a few large files (Drive is slow with
many small ones and loses exec bits and symlinks, so never the venv itself):

- ``manifest.json``: the spec (name, display name, Python, dependencies, index, profile);
- ``project.tar``: ``pyproject.toml``, ``poetry.lock``, ``poetry.toml``;
- ``wheels.tar``: a wheel for every package of the kernel's venv, as poetry.lock pins
  it (see wheelhouse.py: a save is complete or it fails), and the uv wheel;
- ``python.tar.gz``: the interpreter, when the wizard installed it itself;
- ``colab_wizard-wheels/``: colab_wizard's own wheel and its dependencies', so a fresh
  VM's first cell installs colab_wizard itself without the index (:mod:`.selfwheel`).

``restore`` checks the manifest against the saved lock before it starts, unpacks,
checks every wheel against the sha256 recorded at save time (a changed file is
refused by name), makes the venv and installs the wheels with uv, offline and
hash-checked (virtualenv and pip where there is no uv), checks what was installed,
then runs the plan's kernel, pre-flight and register stages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, TypedDict, Union, cast
from zlib import error as zlib_error

from . import (
    adoption,
    api,
    colab,
    interpreters,
    kernels,
    lockcheck,
    ownership,
    paths,
    pyproject,
    selfwheel,
    swap,
    uvtool,
    wheelhouse,
)
from .errors import SaveError, StageError, WizardError
from .events import Listener
from .files import replacing, sha256_of_stream, write_atomic
from .plan import (
    STATE_DIR,
    Workspace,
    bin_dir,
    pip_seed,
    plan,
    uv_sync_argv,
)
from .progress import UvProgress
from .runner import Runner, Stage, StageContext
from .spec import EnvSpec, SpecError
from .sync import blocking
from .version import __version__

MANIFEST = "manifest.json"
PROJECT_TAR = "project.tar"
WHEELS_TAR = "wheels.tar"
PYTHON_TAR = "python.tar.gz"
# An adopted project's root package as installed (editable: its dist-info and .pth).
ROOT_TAR = "root.tar"
PROJECT_FILES = ("pyproject.toml", "poetry.lock", "poetry.toml",
                 f"{STATE_DIR}/requirements.txt")
# 2: every wheel listed with its sha256; the uv wheel; the lock's own hash.
FORMAT = 2


class _ManifestSpec(TypedDict):
    """The fields every manifest has (checked by :func:`read_manifest`)."""

    format: int
    name: str
    display_name: str
    python: str
    dependencies: list[str]


class Manifest(_ManifestSpec, total=False):
    """``manifest.json``: what a save holds and what a restore checks it against."""

    index_url: Optional[str]
    profile: Optional[str]
    python_relpath: Optional[str]
    lock_sha256: str
    # Each wheel as Wheel.as_dict wrote it: name, version, wheel, sha256, origin.
    wheels: list[dict[str, str]]
    uv: Optional[dict[str, str]]  # the saved uv wheel: wheel, sha256
    adopted: Optional[dict[str, Any]]  # an adopted project's origin (adoption.py)
    colab_wizard: dict[str, Any]  # colab_wizard's own wheels (selfwheel.py)
    archives: dict[str, dict[str, Any]]  # each archive's size and sha256 at save time


class SavedKernel(Manifest):
    """A save found in a folder (:func:`list_saved`): its manifest and where it is."""

    folder: str


@dataclass(frozen=True)
class Saved:
    folder: Path
    files: tuple[Path, ...]
    wheels: int

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def poetry_cache_dir() -> Path:
    explicit = os.environ.get("POETRY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pypoetry"


def _atomic_tar(dest: Path, members: Iterable[tuple[Path, str]], mode: str) -> Path:
    try:
        # Not flushed before the rename: on Drive that would wait for the upload, and a
        # cut-short archive is caught by the size and hash the manifest records.
        with replacing(dest, durable=False) as tmp, \
                tarfile.open(tmp, mode) as tar:  # type: ignore[call-overload]
            for path, arcname in members:
                tar.add(str(path), arcname=arcname)
    except OSError as exc:
        raise SaveError(f"cannot write {dest} ({exc.strerror}); free some space or save to "
                         "another folder.") from None
    return dest


def _kernel(name: Optional[str]) -> kernels.KernelInfo:
    ours = kernels.list_ours()
    if name is None:
        if len(ours) != 1:
            names = ", ".join(k.name for k in ours) or "none"
            raise SpecError("name", f"Say which kernel to save (made by colab_wizard: {names}).")
        return ours[0]
    for info in ours:
        if info.name == name:
            return info
    raise SpecError("name", f"No kernel named '{name}' made by colab_wizard is registered.")


def spec_of(name: Optional[str] = None) -> tuple[EnvSpec, colab.Profile, kernels.KernelInfo]:
    """The EnvSpec and profile a registered kernel of ours was built from."""
    info = _kernel(name)
    project = info.project_dir
    missing = [f for f in PROJECT_FILES[:2] if not (project / f).exists()]
    if missing:
        raise SaveError(f"{project} has no {', '.join(missing)}; build the kernel first.")
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    doc = pyproject.parse(text)
    sources = doc.get("tool", {}).get("poetry", {}).get("source", [])
    ours = [s for s in sources if s.get("name") == pyproject.SOURCE_NAME]
    # The bare ipykernel the engine appends is not the user's: the spec gets it back the same way.
    # An adopted project's dependencies are its own pyproject's business (it may have no
    # [project] table at all): the spec holds what pre-flight checks, as adopt made it.
    if ownership.owner(project) == ownership.ADOPTED_OWNER:
        deps = adoption.kernel_checks(doc, project)
    else:
        deps = [d for d in pyproject.dependencies(text) if d != pyproject.KERNEL_PACKAGE]
    spec = EnvSpec.make(info.python, deps, info.name, info.display_name, project,
                        str(ours[0]["url"]) if ours else None)
    mark = (kernels.read_spec(info.resource_dir) or {}).get("metadata", {}).get(kernels.MARK, {})
    return spec, colab.choose_profile(mark.get("profile") or colab.NONE), info


def _under_pythons_dir(interpreter: Optional[Path]) -> Optional[Path]:
    """The interpreter's path inside the wizard's own pythons dir, if it lives there."""
    if interpreter is None:
        return None
    try:
        return Path(os.path.abspath(interpreter)).relative_to(
            os.path.abspath(paths.pythons_dir()))
    except ValueError:
        return None


def writable_folder(folder: Path) -> Path:
    """``folder``, created if need be, or a sentence saying why a save cannot go there."""
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise SpecError("folder", f"{parent} is a file, not a folder; save to a folder "
                            "instead (for example /content/drive/MyDrive/colab_wizard).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError("folder", f"cannot create {exc.filename or folder} ({exc.strerror}); "
                        "save to a folder you can write to.") from None
    if not os.access(folder, os.W_OK):
        raise SpecError("folder", f"{folder} is read-only; save to a folder you can write to.")
    return folder


def save(folder: Union[str, Path], name: Optional[str] = None) -> Saved:
    """Save kernel ``name`` (the only one of ours if None) to ``folder/name``."""
    spec, profile, info = spec_of(name)
    project = spec.project_dir
    ws = Workspace(spec)
    lock_text = ws.lock_file.read_text(encoding="utf-8")
    dest = writable_folder(Path(folder) / info.name)
    with tempfile.TemporaryDirectory() as tmp:
        package = adoption.root_package(project)
        try:
            wheels = wheelhouse.gather(ws.venv_python, lock_text, Path(tmp) / "wheels",
                                       poetry_cache_dir(), ws.pip_env_vars(), package)
        except SaveError as exc:
            raise SaveError(f"Cannot save '{info.name}': {exc}") from None
        wheel_members = [(Path(tmp) / "wheels" / w.filename, "wheels/" + w.filename)
                         for w in wheels]
        uv_wheel = uvtool.kept_wheel()
        if uv_wheel is not None:
            wheel_members.append((uv_wheel, "tools/" + uv_wheel.name))
        dest.mkdir(parents=True, exist_ok=True)
        adopted = adoption.adopted_origin(project)
        if adopted is None:
            members = [(project / f, f) for f in PROJECT_FILES if (project / f).exists()]
        else:  # the user's project: its code too, and its root as installed
            members = adoption.project_members(project)
            root = adoption.root_members(project / ".venv", package) if package else []
            files_root = [_atomic_tar(dest / ROOT_TAR, root, "w")]
            adopted = {**adopted, "root_files": [name for _, name in root]}
        files = [_atomic_tar(dest / PROJECT_TAR, members, "w")]
        if adopted is not None:
            files += files_root
        files.append(_atomic_tar(dest / WHEELS_TAR, wheel_members, "w"))
    python_rel = _under_pythons_dir(ws.recorded_python())
    if python_rel is None:
        (dest / PYTHON_TAR).unlink(missing_ok=True)
    else:
        top = python_rel.parts[0]
        files.append(_atomic_tar(dest / PYTHON_TAR, [(paths.pythons_dir() / top, top)], "w:gz"))
    # The first cell of a switched notebook installs colab_wizard from here, index or not.
    tool_files, tool_missing = selfwheel.save(dest / selfwheel.WHEELS_DIR)
    files += tool_files
    manifest: Manifest = {
        "format": FORMAT,
        "name": info.name,
        "display_name": info.display_name,
        "python": info.python,
        "dependencies": list(spec.dependencies),
        "index_url": spec.index_url,
        "profile": profile,
        "python_relpath": str(python_rel) if python_rel is not None else None,
        "lock_sha256": wheelhouse.file_hash(ws.lock_file),
        "wheels": [w.as_dict() for w in wheels],
        "uv": None if uv_wheel is None else {"wheel": uv_wheel.name,
                                             "sha256": wheelhouse.file_hash(uv_wheel)},
        "adopted": adopted,
        "colab_wizard": {"version": __version__,
                         "wheels": sorted(f.name for f in tool_files),
                         "missing": tool_missing},
        # Checked by restore before it changes anything: a copy cut short is named.
        "archives": {f.name: {"size": f.stat().st_size, "sha256": wheelhouse.file_hash(f)}
                     for f in files if f.name.endswith((".tar", ".tar.gz"))},
    }
    write_atomic(dest / MANIFEST, json.dumps(manifest, indent=1))
    files.append(dest / MANIFEST)
    return Saved(dest, tuple(files), len(wheels))


def find_saved(folder: Union[str, Path], name: Optional[str] = None) -> Path:
    """The saved kernel's folder: ``folder`` itself, ``folder/name``, or its only one."""
    root = Path(folder)
    if (root / MANIFEST).exists():
        return root
    if not root.is_dir():
        raise SpecError("folder", f"{root} is not a folder; give the folder the kernel was "
                        "saved to (for example /content/drive/MyDrive/colab_wizard).")
    if name is not None:
        if (root / name / MANIFEST).exists():
            return root / name
        raise SpecError("name", f"No saved kernel '{name}' in {root}; leave the name out to "
                        "restore the only one there.")
    found = sorted(p.parent for p in root.glob("*/" + MANIFEST))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise SpecError("name", f"Say which saved kernel to restore from {root} (found: {names}).")
    return found[0]


def list_saved(folder: Union[str, Path, None]) -> list[SavedKernel]:
    """The caches in ``folder`` (for a "Restore" choice): their manifests, plus ``folder``."""
    if folder is None or not Path(folder).is_dir():
        return []
    found = []
    for manifest in sorted(Path(folder).glob("*/" + MANIFEST)):
        try:
            data = read_manifest(manifest.parent)
        except SaveError:
            continue
        found.append(SavedKernel(**data, folder=str(manifest.parent)))
    return found


# Each manifest field a restore relies on: its type, and what it holds (for the sentence).
MANIFEST_FIELDS: dict[str, tuple[type, str]] = {
    "name": (str, "the kernel name"),
    "display_name": (str, "the name shown in the kernel menu"),
    "python": (str, 'the Python version, like "3.12"'),
    "dependencies": (list, "the list of requirements"),
}
OPTIONAL_FIELDS: dict[str, tuple[type, str]] = {
    "index_url": (str, "the package index"),
    "profile": (str, "the kernel profile"),
    "python_relpath": (str, "where the saved Python unpacks"),
    "wheels": (list, "the saved wheels"),
    "archives": (dict, "each archive's size and hash"),
    "adopted": (dict, "where the adopted project came from"),
}


def read_manifest(saved_dir: Path) -> Manifest:
    """The manifest, every field a restore uses checked: a sentence names the one at fault."""
    path = saved_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SaveError(f"{path} cannot be read ({exc}); save the kernel again.") from None
    if not isinstance(data, dict):
        raise SaveError(f"{path} holds {type(data).__name__}, not the manifest's fields; "
                         "save the kernel again.")
    if data.get("format") != FORMAT:
        raise SaveError(f"{saved_dir} was written by another colab_wizard version; save the "
                        "kernel again with this one, or install the one that saved it.")
    for field_name, (kind, what) in {**MANIFEST_FIELDS, **OPTIONAL_FIELDS}.items():
        value = data.get(field_name)
        if value is None and field_name in OPTIONAL_FIELDS:
            continue
        texts = not isinstance(value, list) or field_name != "dependencies" or all(
            isinstance(item, str) for item in value)
        if not isinstance(value, kind) or not texts:
            got = "no" if value is None else f"a {type(value).__name__} as its"
            raise SaveError(f'{path} has {got} "{field_name}" field ({what}); save the '
                             "kernel again with: python -m colab_wizard save FOLDER")
    return cast(Manifest, data)  # every field a restore reads was checked above


def check_archives(saved_dir: Path, manifest: Manifest) -> None:
    """Read every archive of ``saved_dir`` to its end before anything is changed: a file cut
    short (an interrupted copy to Drive, say) or one the manifest lists but the archive
    lacks is named in a sentence."""
    archives = [PROJECT_TAR, WHEELS_TAR]
    if manifest.get("python_relpath"):
        archives.append(PYTHON_TAR)
    if (manifest.get("adopted") or {}).get("root_files"):
        archives.append(ROOT_TAR)
    members: dict[str, set[str]] = {}
    recorded = manifest.get("archives") or {}
    for name in archives:
        archive = saved_dir / name
        if not archive.is_file() and name == PYTHON_TAR:
            continue  # the Python is then looked for on this machine
        try:
            matched = _check_recorded(archive, recorded.get(name))
        except SaveError:
            changed = _changed_wheel(archive, manifest) if name == WHEELS_TAR else None
            if changed is None:
                raise
            raise SaveError(f"The saved folder {saved_dir} cannot be trusted: {changed}. Save the "
                             "kernel again from a machine where it works.") from None
        # An archive with the recorded hash is the complete one that was saved: reading it
        # through again (130 MB for a data-science kernel) would find nothing new.
        if not matched or name == PROJECT_TAR:
            members[name] = _read_through(archive)
    missing = [f for f in ("pyproject.toml", "poetry.lock") if f not in members[PROJECT_TAR]]
    if missing:
        raise SaveError(f"{saved_dir / PROJECT_TAR} lacks {', '.join(missing)}; save the kernel "
                         "again.")


def _changed_wheel(archive: Path, manifest: Manifest) -> Optional[str]:
    """Which saved wheel in ``archive`` is not what was saved (by the hashes recorded for
    each wheel), said in words; None when every wheel matches (or cannot be read)."""
    saved = {"wheels/" + str(e.get("wheel")): e for e in manifest.get("wheels", [])
             if isinstance(e, dict)}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                entry = saved.get(member.name)
                handle = tar.extractfile(member) if entry is not None else None
                if handle is None or entry is None:
                    continue
                if "sha256:" + sha256_of_stream(handle) != entry.get("sha256"):
                    return (f"{entry['wheel']} does not match the sha256 recorded when it was "
                            "saved")
    except (OSError, tarfile.TarError):
        return None
    return None


def _check_recorded(archive: Path, recorded: Any) -> bool:
    """``archive`` has the size and hash the manifest recorded at save time; False when
    none was recorded."""
    if not isinstance(recorded, dict):
        return False
    try:
        size = archive.stat().st_size
    except OSError:
        raise SaveError(f"{archive} is missing; save the kernel again.") from None
    if size != recorded.get("size"):
        raise SaveError(f"{archive} has {size} bytes, but {recorded.get('size')} were saved: "
                         "it is cut short or damaged. Copy it again, or save the kernel again.")
    if wheelhouse.file_hash(archive) != recorded.get("sha256"):
        raise SaveError(f"{archive} is not the file that was saved (its hash differs); copy "
                         "it again, or save the kernel again.")
    return True


def _read_through(archive: Path) -> set[str]:
    """The member names of ``archive``, after reading each member's bytes to the end."""
    try:
        with tarfile.open(archive) as tar:
            names = set()
            for member in tar.getmembers():
                if member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    while handle.read(1 << 20):
                        pass
                names.add(member.name)
    except FileNotFoundError:
        raise SaveError(f"{archive} is missing; save the kernel again.") from None
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        raise SaveError(f"{archive} is damaged or cut short ({exc}); copy it again, or save "
                         "the kernel again.") from None
    return names


def _extract(archive: Path, dest: Path, keep_existing: bool = False) -> None:
    """Unpack ``archive`` into ``dest``; ``keep_existing``: a file already there (the
    user's own, in an adopted project) is never overwritten."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            target = (dest / member.name).resolve()
            if not str(target).startswith(str(dest.resolve())) or member.isdev():
                raise SaveError(f"{archive} holds an unsafe entry ({member.name}), which "
                                "colab_wizard never writes; save the kernel again.")
        if keep_existing:
            members = [m for m in members if not (dest / m.name).exists()]
        tar.extractall(dest, members=members)  # noqa: S202 - every member was checked above


def restore_stages(saved_dir: Path, ws: Workspace, manifest: Manifest) -> list[Stage]:
    """Unpack, rebuild the venv offline, then the plan's kernel, verify and register stages."""
    spec = ws.spec

    adopted = manifest.get("adopted")

    async def unpack(ctx: StageContext) -> str:
        spec.project_dir.mkdir(parents=True, exist_ok=True)
        if adopted is not None:
            # The user's project: its code goes where it lives, never over a file already
            # there; the build below starts from the project files found then.
            _extract(saved_dir / PROJECT_TAR, spec.project_dir, keep_existing=True)
            adoption.record(spec.project_dir, {k: v for k, v in adopted.items()
                                               if k != "root_files"} | {
                                                   "path": str(spec.project_dir)})
        # Into a fresh build beside the live project: a kernel already there keeps working
        # until the restored one has passed pre-flight (see swap.py).
        ws.build = swap.open_build(spec.project_dir, fresh=True)
        if adopted is None:
            _extract(saved_dir / PROJECT_TAR, ws.work_dir)
        relpath = manifest.get("python_relpath")
        if relpath and (saved_dir / PYTHON_TAR).exists():
            target = paths.pythons_dir() / relpath
            if not target.exists():
                ctx.line(f"Unpacking Python into {paths.pythons_dir()} ...")
                paths.pythons_dir().mkdir(parents=True, exist_ok=True)
                _extract(saved_dir / PYTHON_TAR, paths.pythons_dir())
        else:
            found = interpreters.find(spec.python)
            if found is None:
                raise ctx.fail(f"no Python {spec.python} here and none in the saved folder",
                               "Install that version, or save the kernel from a machine "
                               "where the wizard installed Python itself.")
            target = found.path
        ws.record_python(target)
        return f"Python {target}"

    async def install(ctx: StageContext) -> str:
        venv = ws.venv_dir
        entries: list[dict[str, str]] = manifest["wheels"]
        hint = ("Save the kernel again from a machine where it works (or build it with "
                "'create' while the package index is reachable).")
        loop = asyncio.get_running_loop()
        with tempfile.TemporaryDirectory() as tmp:
            await loop.run_in_executor(None, _extract, saved_dir / WHEELS_TAR, Path(tmp))
            wheel_dir = Path(tmp) / "wheels"
            await _uv_from_save(Path(tmp), manifest, ctx)
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text(wheelhouse.requirements_text(entries), encoding="utf-8")
            shutil.rmtree(venv, ignore_errors=True)
            try:
                await install_wheels(ws, venv, requirements, wheel_dir,
                                     {e["name"] for e in entries}, hint, ctx)
            except StageError:
                # The installer checks every hash; when it refuses, say which file changed.
                problem = await loop.run_in_executor(None, wheelhouse.tampered, wheel_dir,
                                                     entries)
                if problem:
                    raise ctx.fail(f"the saved folder {saved_dir} cannot be trusted: {problem}",
                                   hint) from None
                raise
        try:
            found = await lockcheck.survey(ws.venv_python)
        except WizardError as exc:  # the venv's Python could not list its packages
            raise ctx.fail(str(exc), hint) from None
        got = found.versions
        want = {e["name"]: e["version"] for e in entries}
        wrong = sorted(f"{n} {v}" for n, v in got.items()
                       if want.get(n) != v and n not in wheelhouse.SEEDED)
        lacking = sorted(f"{n} {v}" for n, v in want.items() if got.get(n) != v)
        if wrong or lacking:
            raise ctx.fail("the restored venv does not match poetry.lock (missing: "
                           f"{', '.join(lacking) or 'none'}; unexpected: "
                           f"{', '.join(wrong) or 'none'})", hint)
        unmet = found.unmet()
        if unmet:
            raise ctx.fail("the environment is incomplete: " + " ".join(unmet), hint)
        ctx.line(f"Checked {len(got)} distributions: what poetry.lock pins, each one's "
                 "requirements installed")
        if adopted is not None and adopted.get("root_files"):
            # The project itself, installed as it was (editable): import it works again.
            _extract(saved_dir / ROOT_TAR, adoption.site_packages(venv))
            adoption.relocate_root(venv, adopted["root_files"], adopted["path"],
                                   str(spec.project_dir))
        # What the plan's own stages record: a later create finds this venv up to date.
        ws.record_venv()
        ws.record_lock()
        ws.record_install()
        return f"{len(entries)} packages from the saved folder"

    tail = [s for s in plan(spec, ws) if s.key in ("kernel", "verify", "register")]
    return [Stage("unpack", "Unpack the saved kernel", 1, unpack, timeout=600),
            Stage("install", "Install the saved packages", 4, install, timeout=1800), *tail]


async def install_wheels(ws: Workspace, venv: Path, requirements: Path, wheel_dir: Path,
                         names: set[str], hint: str, ctx: StageContext) -> None:
    """A new venv holding exactly ``requirements``, from ``wheel_dir`` only, every file
    checked against its hash: with uv, else virtualenv and pip."""
    if uvtool.ready():
        await ctx.run([str(uvtool.binary()), "venv", "--python", str(ws.interpreter),
                       str(venv)], env=uvtool.env())
        seed = pip_seed(ws.spec.python.short, requirements.with_name("seed.txt"), names)
        await ctx.run(uv_sync_argv(ws.venv_python, requirements, "--offline", "--no-index",
                                   "--find-links", str(wheel_dir), seed=seed),
                      env=uvtool.env(), parser=UvProgress(), hint=hint)
        return
    await ctx.run([sys.executable, "-m", "virtualenv", "--no-periodic-update",
                   "--no-setuptools", "-p", str(ws.interpreter), str(venv)],
                  hint="The host Python needs the 'virtualenv' package.")
    await ctx.run([str(bin_dir(venv) / "python"), "-m", "pip", "--isolated", "install",
                   "--no-index", "--no-deps", "--no-compile", "--require-hashes",
                   "--find-links", str(wheel_dir), "-r", str(requirements)], hint=hint)


async def _uv_from_save(unpacked: Path, manifest: Manifest, ctx: StageContext) -> None:
    """A fresh VM has no uv: unpack the one the saved folder carries (hash-checked)."""
    entry = manifest.get("uv")
    if uvtool.ready() or not entry or not uvtool.wanted():
        return
    wheel = unpacked / "tools" / entry["wheel"]
    if not wheel.is_file() or wheelhouse.file_hash(wheel) != entry["sha256"]:
        ctx.line(f"The saved {entry['wheel']} is missing or changed; installing with pip.")
        return
    await asyncio.get_running_loop().run_in_executor(None, uvtool.install_wheel, wheel)
    ctx.line(f"Unpacked uv from the saved {entry['wheel']}")


def check_manifest(saved_dir: Path, manifest: Manifest) -> None:
    """The saved wheels are what the saved poetry.lock pins, before anything is touched."""
    with tarfile.open(saved_dir / PROJECT_TAR) as tar:
        try:
            member = tar.extractfile("poetry.lock")
        except KeyError:
            member = None
        if member is None:
            raise SaveError(f"{saved_dir / PROJECT_TAR} holds no poetry.lock; save the kernel "
                            "again.")
        data = member.read()
    if "sha256:" + hashlib.sha256(data).hexdigest() != manifest.get("lock_sha256"):
        raise SaveError(f"The poetry.lock in {saved_dir / PROJECT_TAR} is not the one the "
                         "wheels were saved for; save the kernel again.")
    problems = wheelhouse.check_against_lock(manifest.get("wheels", []),
                                             data.decode("utf-8"))
    if problems:
        raise SaveError(f"The saved folder {saved_dir} does not match its poetry.lock: "
                         + "; ".join(problems) + ". Save the kernel again.")


def restore_runner(
    folder: Union[str, Path],
    name: Optional[str] = None,
    project_dir: Union[str, Path, None] = None,
    listeners: Iterable[Listener] = (),
    profile: Optional[colab.ProfileChoice] = None,
) -> tuple[EnvSpec, Runner, Workspace]:
    """The spec, runner and workspace that rebuild a saved kernel (validated, not started)."""
    saved_dir = find_saved(folder, name)
    manifest = read_manifest(saved_dir)
    check_archives(saved_dir, manifest)
    check_manifest(saved_dir, manifest)
    if manifest.get("adopted"):
        spec = adoption.restore_spec(manifest, project_dir)
    else:
        spec = api.make_spec(manifest["python"], manifest["dependencies"], manifest["name"],
                             manifest["display_name"], project_dir, manifest.get("index_url"))
    # A manifest saved before "none" was written holds null for it.
    chosen = profile if profile is not None else (manifest.get("profile") or colab.NONE)
    ws = Workspace(spec, profile=colab.choose_profile(chosen))
    runner = Runner(restore_stages(saved_dir, ws, manifest), paths.new_log_path(spec.name),
                    listeners)
    return spec, runner, ws


async def restore_async(
    folder: Union[str, Path],
    name: Optional[str] = None,
    project_dir: Union[str, Path, None] = None,
    listeners: Iterable[Listener] = (),
    profile: Optional[colab.ProfileChoice] = None,
) -> api.Created:
    """Rebuild a saved kernel from ``folder`` without the package index."""
    _, runner, ws = restore_runner(folder, name, project_dir, listeners, profile)
    return await api.run_plan(runner, ws)


def default_folder() -> Path:
    """Where the panel saves and looks for caches: Drive when mounted, else the data dir."""
    return colab.default_save_dir() or paths.data_dir() / "saved"


restore = blocking(restore_async)
