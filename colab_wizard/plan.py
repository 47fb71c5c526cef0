"""The plan: from an EnvSpec to the ordered stages that build and register a kernel.

Each stage is a plain coroutine with a sentence saying what it does, plus an
``is_done`` check that reads fingerprints kept in the project's state file, so
an unchanged re-run skips everything and a changed dependency redoes only
lock, install and what follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Iterable, Optional
from urllib.parse import quote

from . import (
    adoption,
    catalog,
    colab,
    diagnose,
    download,
    files,
    index,
    interpreters,
    kernels,
    paths,
    pyproject,
    settings,
    swap,
    uvtool,
    wheelhouse,
)
from .errors import StageError
from .progress import PipProgress, PoetryInstallProgress, UvProgress
from .runner import Stage, StageContext
from .spec import EnvSpec

POETRY_REQUIREMENT = "poetry>=2,<3"
# Poetry's own exporter turns poetry.lock into the pinned, hash-checked list uv installs.
EXPORT_REQUIREMENT = "poetry-plugin-export>=1.8"
POETRY_REQUIREMENTS = (POETRY_REQUIREMENT, EXPORT_REQUIREMENT)
STATE_DIR = swap.STATE_DIR


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    try:
        return files.sha256_of(path)
    except OSError:
        return ""  # no file yet: a fingerprint that matches none


def bin_dir(env_dir: Path) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin")


@dataclass
class Workspace:
    """Every path a plan touches, derived once from the spec, and the state between runs.

    The stages work in ``work_dir``: the live project while nothing needs to change (so an
    unchanged re-run only reads), else a build folder beside it (see :mod:`.swap`) that the
    register stage swaps in once the kernel has passed pre-flight.
    """

    spec: EnvSpec
    interpreter: Optional[Path] = None
    # Colab kernel profile (colab.FULL / colab.PLAIN), or colab.NONE for a plain Jupyter host.
    profile: colab.Profile = colab.NONE
    # The user's own project, edited in place instead of written from the spec (adoption.py).
    adopted: Optional[adoption.Adoption] = None
    # The *full* profile's requirements, derived once per run (it imports on the host).
    _full_requirements: Optional[list[str]] = field(default=None, repr=False, compare=False)
    _full_key: Optional[str] = field(default=None, repr=False, compare=False)
    # The build folder this run works in; None while it only checks the live project.
    build: Optional[Path] = None

    @property
    def project_dir(self) -> Path:
        return self.spec.project_dir

    @property
    def work_dir(self) -> Path:
        return self.build if self.build is not None else self.project_dir

    @property
    def pyproject(self) -> Path:
        return self.work_dir / "pyproject.toml"

    @property
    def lock_file(self) -> Path:
        return self.work_dir / "poetry.lock"

    @property
    def venv_dir(self) -> Path:
        return self.work_dir / ".venv"

    @property
    def venv_python(self) -> Path:
        return bin_dir(self.venv_dir) / "python"

    @property
    def live_venv_python(self) -> Path:
        """What the registered kernel runs: through the ``.venv`` link, so it follows swaps."""
        return bin_dir(self.project_dir / ".venv") / "python"

    @property
    def state_path(self) -> Path:
        return self.work_dir / STATE_DIR / "state.json"

    @property
    def staged_kernel(self) -> Path:
        return self.work_dir / STATE_DIR / "kernel" / self.spec.name

    @property
    def poetry_env(self) -> Path:
        # Resolved: the scripts' #! lines name this path, so it must not go through a
        # symlink that may later point elsewhere or vanish.
        return paths.tools_dir().resolve() / "poetry"

    @property
    def poetry(self) -> Path:
        return bin_dir(self.poetry_env) / "poetry"

    @property
    def requirements(self) -> Path:
        """poetry.lock exported: exactly what it pins for this project, with hashes."""
        return self.work_dir / STATE_DIR / "requirements.txt"

    def load_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_state(self, **values: Any) -> None:
        state = self.load_state()
        state.update(values)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(self.state_path, json.dumps(state, indent=1, sort_keys=True))

    def poetry_argv(self, *args: str) -> list[str]:
        return [str(self.poetry), "--no-ansi", "--no-interaction", *args]

    def poetry_env_vars(self) -> dict[str, str]:
        values = {
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            # A desktop keyring can hang a headless install waiting for an unlock prompt.
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        auth = self.spec.index_auth
        if auth is not None:
            suffix = index.env_suffix(pyproject.SOURCE_NAME)
            values[f"POETRY_HTTP_BASIC_{suffix}_USERNAME"] = auth[0]
            values[f"POETRY_HTTP_BASIC_{suffix}_PASSWORD"] = auth[1]
        return values

    def uv_env_vars(self) -> dict[str, str]:
        return uvtool.env(self.spec.index_url, self.spec.index_auth)

    def pip_env_vars(self) -> dict[str, str]:
        """pip takes the index (credentials included) from its environment, not its argv."""
        url = self.spec.index_url
        auth = self.spec.index_auth
        if auth is not None:
            scheme, rest = url.split("://", 1)
            user, password = (quote(part, safe="") for part in auth)
            url = f"{scheme}://{user}:{password}@{rest}"
        return {"PIP_INDEX_URL": url}

    def wanted_pyproject(self) -> str:
        current = self.pyproject.read_text(encoding="utf-8") if self.pyproject.exists() else ""
        if self.adopted is not None:
            return adoption.wanted_pyproject(current, self.spec.index_url, self.colab_group(),
                                             self.spec.python.short)
        text = pyproject.update(current, self.spec)
        return pyproject.set_group(text, "colab", self.colab_group())

    def colab_group(self) -> list[str]:
        """What the kernel needs for the host's IPython config (profile *full*), else none."""
        return self.full_requirements() if self.profile == colab.FULL else []

    def full_requirements(self) -> list[str]:
        """The *full* profile's requirements: derived on the host once, then reused while
        the host's packages, the Python and the index stay the same."""
        if self._full_requirements is None:
            from packaging.requirements import Requirement

            python = self.spec.python
            skip = sorted(Requirement(d).name for d in self.spec.dependencies)
            key = _digest(colab.host_fingerprint(), str(python), self.spec.index_url, *skip)
            saved = self.load_state().get("full_requirements")
            if isinstance(saved, dict) and saved.get("key") == key:
                self._full_requirements = list(saved["value"])
            else:
                self._full_requirements = colab.full_requirements(
                    python.minor, self.spec.index_url, skip=skip, auth=self.spec.index_auth,
                    free_threaded=python.free_threaded)
                self._full_key = key
        return self._full_requirements

    def keep_full_requirements(self) -> None:
        """Remember freshly derived requirements for the next run (see full_requirements)."""
        if self._full_key is not None and self._full_requirements is not None:
            self.save_state(full_requirements={"key": self._full_key,
                                               "value": self._full_requirements})

    def _fallback_key(self) -> str:
        # A changed host config (another kernel class or extension) is worth a new try.
        return _digest(str(self.profile), _file_digest(self.lock_file),
                       *colab.demanded_modules())

    def record_fallback(self, reason: str) -> None:
        """*full* failed pre-flight on this lock and host config: *plain* from now on."""
        self.save_state(profile_fallback=self._fallback_key(), profile_fallback_reason=reason)

    def effective_profile(self) -> colab.Profile:
        """The requested profile, or *plain* when *full* failed pre-flight on this lock."""
        if self.profile == colab.FULL and self.load_state().get(
                "profile_fallback") == self._fallback_key():
            return colab.PLAIN
        return self.profile

    def fallback_notice(self) -> Optional[str]:
        """One sentence saying why the kernel has profile *plain* instead of *full*."""
        if self.profile != colab.FULL or self.effective_profile() != colab.PLAIN:
            return None
        return str(self.load_state().get("profile_fallback_reason") or colab.fallback_reason(()))

    def kernel_spec(self, live: bool = False) -> dict[str, Any]:
        """The kernelspec for the venv worked on (pre-flight), or with ``live`` the one to
        register, which names the project's ``.venv`` link."""
        profile = self.effective_profile()
        python = self.live_venv_python if live else self.venv_python
        extra_argv, env, launcher = colab.kernel_extras(profile, python.parent.parent)
        spec = kernels.kernel_json(
            self.spec.name, self.spec.display_name, python, self.project_dir,
            str(self.spec.python), extra_argv, env, launcher,
        )
        if profile != colab.NONE:  # no mark for none, as kernels made before said so
            spec["metadata"][kernels.MARK]["profile"] = profile
        return spec

    def verify_fingerprint(self, live: bool = False) -> str:
        spec_text = json.dumps(self.kernel_spec(live), sort_keys=True)
        # What the host's IPython config makes every kernel import is part of "does it start".
        return _digest(spec_text, _file_digest(self.lock_file), *self.spec.dependencies,
                       *colab.demanded_modules())

    def install_fingerprint(self, live: bool = False) -> str:
        venv = self.live_venv_python if live else self.venv_python
        return _digest(_file_digest(self.lock_file), str(venv))

    def lock_fingerprint(self) -> str:
        """poetry.lock was resolved for exactly this pyproject.toml."""
        return _file_digest(self.pyproject)

    def export_fingerprint(self) -> str:
        """The exported requirements are those of exactly this poetry.lock."""
        return _digest(_file_digest(self.lock_file), _file_digest(self.requirements))

    # -- what each stage records when done, and the checks that read it back -----------
    # The stages, their *_ready checks and a restore (freshvm.py) all go through these, so
    # a change to a fingerprint reaches every one of them.

    def record_python(self, interpreter: Path) -> None:
        self.interpreter = interpreter
        self.save_state(python=str(interpreter), python_request=str(self.spec.python))

    def recorded_python(self) -> Optional[Path]:
        """The interpreter recorded for this spec's Python request, if it still exists."""
        state = self.load_state()
        path = state.get("python")
        if state.get("python_request") == str(self.spec.python) and path and Path(
                path).exists():
            return Path(path)
        return None

    def record_venv(self) -> None:
        self.save_state(venv_for=str(self.interpreter), installing=False)

    def venv_current(self) -> bool:
        """The venv exists, was made on this workspace's interpreter, and no install into it
        was cut short."""
        state = self.load_state()
        return (self.venv_python.exists() and state.get("venv_for") == str(self.interpreter)
                and not state.get("installing"))

    def record_install_started(self) -> None:
        # An installer stopped half-way (Cancel, a kill) can leave a package's metadata
        # without its files: uv, killed while it links a wheel, leaves a dist-info without
        # the module, and its next sync counts the package as installed (seen: six). So the
        # venv counts as current again only once it has been made anew (record_venv).
        self.save_state(installing=True, install=None)

    def install_cut_short(self) -> bool:
        return bool(self.load_state().get("installing"))

    def record_lock(self) -> None:
        self.save_state(lock=self.lock_fingerprint(), exported=self.export_fingerprint())

    def lock_current(self, exported: bool) -> bool:
        """poetry.lock matches pyproject.toml (and, with ``exported``, so does its export)."""
        state = self.load_state()
        if not (self.lock_file.exists() and state.get("lock") == self.lock_fingerprint()):
            return False
        return not exported or state.get("exported") == self.export_fingerprint()

    def record_install(self) -> None:
        self.save_state(install=self.install_fingerprint(), installing=False)

    def install_current(self) -> bool:
        return self.venv_python.exists() and (
            self.load_state().get("install") == self.install_fingerprint())

    def record_verified(self) -> None:
        self.save_state(verify=self.verify_fingerprint())

    def verified(self) -> bool:
        return self.load_state().get("verify") == self.verify_fingerprint()

    def live_state(self) -> dict[str, Any]:
        """The build's state as the live project's after the swap (fingerprints on live paths)."""
        return {**self.load_state(), "install": self.install_fingerprint(live=True),
                "verify": self.verify_fingerprint(live=True)}


# -- stage actions: one sentence each -------------------------------------------------


async def find_python(ws: Workspace, ctx: StageContext) -> str:
    """Find a local CPython of the requested version, else download a standalone build."""
    ctx.line(f"Looking for Python {ws.spec.python} on this machine ...")
    found = await asyncio.get_running_loop().run_in_executor(
        None, interpreters.find, ws.spec.python
    )
    if found is None:
        found = await _download_beside_tools(ws, ctx)
    ws.record_python(found.path)
    ctx.line(f"Using {found.path} (Python {found.label})")
    return f"Python {found.label}"


async def _download_beside_tools(ws: Workspace, ctx: StageContext
                                 ) -> interpreters.Interpreter:
    """Download Python while Poetry's tool environment installs: neither needs the other,
    and on a fresh VM both take seconds. The poetry stage then finds its work done (or,
    if the install beside failed, tries again and reports it as its own)."""
    tools = None if poetry_ready(ws) else asyncio.ensure_future(
        install_poetry(ws, ctx, progress=False))
    try:
        found = await _download_python(ws, ctx)
        if tools is not None:
            try:
                await tools
            except StageError as error:
                ctx.line(f"Installing Poetry beside the download failed ({error.message}); "
                         "the next stage tries again.")
    finally:
        if tools is not None and not tools.done():
            tools.cancel()
            await asyncio.gather(tools, return_exceptions=True)
    return found


async def _download_python(ws: Workspace, ctx: StageContext) -> interpreters.Interpreter:
    """Download, verify and unpack a python-build-standalone build (see download.py)."""
    build = catalog.best(ws.spec.python)
    if build is None and not catalog.table():
        raise ctx.fail(
            f"no Python {ws.spec.python} was found on this machine, and the list of "
            "downloadable builds is missing",
            "Install the 'pbs-installer' package (it needs Python 3.10 or later), or install "
            "that Python yourself (for example with pyenv or uv).",
        )
    if build is None:
        raise ctx.fail(
            f"no Python {ws.spec.python} was found on this machine, and no download of it "
            "is listed for this platform",
            "Choose another version (python -m colab_wizard pythons lists them), or install "
            "it yourself (for example with pyenv or uv).",
        )
    mirror = download.mirror()
    ctx.line(f"Not found locally: installing Python {build.label} from "
             f"{build.url_from(mirror)} (cache: {download.cache_dir()})")
    ctx.progress(0, None, "bytes")
    try:
        path = await download.install_async(
            build, lambda done, total: ctx.progress(done, total, "bytes"), mirror
        )
    except download.DownloadError as exc:
        raise ctx.fail(exc.message, exc.hint) from None
    got = interpreters.probe(path)
    if got is None or not ws.spec.python.matches(got.version, got.free_threaded):
        raise ctx.fail(f"the downloaded {path} does not report Python {ws.spec.python}",
                       "Remove it from " + str(paths.pythons_dir()) + " and retry.")
    return got


def python_known(ws: Workspace) -> bool:
    found = ws.recorded_python()
    if found is not None:
        ws.interpreter = found
    return found is not None


def tools_mark(installer: str) -> str:
    """What the tool environment's completion mark holds: what it was built with and how."""
    return " ".join(POETRY_REQUIREMENTS) + f"\ninstaller: {installer}\n"


async def get_uv(ws: Workspace, ctx: StageContext) -> bool:
    """Fetch uv into the tools folder unless it is there; False when it cannot be had."""
    if uvtool.ready():
        return True
    if not uvtool.wanted():
        return False
    ctx.line(f"Fetching uv from {ws.spec.index_url} ...")
    try:
        name = await asyncio.get_running_loop().run_in_executor(
            None, uvtool.fetch, ws.spec.index_url, ws.spec.index_auth)
    except download.DownloadError as exc:
        ctx.line(f"uv is not available ({exc}); installing with virtualenv and pip instead.")
        return False
    ctx.line(f"Unpacked {name} into {uvtool.home()}")
    return True


async def install_poetry(ws: Workspace, ctx: StageContext, progress: bool = True) -> str:
    """Put Poetry (and its export plugin) in its own tool environment, with uv if it can be
    had, else with virtualenv and pip (never the host's venv module). Without ``progress``
    (beside a download that owns the stage's bar) it reports lines only."""
    async with files.FileLock(ws.poetry_env.parent / ".poetry.lock"):
        if poetry_ready(ws):
            return "another run installed it"
        if ws.poetry_env.exists():
            # Half-built, or its interpreter is gone (moved, or its Python removed): an
            # installer would keep the stale scripts, so start again from nothing.
            ctx.line(f"Removing the unusable tool environment {ws.poetry_env}")
            shutil.rmtree(ws.poetry_env)
        hint = f"Check that the package index {ws.spec.index_url} can be reached."
        env_python = str(bin_dir(ws.poetry_env) / "python")
        if await get_uv(ws, ctx):
            installer = "uv"
            await ctx.run([str(uvtool.binary()), "venv", "--python", sys.executable,
                           str(ws.poetry_env)], env=ws.uv_env_vars())
            # Not byte-compiled: compiling all 50-odd packages cost more (3 s of CPU here)
            # than Python compiling, on first import, the modules Poetry uses (1-2 s).
            await ctx.run([str(uvtool.binary()), "pip", "install",
                           "--python", env_python, *POETRY_REQUIREMENTS],
                          env=ws.uv_env_vars(), parser=UvProgress() if progress else None,
                          hint=hint)
        else:
            installer = "pip"
            await ctx.run(
                [sys.executable, "-m", "virtualenv", "--no-periodic-update", str(ws.poetry_env)],
                hint="The host Python needs the 'virtualenv' package: pip install virtualenv.",
            )
            await ctx.run([env_python, "-m", "pip", "install", *POETRY_REQUIREMENTS],
                          env=ws.pip_env_vars(), parser=PipProgress() if progress else None,
                          hint=hint)
        await ctx.run([str(ws.poetry), "--version"])
        files.mark_done(ws.poetry_env, tools_mark(installer))
    return f"installed with {installer}"


def _script_interpreter(script: Path) -> Optional[Path]:
    """The interpreter a console script's ``#!`` line names, if it has one."""
    try:
        with open(script, "rb") as handle:
            first, second = handle.readline(4096), handle.readline(4096)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode("utf-8", "replace").split()
    if parts == ["/bin/sh"]:
        # pip's trampoline for long paths: a second line exec's "/path/to/python" "$0" "$@"
        found = re.search(rb"exec' \"([^\"]+)\"", second)
        return Path(found.group(1).decode("utf-8", "replace")) if found else None
    return Path(parts[0]) if parts else None


def poetry_ready(ws: Workspace) -> bool:
    mark = files.done_note(ws.poetry_env)
    if mark is None:
        return False
    # Built by another version (no export plugin), or with pip while uv is now wanted.
    if mark not in (tools_mark("uv"), tools_mark("pip")) or not ws.poetry.exists():
        return False
    if mark == tools_mark("uv") and not uvtool.ready():
        return False
    interpreter = _script_interpreter(ws.poetry)
    return interpreter is not None and interpreter.exists() and (
        bin_dir(ws.poetry_env) / "python"
    ).exists()


async def _to_the_end(work: asyncio.Future[Any]) -> Any:
    """Await a thread's work; a cancel waits for the thread to finish before it counts,
    so no copy goes on writing into a folder the next run starts over in."""
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        raise


async def write_project(ws: Workspace, ctx: StageContext) -> str:
    """Write pyproject.toml and poetry.toml, and make the venv on our Python, in a build
    folder beside the live project (the live one is left as it is until the swap)."""
    if ws.adopted is not None:  # before anything is written: the lock must still fit
        await adoption.check_lock(ws, ctx, ws.adopted.relock)
    await start_build(ws, ctx)
    ws.keep_full_requirements()
    # Short: the panel shows it beside a bar; the paths are in the log and the Done step.
    return f"{ws.project_dir.name}/pyproject.toml and .venv"


async def start_build(ws: Workspace, ctx: StageContext) -> None:
    """Make ``ws`` work in a build folder whose project files and venv match the spec: the
    live venv cloned with hard links when it is on the same Python, else a new one."""
    # The live project's venv, if it is on this Python: a clone of it is the cheap start.
    live_matches = Workspace(ws.spec, interpreter=ws.interpreter).venv_current()
    ws.project_dir.mkdir(parents=True, exist_ok=True)
    if ws.build is None:
        # A swap's WizardError becomes this stage's failure, its sentence as it is (runner.py).
        ws.build = swap.open_build(ws.project_dir)
        ctx.line(f"Building beside the live project, in {ws.build}")
        # Becomes the live state at the swap: the next unchanged run must find its Python.
        assert ws.interpreter is not None
        ws.record_python(ws.interpreter)
    text = ws.wanted_pyproject()
    if not ws.pyproject.exists() or ws.pyproject.read_text(encoding="utf-8") != text:
        ws.pyproject.write_text(text, encoding="utf-8")
        ctx.line(f"Wrote {ws.pyproject}")
    if ws.adopted is not None:
        adoption.write_poetry_toml(ws, ctx)
    else:
        (ws.work_dir / "poetry.toml").write_text(pyproject.POETRY_TOML, encoding="utf-8")
    if ws.venv_current():
        return
    if ws.install_cut_short():
        ctx.line(f"The last install into {ws.venv_dir} was cut short; making the venv again")
    # Ours to replace, even half made (uv refuses to clear what is not yet a venv).
    if ws.venv_dir.is_symlink() or ws.venv_dir.is_file():
        ws.venv_dir.unlink()
    elif ws.venv_dir.exists():
        shutil.rmtree(ws.venv_dir)
    if live_matches:
        ctx.line(f"Copying the live venv as hard links into {ws.venv_dir}")
        await _to_the_end(asyncio.get_running_loop().run_in_executor(
            None, swap.clone_venv, ws.project_dir / ".venv", ws.venv_dir))
    elif uvtool.ready():
        # Poetry finds it as the project's own (.venv, in-project) and uses it as is.
        await ctx.run([str(uvtool.binary()), "venv", "--python", str(ws.interpreter),
                       str(ws.venv_dir)], cwd=ws.work_dir, env=ws.uv_env_vars())
    else:
        await ctx.run(ws.poetry_argv("env", "use", str(ws.interpreter)), cwd=ws.work_dir,
                      env=ws.poetry_env_vars())
    ws.record_venv()


def project_ready(ws: Workspace) -> bool:
    """The live project matches the spec (work on it), or a build from an earlier run does."""
    for build in (None, swap.pending(ws.project_dir)):
        ws.build = build
        try:
            same = ws.pyproject.read_text(encoding="utf-8") == ws.wanted_pyproject()
        except (OSError, ValueError):
            same = False
        if (same and adoption.poetry_toml_ready(ws.work_dir, ws.adopted is not None)
                and ws.venv_current()):
            return True
    ws.build = None
    return False


async def lock(ws: Workspace, ctx: StageContext) -> str:
    """Resolve the dependencies into poetry.lock (unchanged pins stay as they were), and
    export what it pins, with hashes, for uv to install."""
    ctx.progress(0, None)
    if ws.build is None:
        await start_build(ws, ctx)
    if uvtool.ready():
        ws.requirements.parent.mkdir(parents=True, exist_ok=True)
        argv = poetry_batch_argv(ws, ["lock"], export_argv(ws))
    else:
        argv = ws.poetry_argv("lock")
    before = adoption.locked_versions(ws.lock_file)
    if ws.adopted is not None:  # a re-run after the user changed their dependencies
        await adoption.check_lock(ws, ctx, ws.adopted.relock)
    fetching = prefetch_requirements(ws)
    try:
        await alongside(ctx.run(
            argv, cwd=ws.work_dir, env=ws.poetry_env_vars(),
            hint="Check the package names and version pins; a name that does not exist on the "
            f"index ({ws.spec.index_url}) or pins that conflict cannot be resolved.",
        ), prefetch(ws, ctx.beside("prefetch"), fetching) if fetching else None)
    except StageError as error:
        reason = solver_reason(ctx.tail)
        if not explain(error, ws) and reason:
            error.message = f"the dependencies cannot be resolved: {reason}"
        raise
    ws.record_lock()
    if ws.adopted is not None and before:
        return adoption.describe_relock(before, adoption.locked_versions(ws.lock_file), ctx)
    return "poetry.lock written"


async def alongside(main: Awaitable[Any], beside: Optional[Awaitable[Any]]) -> Any:
    """``main``'s result, with ``beside`` run at the same time: awaited to its end when
    ``main`` succeeds (its failure ignored), stopped when ``main`` fails or is cancelled."""
    if beside is None:
        return await main
    work = asyncio.ensure_future(beside)
    try:
        result = await main
    except BaseException:
        work.cancel()
        raise
    finally:
        await _to_the_end(asyncio.gather(work, return_exceptions=True))
    return result


def prefetch_requirements(ws: Workspace) -> list[str]:
    """What the project asks for by name (its dependencies, ipykernel, the colab group), for
    :func:`prefetch`; none for an adopted project (its lock pins what it pins), or without
    uv."""
    if ws.adopted is not None or not uvtool.ready() or ws.interpreter is None:
        return []
    from packaging.requirements import InvalidRequirement, Requirement

    wanted = [*pyproject.dependencies(ws.pyproject.read_text(encoding="utf-8")),
              *ws.colab_group()]
    named = []
    for text in wanted:
        try:
            if Requirement(text).url is None:  # a git or path dependency: the lock's business
                named.append(text)
        except InvalidRequirement:
            continue
    return named


async def prefetch(ws: Workspace, ctx: StageContext, requirements: list[str]) -> None:
    """While Poetry resolves, fill uv's cache with what the lock will most likely pin: uv
    resolves the same names on the same index and downloads and unpacks them (into a
    throwaway folder, as links into its cache). The install then finds them there and
    still checks each one against the hash poetry.lock records (uv checks cached archives;
    it would not re-check a package already installed, so nothing goes into the venv
    here). A failure changes nothing: the install downloads what is missing."""
    scratch = Path(tempfile.mkdtemp(prefix="colab_wizard-prefetch-", dir=_scratch_root()))
    try:
        listed = scratch / "requirements.txt"
        # A file, not argv: a requirement could carry a URL with credentials (ps shows argv).
        listed.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        ctx.line("Downloading the likely packages into uv's cache while Poetry resolves ...")
        # -qq: silent, so no uv error reads as the lock's (a name the index lacks, say).
        await ctx.run([str(uvtool.binary()), "pip", "install", "-qq", "--link-mode",
                       "symlink", "--python", str(ws.interpreter), "--target",
                       str(scratch / "target"), "-r", str(listed)],
                      env=ws.uv_env_vars(), check=False)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, scratch, True)


def _scratch_root() -> Path:
    """Where the throwaway links go: memory (tmpfs) where there is one, since making and
    removing 15 000 links on a busy disk took seconds here (a tenth of that in memory)."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else uvtool.home()


def export_argv(ws: Workspace) -> list[str]:
    """``poetry export`` of what ``poetry sync`` would install: every group not marked
    optional, no extras, without the index URL (uv gets it from its environment)."""
    argv = ["export", "--format", "requirements.txt", "--without-urls",
            "--output", str(ws.requirements)]
    groups = pyproject.install_groups(ws.pyproject.read_text(encoding="utf-8"))
    if groups:
        argv += ["--with", ",".join(groups)]
    return argv


def poetry_batch_argv(ws: Workspace, *commands: list[str]) -> list[str]:
    """Several Poetry commands in one process: Poetry's start-up (about a second) is paid once."""
    argv = [str(bin_dir(ws.poetry_env) / "python"), "-I", "-u",
            str(Path(__file__).parent / "poetry_batch.py")]
    for command in commands:
        argv += ["--", "--no-ansi", "--no-interaction", *command]
    return argv


def explain(error: StageError, ws: Workspace) -> bool:
    """Put the plain-words cause of a failed command (diagnose.py) into ``error``."""
    lines = diagnose.stage_output(error.log_path, error.stage) or list(error.tail)
    finding = diagnose.explain(lines, diagnose.Context(
        ws.spec.python.minor, ws.spec.index_url, tuple(ws.spec.dependencies), ws.lock_file))
    if finding is None:
        return False
    error.message, error.hint = finding.problem, finding.fix
    return True


def explained(action: Any) -> Any:
    """``action`` whose StageError carries the plain-words cause where one is found."""
    async def run(ws: Workspace, ctx: StageContext) -> Any:
        try:
            return await action(ws, ctx)
        except StageError as error:
            explain(error, ws)
            raise

    return run


def solver_reason(lines: Iterable[str]) -> str:
    """Poetry's explanation of a failed resolution ("Because ... version solving failed.")."""
    text = list(lines)
    start = next((i for i, line in enumerate(text) if line.startswith("Because ")), None)
    if start is None:
        return ""
    return " ".join(line.strip() for line in text[start:] if line.strip())


def lock_ready(ws: Workspace) -> bool:
    # Only uv installs from the export; Poetry's own sync reads the lock.
    return ws.lock_current(exported=uvtool.ready())


async def install(ws: Workspace, ctx: StageContext) -> str:
    """Install exactly what poetry.lock says into the project's venv (and nothing else)."""
    hint = f"Check that the package index {ws.spec.index_url} can be reached, then retry."
    if ws.build is None:
        await start_build(ws, ctx)
    root = ws.adopted is not None and ws.adopted.package
    ws.record_install_started()
    try:
        if not uvtool.ready():
            parser = PoetryInstallProgress()
            # The project's own package is not in the build folder, only its files: it is
            # installed below, from the live folder.
            await ctx.run(ws.poetry_argv("sync", *(["--no-root"] if root else [])),
                          cwd=ws.work_dir, env=ws.poetry_env_vars(), parser=parser, hint=hint)
            total = parser.total or 0
        else:
            uv_parser = UvProgress()
            seed = pip_seed(ws.spec.python.short, ws.requirements.with_name("seed.txt"),
                            exported_names(ws.requirements))
            await ctx.run(uv_sync_argv(ws.venv_python, ws.requirements, seed=seed),
                          cwd=ws.work_dir, env=ws.uv_env_vars(), parser=uv_parser, hint=hint)
            total = uv_parser.total or 0
        if root:
            # An adopted package is installed as Poetry would (editable), so the kernel
            # imports the project's own code, from the live folder where that code is (also
            # while building beside it; the export lists the dependencies only).
            await ctx.run(root_install_argv(ws), cwd=ws.project_dir,
                          env=ws.uv_env_vars() if uvtool.ready() else ws.pip_env_vars(),
                          hint=hint)
    except StageError as error:
        explain(error, ws)
        raise
    ws.record_install()
    return f"{total} packages"


def root_install_argv(ws: Workspace) -> list[str]:
    """The adopted project itself, editable, without its dependencies (installed already)."""
    if uvtool.ready():
        return [str(uvtool.binary()), "pip", "install", "--python", str(ws.venv_python),
                "--no-deps", "-e", str(ws.project_dir)]
    return [str(ws.venv_python), "-m", "pip", "install", "--no-deps", "--quiet",
            "--disable-pip-version-check", "-e", str(ws.project_dir)]


def uv_sync_argv(venv_python: Path, requirements: Path, *options: str,
                 seed: Optional[Path] = None) -> list[str]:
    """``uv pip sync``: the venv holds exactly ``requirements`` (and ``seed``) afterwards,
    extraneous packages removed as ``poetry sync`` does, every file checked against its
    hash."""
    files = [requirements] if seed is None else [requirements, seed]
    argv = [str(uvtool.binary()), "pip", "sync", "--python", str(venv_python), *options]
    if all(requirements_hashed(f) for f in files):
        argv.append("--require-hashes")
    # Without it uv still checks every hash given; a git or path dependency has none.
    return [*argv, *map(str, files)]


def pip_seed(python_short: str, dest: Path, pinned: Iterable[str]) -> Optional[Path]:
    """A requirements file for the pip a virtualenv (Poetry's venv maker) would carry, from
    virtualenv's bundled wheel (offline, hash-checked), installed in the same uv run as the
    lock's packages: ``!pip`` and ``%pip`` in the kernel then install into its venv, and
    ``poetry sync`` keeps it. None when the lock pins pip itself or virtualenv has none."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel("pip", python_short)
    if wheel is None or "pip" in pinned:
        return None
    path = Path(wheel.path)
    dest.write_text(f"pip @ {path.as_uri()} --hash={wheelhouse.file_hash(path)}\n",
                    encoding="utf-8")
    return dest


def exported_names(requirements: Path) -> set[str]:
    """The (canonical) names an exported requirements file pins."""
    from packaging.utils import canonicalize_name

    lines = requirements.read_text(encoding="utf-8").splitlines()
    return {canonicalize_name(re.split(r"[\s=;@\[<>!~]", line, maxsplit=1)[0]) for line in lines
            if line and not line[0].isspace() and not line.startswith(("#", "-"))}


def requirements_hashed(requirements: Path) -> bool:
    """Every requirement in the (exported) file carries at least one ``--hash``."""
    text = requirements.read_text(encoding="utf-8").replace("\\\n", " ")
    entries = [line for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "-"))]
    return all("--hash=" in line for line in entries)


def install_ready(ws: Workspace) -> bool:
    return ws.install_current()


async def make_kernel(ws: Workspace, ctx: StageContext) -> str:
    """Check ipykernel in the venv and write the kernelspec to a staging folder."""
    # Found on disk, not imported: the verify stage's kernel start imports it right after
    # (an import here cost half a second of each build and restore).
    version = ipykernel_version(ws.venv_dir)
    if version is None:
        raise ctx.fail(f"ipykernel is not installed in {ws.venv_dir}",
                       "ipykernel should have been installed with the dependencies; retry "
                       "the install.")
    ctx.line(f"ipykernel {version}")
    if ws.effective_profile() == colab.FULL:
        if ws.build is None:
            await start_build(ws, ctx)  # copying google.colab in changes the venv
        for copied in colab.install_full(ws.venv_dir):
            ctx.line(f"Copied {copied}")
    kernels.write_spec(ws.staged_kernel, ws.kernel_spec())
    return "kernelspec written"


def ipykernel_version(venv_dir: Path) -> Optional[str]:
    """The version of the ipykernel installed in ``venv_dir`` (package and metadata both
    there), or None."""
    try:
        site = colab.site_packages(venv_dir)
    except FileNotFoundError:
        return None
    if not (site / "ipykernel" / "__init__.py").is_file():
        return None
    for info in site.glob("ipykernel-*.dist-info"):
        if (info / "METADATA").is_file():
            return info.name[len("ipykernel-"):-len(".dist-info")]
    return None


def kernel_ready(ws: Workspace) -> bool:
    if ws.effective_profile() == colab.FULL and not colab.full_installed(ws.venv_dir):
        return False
    return kernels.read_spec(ws.staged_kernel) == ws.kernel_spec()


def preflight_command(kernel_dir: Path, python_short: str, requirements: Any = ()) -> list[str]:
    """The pre-flight for the kernelspec in ``kernel_dir`` (also used by doctor)."""
    package_dir = str(Path(__file__).resolve().parent)
    # -c with an explicit path: no PYTHONPATH, which the kernel under test would inherit.
    # The package is registered without running its __init__, which imports the whole
    # engine (a third of a second of every build and restore); preflight needs only itself
    # and settings.
    bootstrap = (
        "import sys, types; package = types.ModuleType('colab_wizard'); "
        "package.__path__ = [sys.argv.pop(1)]; sys.modules['colab_wizard'] = package; "
        "from colab_wizard.preflight import main; sys.exit(main())"
    )
    argv = [sys.executable, "-c", bootstrap, package_dir, str(kernel_dir),
            "--python", python_short]
    for requirement in requirements:
        argv += ["--require", requirement]
    return argv


def preflight_argv(ws: Workspace) -> list[str]:
    return preflight_command(ws.staged_kernel, ws.spec.python.short, ws.spec.dependencies)


def preflight_env() -> dict[str, str]:
    """The pre-flight's kernel gets the host's PYTHONPATH back, as a Jupyter server's would."""
    host = os.environ.get("PYTHONPATH")
    return {} if host is None else {settings.KERNEL_PYTHONPATH.name: host}


async def verify(ws: Workspace, ctx: StageContext) -> str:
    """Start the staged kernel once and check its Python and packages (pre-flight)."""
    ctx.progress(0, None)
    hint = ("The kernel could not start or is missing packages; the log shows why. "
            "Nothing was registered.")
    try:
        await ctx.run(preflight_argv(ws), env=preflight_env(), hint=hint)
    except StageError:
        if ws.effective_profile() != colab.FULL:
            raise
        reason = colab.fallback_reason(ctx.tail)
        ctx.line(reason)
        ctx.line("Trying profile 'plain' (the host's kernel class and extensions left out) ...")
        ws.record_fallback(reason)
        kernels.write_spec(ws.staged_kernel, ws.kernel_spec())
        await ctx.run(preflight_argv(ws), env=preflight_env(), hint=hint)
    ws.record_verified()
    if ws.fallback_notice():
        return "kernel started with profile 'plain' instead of 'full'"
    return "kernel started and answered"


def verify_ready(ws: Workspace) -> bool:
    return ws.verified()


async def register(ws: Workspace, ctx: StageContext) -> str:
    """Swap the verified build in and register its kernelspec, as one step (see swap.py)."""
    if ws.build is None:
        target = kernels.register(ws.staged_kernel, ws.spec.name)
    else:
        swap.prepare_final(ws.build, ws.spec.name, ws.kernel_spec(live=True), ws.live_state())
        ctx.line(f"Switching {ws.project_dir / '.venv'} to {ws.venv_dir} ...")
        swap.commit(ws.project_dir, ws.build, ws.spec.name)
        ws.build = None
        target = kernels.user_kernels_dir() / ws.spec.name
    ctx.line(f"Registered kernel '{ws.spec.name}' at {target}")
    return f"registered as '{ws.spec.name}'"


def registered(ws: Workspace) -> bool:
    return ws.build is None and verify_ready(ws) and kernels.is_registered(
        ws.staged_kernel, ws.spec.name)


def plan(spec: EnvSpec, workspace: Optional[Workspace] = None) -> list[Stage]:
    """The stages that turn ``spec`` into a registered, verified kernel."""
    ws = workspace or Workspace(spec)

    def stage(key: str, label: str, weight: float, action: Any, done: Any,
              timeout: float = 1800.0) -> Stage:
        return Stage(key, label, weight, lambda ctx: action(ws, ctx), lambda: done(ws), timeout)

    return [
        stage("python", f"Find Python {spec.python}", 1, find_python, python_known, 1800),
        stage("poetry", "Install Poetry", 3, explained(install_poetry), poetry_ready, 900),
        stage("project", "Write the project", 1, write_project, project_ready, 300),
        stage("lock", "Resolve dependencies", 3, lock, lock_ready),
        stage("install", "Install packages", 6, install, install_ready),
        stage("kernel", "Prepare the kernel", 1, make_kernel, kernel_ready, 120),
        stage("verify", "Start the kernel once", 2, verify, verify_ready, 300),
        stage("register", "Register the kernel", 1, register, registered, 60),
    ]
