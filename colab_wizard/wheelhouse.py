"""A wheel for every package a kernel's venv holds, as poetry.lock pins it, hash-checked.

``save`` gathers them so that a restore can install offline: from Poetry's
artifact cache when a wheel is there, else with pip (``pip wheel``, run by the
venv's own Python so that the right wheel for its version and platform is
chosen), which downloads a wheel, or builds one from the sdist, each checked
against the hashes in the lock. A package that cannot be had is an error
naming it: a saved folder is complete or it is not written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import lockcheck, pyproject
from .errors import SaveError
from .files import sha256_of
from .procenv import clean_env

# Present in a venv without being pinned: what a venv creator seeds (poetry sync keeps pip).
SEEDED = frozenset({"pip", "setuptools", "wheel"})

@dataclass(frozen=True)
class Wheel:
    name: str  # canonical
    version: str
    filename: str
    sha256: str  # "sha256:<hex>"
    # "lock" when poetry.lock lists this very file, "built" when pip built it from the
    # locked (hash-checked) sdist.
    origin: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "wheel": self.filename,
                "sha256": self.sha256, "origin": self.origin}


def file_hash(path: Path) -> str:
    """``sha256:<hex>``, the form poetry.lock and pip's ``--hash`` write."""
    return "sha256:" + sha256_of(path)


def _read_only(text: str) -> Mapping[str, Any]:
    """TOML to read, not to edit: tomllib where there is one (ten times tomlkit's speed
    on a data-science poetry.lock), else tomlkit; invalid TOML gets tomlkit's sentence."""
    try:
        import tomllib
    except ImportError:  # Python 3.9 and 3.10
        return pyproject.parse(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return pyproject.parse(text)


def locked(lock_text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """{canonical name: (version, {file name: "sha256:..."})} from a poetry.lock."""
    doc = _read_only(lock_text)
    result: dict[str, tuple[str, dict[str, str]]] = {}
    for package in doc.get("package", []):
        files = {str(f["file"]): str(f["hash"]) for f in package.get("files", [])}
        result[canonicalize_name(str(package["name"]))] = (str(package["version"]), files)
    return result


def installed(venv_python: Path) -> dict[str, str]:
    """{canonical name: version} of every distribution in the venv of ``venv_python``."""
    if not venv_python.exists():
        raise SaveError(f"the kernel's venv ({venv_python.parent.parent}) is missing; "
                              "build the kernel again (create, or the panel's Build).")
    done = subprocess.run(lockcheck.survey_argv(venv_python), capture_output=True,
                          text=True, env=clean_env(), timeout=120)
    if done.returncode != 0:
        raise SaveError(f"{venv_python} could not list its packages "
                        f"({done.stderr.strip()[-300:]}); build the kernel again (create, or "
                        "the panel's Build), then save.")
    return lockcheck.read_survey(done.stdout).versions


def wanted(venv_python: Path, lock_text: str, own: Optional[str] = None) -> dict[str, str]:
    """What the venv holds of the lock; a package at another version than the lock's is
    an error (the venv no longer matches the project). ``own``: the project's own package
    (an adopted project in package mode), which comes from its folder, not the lock."""
    pins = locked(lock_text)
    result: dict[str, str] = {}
    stray = []
    skip = canonicalize_name(own) if own else None
    for name, version in sorted(installed(venv_python).items()):
        if name == skip:
            continue
        pin = pins.get(name)
        if pin is None:
            if name not in SEEDED:
                stray.append(f"{name} {version} (not in poetry.lock)")
        elif pin[0] != version:
            stray.append(f"{name} {version} (poetry.lock pins {pin[0]})")
        else:
            result[name] = version
    if stray:
        raise SaveError(
            f"the kernel's venv does not match poetry.lock: {', '.join(stray)}. Build the "
            "kernel again (create, or the panel's Build) so that it does, then save.")
    return result


def _cached(poetry_cache: Path, pins: dict[str, tuple[str, dict[str, str]]],
            wanted_names: Mapping[str, str]) -> dict[str, Path]:
    """{name: wheel} found in Poetry's artifact cache, each matching its lock hash."""
    found: dict[str, Path] = {}
    for wheel in sorted(poetry_cache.glob("artifacts/**/*.whl")):
        try:
            name, version, _, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        key = canonicalize_name(name)
        if key in found or wanted_names.get(key) != str(version):
            continue
        if pins[key][1].get(wheel.name) == file_hash(wheel):
            found[key] = wheel
    return found


def pip_wheel_argv(venv_python: Path, requirements: Path, dest: Path) -> list[str]:
    """``pip wheel`` run by the venv's Python (its tags pick the files), from virtualenv's
    bundled pip wheel: the venv itself holds no pip."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    version = subprocess.run(
        [str(venv_python), "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, env=clean_env(), timeout=60).stdout.strip()
    pip = get_embed_wheel("pip", version)
    if pip is None:
        raise SaveError(f"virtualenv carries no pip for Python {version}; upgrade it "
                        "(pip install -U virtualenv), then save again.")
    return [str(venv_python), str(Path(pip.path) / "pip"), "wheel", "--no-deps",
            "--require-hashes", "--no-input", "--disable-pip-version-check",
            "-r", str(requirements), "-w", str(dest)]


def gather(venv_python: Path, lock_text: str, dest: Path, poetry_cache: Optional[Path],
           pip_env: Mapping[str, str], own: Optional[str] = None) -> list[Wheel]:
    """Put a wheel for every locked package of the venv into ``dest``; raise
    SaveError naming what cannot be had."""
    pins = locked(lock_text)
    names = wanted(venv_python, lock_text, own)
    dest.mkdir(parents=True, exist_ok=True)
    chosen = _copy_cached(poetry_cache, pins, names, dest)
    missing = sorted(set(names) - set(chosen))
    if missing:
        chosen.update(_pip_wheels(venv_python, pins, {n: names[n] for n in missing}, dest,
                                  pip_env))
    lacking = sorted(set(names) - set(chosen))
    if lacking:
        raise SaveError(f"no wheel could be had for {', '.join(lacking)}; check that the "
                        "package index answers, then save again.")
    return [_described(name, names[name], path, pins[name][1])
            for name, path in sorted(chosen.items())]


def _copy_cached(poetry_cache: Optional[Path], pins: dict[str, tuple[str, dict[str, str]]],
                 names: Mapping[str, str], dest: Path) -> dict[str, Path]:
    """{name: wheel copied into ``dest``} for what Poetry's artifact cache holds, as locked."""
    chosen: dict[str, Path] = {}
    if poetry_cache is not None and poetry_cache.is_dir():
        for name, path in _cached(poetry_cache, pins, names).items():
            shutil.copyfile(path, dest / path.name)
            chosen[name] = dest / path.name
    return chosen


def _pip_wheels(venv_python: Path, pins: dict[str, tuple[str, dict[str, str]]],
                missing: Mapping[str, str], dest: Path, pip_env: Mapping[str, str]
                ) -> dict[str, Path]:
    """{name: wheel moved into ``dest``} for ``missing`` ({name: version}), downloaded or
    built by pip, each checked against the lock's hashes."""
    unhashed = [n for n in missing if not pins[n][1]]
    if unhashed:
        raise SaveError(
            f"poetry.lock lists no files for {', '.join(unhashed)} (a git, path or URL "
            "dependency), so no hash-checked wheel can be saved for it; depend on a released "
            "version from the index to save this kernel.")
    chosen: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(
            f"{n}=={v} " + " ".join(f"--hash={h}" for h in pins[n][1].values()) + "\n"
            for n, v in missing.items()), encoding="utf-8")
        built = Path(tmp) / "wheels"
        _pip_wheel(venv_python, requirements, built, pip_env, missing)
        for wheel in built.glob("*.whl"):
            key = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            if key in missing and key not in chosen:
                shutil.move(str(wheel), dest / wheel.name)
                chosen[key] = dest / wheel.name
    return chosen


def _pip_wheel(venv_python: Path, requirements: Path, built: Path,
               pip_env: Mapping[str, str], missing: Iterable[str]) -> None:
    """Run ``pip wheel`` for ``requirements`` into ``built``; its last words if it fails."""
    done = subprocess.run(pip_wheel_argv(venv_python, requirements, built),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=clean_env({**pip_env, "PIP_CONFIG_FILE": os.devnull}),
                          timeout=3600)
    if done.returncode != 0:
        lines = [x for x in (done.stdout + done.stderr).splitlines() if x.strip()]
        raise SaveError(
            f"no wheel could be had for {', '.join(missing)} ({' '.join(lines[-4:])}); check "
            "that the package index answers, then save again.")


def _described(name: str, version: str, path: Path, locked_files: Mapping[str, str]) -> Wheel:
    """The saved wheel's entry; one the lock lists by name must carry the lock's hash."""
    digest = file_hash(path)
    origin = "lock" if locked_files.get(path.name) == digest else "built"
    if origin == "built" and path.name in locked_files:
        raise SaveError(f"{path.name} does not match the hash poetry.lock records; build the "
                        "kernel again (create, or the panel's Build), then save.")
    return Wheel(name, version, path.name, digest, origin)


def check_against_lock(entries: list[dict[str, str]], lock_text: str) -> list[str]:
    """Sentences for each saved wheel the lock disagrees with (version, or file hash)."""
    pins = locked(lock_text)
    problems = []
    for entry in entries:
        pin = pins.get(entry["name"])
        if pin is None:
            problems.append(f"{entry['wheel']} is not in poetry.lock")
        elif pin[0] != entry["version"]:
            problems.append(f"{entry['wheel']} is version {entry['version']}, "
                            f"poetry.lock pins {pin[0]}")
        elif entry["origin"] == "lock" and pin[1].get(entry["wheel"]) != entry["sha256"]:
            problems.append(f"{entry['wheel']} has another hash than poetry.lock records")
    return problems


def tampered(folder: Path, entries: list[dict[str, str]]) -> Optional[str]:
    """The first wheel in ``folder`` whose content is not what was saved (or is missing)."""
    for entry in entries:
        path = folder / entry["wheel"]
        if not path.is_file():
            return f"{entry['wheel']} is missing"
        if file_hash(path) != entry["sha256"]:
            return f"{entry['wheel']} does not match the sha256 recorded when it was saved"
    return None


def requirements_text(entries: list[dict[str, str]]) -> str:
    """Pins with the saved hashes, for an offline, hash-checked install of the saved wheels."""
    return "".join(f"{e['name']}=={e['version']} --hash={e['sha256']}\n" for e in entries)
