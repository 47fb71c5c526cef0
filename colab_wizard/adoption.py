"""Adopt the user's own Poetry project (a folder, or a git repository cloned shallow) as a
kernel's environment.

The project's declared dependencies and its ``poetry.lock`` are the source of
truth. The wizard adds only what a kernel needs: a dependency group of its own
(``colab-wizard``: ipykernel, and on Colab what google.colab needs), a package
source when the index is not PyPI, and ``virtualenvs.in-project`` in
``poetry.toml`` when the user has not set it. Both files are edited in place with
tomlkit, so the user's comments, order and unknown tables stay as they were.

:func:`prepare` reads the project and says what will change, before any file is
written; the plan's project and lock stages then call :func:`write_poetry_toml`
and :func:`check_lock` through the workspace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union

import tomlkit
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from tomlkit.exceptions import TOMLKitError

from . import colab, index, kernels, ownership, paths, pyproject, pythons
from .files import write_atomic
from .spec import EnvSpec, SpecError, check_project_dir, name_from_display_name, parse_python

if TYPE_CHECKING:
    from .plan import Workspace
    from .runner import StageContext

GROUP = "colab-wizard"
CLONE_TIMEOUT = 600.0
# How a git URL looks: a scheme git speaks, or scp-like user@host:path.
_GIT_URL = re.compile(r"^(?:(?:https?|git|ssh|file|git\+ssh)://|[\w.-]+@[\w.-]+:)")


@dataclass(frozen=True)
class Origin:
    """Where an adopted project came from: ``url`` and ``commit`` when cloned by the wizard."""

    path: Path
    url: Optional[str] = None
    commit: Optional[str] = None

    def as_state(self) -> dict[str, str]:
        data = {"path": str(self.path)}
        if self.url:
            data["url"] = self.url
        if self.commit:
            data["commit"] = self.commit
        return data


@dataclass(frozen=True)
class Request:
    """What the user asked to adopt (the arguments of :func:`colab_wizard.adopt`, minus the
    run's listeners), held once so every layer passes it on whole.

    ``source``: a folder, or a git URL cloned into ``project_dir`` (else the projects
    folder), at ``commit`` when given (a restore); ``python`` defaults to the newest one
    the project's requires-python allows; ``relock`` resolves again when poetry.lock no
    longer matches pyproject.toml."""

    source: Union[str, Path]
    python: Optional[str] = None
    name: Optional[str] = None
    display_name: Optional[str] = None
    project_dir: Union[str, Path, None] = None
    index_url: Optional[str] = None
    relock: bool = False
    profile: Optional[colab.ProfileChoice] = None
    commit: Optional[str] = None


@dataclass(frozen=True)
class Adoption:
    """A project read and judged, not yet touched: what the run will build and change."""

    spec: EnvSpec
    origin: Origin
    project_name: str
    requires_python: str
    package: Optional[str]  # the root distribution installed with the project, if any
    relock: bool = False
    changes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        return "\n".join(self.changes)


# -- where the project is ------------------------------------------------------------------


def is_git_url(source: str) -> bool:
    return bool(_GIT_URL.match(source.strip()))


def repo_folder_name(url: str) -> str:
    """``https://host/team/paper-code.git`` -> ``paper-code`` (the clone's folder name)."""
    tail = re.split(r"[/:]", url.strip().rstrip("/"))[-1]
    tail = tail[:-4] if tail.endswith(".git") else tail
    return name_from_display_name(tail)


def _git(args: list[str], cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    # Never a password prompt nobody can answer: fail and say so instead.
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=CLONE_TIMEOUT, check=False, env={**os.environ, **env})


def _git_failure(url: str, result: subprocess.CompletedProcess[str]) -> SpecError:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    reason = lines[-1].strip() if lines else f"git exited with {result.returncode}"
    return SpecError(
        "source",
        f"git could not fetch {url} ({reason}). Check the address and that this machine "
        "can reach it; a private repository needs its credentials set up for git first.",
    )


def clone(url: str, dest: Path, commit: Optional[str] = None) -> str:
    """Clone ``url`` shallow into ``dest`` (at ``commit`` if given); returns the commit id."""
    if shutil.which("git") is None:
        raise SpecError("source", "git is not installed here, so a repository cannot be "
                        "cloned; install git, or give a folder that holds the project.")
    if (dest / ".git").is_dir():
        return _reuse_clone(url, dest, commit)
    if dest.exists() and any(dest.iterdir()):
        raise SpecError("project_dir", f"{dest} already exists and is not a clone of {url}. "
                        "Choose another folder for the clone (--project-dir).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if commit is None:
        steps = [["clone", "--depth", "1", "--quiet", "--", url, str(dest)]]
    else:
        # A commit is fetched by its id (GitHub and git's protocol v2 allow it), shallow.
        steps = [["init", "--quiet", str(dest)],
                 ["-C", str(dest), "remote", "add", "origin", url],
                 ["-C", str(dest), "fetch", "--quiet", "--depth", "1", "origin", commit],
                 ["-C", str(dest), "checkout", "--quiet", "FETCH_HEAD"]]
    for step in steps:
        try:
            result = _git(step)
        except subprocess.TimeoutExpired:
            shutil.rmtree(dest, ignore_errors=True)
            raise SpecError("source", f"git did not finish fetching {url} within "
                            f"{CLONE_TIMEOUT / 60:.0f} minutes. Check the connection, or "
                            "clone it yourself and give the folder.") from None
        if result.returncode != 0:
            shutil.rmtree(dest, ignore_errors=True)  # ours, half made: gone
            raise _git_failure(url, result)
    return _git(["-C", str(dest), "rev-parse", "HEAD"]).stdout.strip()


def _reuse_clone(url: str, dest: Path, commit: Optional[str]) -> str:
    """A folder the wizard cloned before: used again when it is the same repository."""
    remote = _git(["-C", str(dest), "remote", "get-url", "origin"]).stdout.strip()
    if remote != url:
        raise SpecError("project_dir", f"{dest} is a clone of {remote or 'another repository'}"
                        f", not of {url}. Choose another folder for the clone (--project-dir).")
    head = _git(["-C", str(dest), "rev-parse", "HEAD"]).stdout.strip()
    if commit is not None and head != commit:
        raise SpecError("project_dir", f"{dest} holds commit {head[:12]} of {url}, not "
                        f"{commit[:12]}. Choose another folder for the clone (--project-dir).")
    return head


def locate(source: Union[str, Path], project_dir: Union[str, Path, None] = None,
           commit: Optional[str] = None) -> Origin:
    """The project's folder: ``source`` itself, or a shallow clone when it is a git URL."""
    if not isinstance(source, (str, Path)) or not str(source).strip():
        raise SpecError("source", "Give the project's folder or the URL of its git repository.")
    text = str(source).strip()
    if is_git_url(text) and not Path(text).exists():
        if project_dir is not None:
            dest = check_project_dir(Path(project_dir))
        else:
            dest = paths.default_project_dir(repo_folder_name(text))
        return Origin(dest, text, clone(text, dest, commit))
    folder = check_project_dir(Path(text))
    if not folder.is_dir():
        raise SpecError("source", f"{folder} does not exist. Give the folder that holds the "
                        "project's pyproject.toml, or the URL of its git repository.")
    cloned = adopted_origin(folder) or {}
    if cloned.get("url") and (folder / ".git").is_dir():
        # A clone the wizard made, adopted again in place: still from that repository, at
        # the commit it is at now (what a restore cell clones).
        head = _git(["-C", str(folder), "rev-parse", "HEAD"]).stdout.strip()
        return Origin(folder, str(cloned["url"]), head or cloned.get("commit"))
    return Origin(folder)


# -- what the project declares ------------------------------------------------------------


def read_pyproject(folder: Path) -> tomlkit.TOMLDocument:
    path = folder / "pyproject.toml"
    if not path.is_file():
        raise SpecError("source", f"{folder} has no pyproject.toml, so it is not a Poetry "
                        "project; give the folder that holds it (or create a kernel from a "
                        "dependency list instead).")
    try:
        return pyproject.parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError("pyproject", f"{path} cannot be read ({exc}).") from None


def _tool_poetry(doc: Any) -> Any:
    tool = doc.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return poetry if isinstance(poetry, dict) else {}


def project_name(doc: Any, folder: Path) -> str:
    project = doc.get("project")
    for table in (project if isinstance(project, dict) else {}, _tool_poetry(doc)):
        name = table.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return folder.name


def requires_python(doc: Any) -> str:
    """The project's Python constraint as written (PEP 621, else Poetry's ``python`` dep)."""
    project = doc.get("project")
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        return str(project["requires-python"]).strip()
    deps = _tool_poetry(doc).get("dependencies")
    if isinstance(deps, dict) and isinstance(deps.get("python"), str):
        return str(deps["python"]).strip()
    return ""


def package_mode(doc: Any) -> bool:
    """Whether Poetry installs the project itself (its default unless package-mode = false)."""
    return _tool_poetry(doc).get("package-mode", True) is not False


def declared_requirements(doc: Any) -> list[str]:
    """The PEP 621 dependencies that parse as PEP 508 (checked in the kernel by pre-flight)."""
    project = doc.get("project")
    found = []
    for text in (project.get("dependencies", []) if isinstance(project, dict) else []):
        try:
            found.append(str(Requirement(str(text))))
        except InvalidRequirement:
            continue
    return found


def kernel_checks(doc: Any, folder: Path) -> list[str]:
    """What pre-flight checks in the kernel: the PEP 621 dependencies and, in package mode,
    the project itself (so ``import theproject`` is known to work before registering)."""
    requirements = declared_requirements(doc)
    package = project_name(doc, folder) if package_mode(doc) else None
    if package and canonicalize_name(package) not in {
            canonicalize_name(Requirement(r).name) for r in requirements}:
        requirements.append(package)
    return requirements


def _poetry_term(term: str) -> str:
    """One term of a Poetry constraint (``^3.9``, ``~3.10``, ``3.11``) as PEP 440."""
    if term.startswith("^") or (term.startswith("~") and not term.startswith("~=")):
        parts = [int(p) for p in term[1:].strip().split(".") if p.isdigit()]
        if not parts:
            raise InvalidSpecifier(term)
        lower = ".".join(map(str, parts))
        if term.startswith("^"):
            first = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
        else:
            first = min(1, len(parts) - 1)
        upper = parts[:first + 1]
        upper[-1] += 1
        return f">={lower},<{'.'.join(map(str, upper))}"
    if term[0].isdigit():
        return f"=={term}" if "*" in term or term.count(".") >= 2 else f"=={term}.*"
    return term


def constraint_sets(text: str) -> list[SpecifierSet]:
    """Alternatives (Poetry's ``||``) of PEP 440 specifier sets; [] means any version."""
    alternatives = []
    for alternative in text.split("||"):
        terms = [t for t in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", alternative.strip())
                 if t and t != "*"]
        alternatives.append(SpecifierSet(",".join(_poetry_term(t) for t in terms)))
    return alternatives


def allows(constraint: str, version: str) -> bool:
    """Whether a requires-python constraint admits ``version`` (e.g. "3.12.1")."""
    if not constraint:
        return True
    try:
        sets = constraint_sets(constraint)
        parsed = Version(version)
    except (InvalidSpecifier, InvalidVersion, ValueError):
        return True  # Poetry itself will judge a constraint we cannot read
    return any(s.contains(parsed, prereleases=True) for s in sets)


def choose_python(constraint: str, pick: Optional[str] = None,
                  offers: Optional[Iterable[pythons.Offer]] = None) -> str:
    """The user's pick if the project allows it, else the newest version that fits
    (installed here before downloadable)."""
    offered = [o for o in (offers if offers is not None else pythons.available())
               if not o.free_threaded and o.available]
    concrete = {o.label: o.installed or o.download or f"{o.label}.0" for o in offered}
    fitting = sorted((o for o in offered if allows(constraint, concrete[o.label])),
                     key=lambda o: (o.installed is not None, int(o.label.split(".")[1])),
                     reverse=True)
    if pick:
        wanted = parse_python(pick)
        version = str(wanted) if wanted.patch is not None else concrete.get(
            wanted.short, f"{wanted.short}.0")
        if not allows(constraint, version.rstrip("t")):
            best = f" ({fitting[0].label} is the newest here that fits)" if fitting else ""
            raise SpecError(
                "python",
                f"Python {pick} is outside the project's requires-python '{constraint}'"
                f"{best}. Choose a version it allows, or leave the choice to the wizard.")
        return str(wanted)
    if not fitting:
        raise SpecError(
            "python",
            f"No Python that the project's requires-python '{constraint}' allows is installed "
            "here or offered for download (python -m colab_wizard pythons lists them).")
    return fitting[0].label


# -- the wizard's additions ------------------------------------------------------------------


def kernel_requirements(extra: Optional[Sequence[str]], python: Optional[str] = None
                        ) -> list[str]:
    """What the kernel needs beyond the project: its own group, never the main dependencies.
    ``extra``: the *full* profile's requirements (Workspace.colab_group), if any. They are
    exact pins for ``python`` ("3.12"), while the project's requires-python is usually
    wider: each gets a marker for that version, or Poetry could not resolve them for all."""
    extra = [only_for(r, python) for r in extra or ()] if python else list(extra or ())
    names = {canonicalize_name(Requirement(r).name) for r in extra}
    return extra if pyproject.KERNEL_PACKAGE in names else [pyproject.KERNEL_PACKAGE, *extra]


def only_for(requirement: str, python: str) -> str:
    """``requirement`` restricted to Python ``python`` ("3.12") by a marker."""
    req = Requirement(requirement)
    wanted = f'python_version == "{python}"'
    req.marker = Marker(f"({req.marker}) and {wanted}" if req.marker else wanted)
    return str(req)


def needs_source(index_url: str) -> bool:
    """PyPI works with Poetry's own default; any other index is named in the project."""
    return index.normalize_index_url(index_url) != index.PYPI_SIMPLE


def wanted_pyproject(text: str, index_url: str, extra: Optional[Sequence[str]],
                     python: Optional[str] = None) -> str:
    """The user's pyproject.toml plus the wizard's group (and source), edited in place."""
    doc = pyproject.parse(pyproject.set_group(text, GROUP, kernel_requirements(extra, python)))
    group = doc["tool"]["poetry"]["group"][GROUP]["dependencies"]
    if not group.as_string().endswith("\n\n"):
        group.add(tomlkit.nl())  # a blank line before whatever table the user has next
    if needs_source(index_url):
        pyproject.set_source(doc, index_url)
    return tomlkit.dumps(doc)


def wanted_poetry_toml(text: str) -> str:
    """``poetry.toml`` with ``virtualenvs.in-project = true`` unless the user set it."""
    if not text.strip():
        return pyproject.POETRY_TOML
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise SpecError("poetry_toml", f"poetry.toml is not valid TOML: {exc}") from None
    venvs = doc.get("virtualenvs")
    if venvs is None:
        doc["virtualenvs"] = tomlkit.table()
        venvs = doc["virtualenvs"]
    if not isinstance(venvs, dict):
        raise SpecError("poetry_toml", "'virtualenvs' must be a table in poetry.toml.")
    if "in-project" not in venvs:
        venvs["in-project"] = True
    return tomlkit.dumps(doc)


def _group_added(text: str, profile: colab.Profile) -> str:
    # The *full* profile's list is derived on the host during the run (colab.py); named here.
    names = pyproject.KERNEL_PACKAGE + (
        " and what the host's IPython config makes every kernel import" if profile == colab.FULL
        else "")
    if GROUP in (_tool_poetry(pyproject.parse(text)).get("group") or {}):
        return f"pyproject.toml: keep the dependency group '{GROUP}' ({names})."
    return (f"pyproject.toml: add the dependency group '{GROUP}' ({names}); your own "
            "dependencies are not touched.")


def describe_changes(folder: Path, index_url: str, profile: colab.Profile, relock: bool,
                     package: Optional[str], python: str, constraint: str) -> tuple[str, ...]:
    """What the run will change and install, in a few lines (shown before anything is written)."""
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    lines = [f"Python {python}" + (f" (the project asks for '{constraint}')" if constraint
                                  else " (the project does not say which)") + "."]
    lines.append(_group_added(text, profile))
    if needs_source(index_url):
        lines.append(f"pyproject.toml: add the package source '{pyproject.SOURCE_NAME}' "
                     f"({index_url}).")
    poetry_toml = folder / "poetry.toml"
    current = poetry_toml.read_text(encoding="utf-8") if poetry_toml.exists() else ""
    if not current.strip():
        lines.append("poetry.toml: create it with [virtualenvs] in-project = true.")
    elif wanted_poetry_toml(current) != current:
        lines.append("poetry.toml: add [virtualenvs] in-project = true; your settings stay.")
    elif tomlkit.parse(current).get("virtualenvs", {}).get("in-project") is False:
        lines.append("poetry.toml: unchanged (it says in-project = false; the wizard's own "
                     "runs still put the virtualenv in the project).")
    else:
        lines.append("poetry.toml: unchanged.")
    if relock:
        lines.append("poetry.lock: resolved again (--relock).")
    elif (folder / "poetry.lock").exists():
        lines.append("poetry.lock: the locked versions are installed; the new group is added "
                     "to it. If it does not match pyproject.toml, the run stops and asks to "
                     "re-lock.")
    else:
        lines.append("poetry.lock: none yet; Poetry resolves the dependencies and writes it.")
    if package:
        lines.append(f"The project itself ('{package}') is installed too, so the kernel can "
                     "import it.")
    lines.append(f"The virtualenv goes to {folder / '.venv'}.")
    return tuple(lines)


def prepare(request: Request) -> Adoption:
    """Find (clone) and read the project; nothing in it is written yet."""
    if request.project_dir is not None and not is_git_url(str(request.source)):
        raise SpecError("project_dir", "A folder is adopted where it is; --project-dir is "
                        "only for where a git repository is cloned.")
    origin = locate(request.source, request.project_dir, request.commit)
    folder = origin.path
    doc = read_pyproject(folder)
    constraint = requires_python(doc)
    chosen = choose_python(constraint, request.python)
    title = project_name(doc, folder)
    package = title if package_mode(doc) else None
    shown = (request.display_name if request.display_name is not None
             else f"{title} (Python {chosen})")
    kernel_name = request.name if request.name is not None else name_from_display_name(title)
    spec = EnvSpec.make(chosen, kernel_checks(doc, folder), kernel_name, shown, folder,
                        request.index_url)
    wanted_poetry_toml(_read(folder / "poetry.toml"))  # a broken poetry.toml: say so now
    chosen_profile = colab.choose_profile(request.profile)
    changes = describe_changes(folder, spec.index_url, chosen_profile, request.relock,
                               package, str(spec.python), constraint)
    return Adoption(spec, origin, title, constraint, package, request.relock, changes)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def mark(adoption: Adoption) -> None:
    """Record in the project's state that it is adopted (before the first stage runs)."""
    record(adoption.spec.project_dir, {**adoption.origin.as_state(), "relock": adoption.relock})


def record(folder: Path, origin: dict[str, Any]) -> None:
    """Write the adopted mark (where the project came from) into the project's state."""
    path = ownership.state_path(folder)
    state = ownership.read_state(folder)
    state[ownership.ADOPTED] = origin
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    write_atomic(path, json.dumps(state, indent=1, sort_keys=True))


# -- stage helpers (called through the plan's Workspace) ---------------------------------------


def write_poetry_toml(ws: Workspace, ctx: StageContext) -> None:
    # work_dir: a change is built beside the live project and swapped in (swap.py).
    path = ws.work_dir / "poetry.toml"
    current = _read(path)
    wanted = wanted_poetry_toml(current)
    if wanted != current:
        path.write_text(wanted, encoding="utf-8")
        ctx.line(f"Added [virtualenvs] in-project = true to {path}")


def user_part(text: str) -> dict[str, Any]:
    """The pyproject.toml as the user wrote it: the wizard's group and source taken out."""
    doc = pyproject.parse(text).unwrap()
    poetry = doc.get("tool", {}).get("poetry", {})
    groups = poetry.get("group", {})
    groups.pop(GROUP, None)
    if "group" in poetry and not groups:
        del poetry["group"]
    sources = [s for s in poetry.get("source", []) if s.get("name") != pyproject.SOURCE_NAME]
    if "source" in poetry:
        if sources:
            poetry["source"] = sources
        else:
            del poetry["source"]
    return doc


# Poetry's own judgement (its content hash) of a lock against pyproject data given as JSON:
# fresh for any of them is enough.
FRESH_CHECK = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from poetry.packages.locker import Locker\n"
    "datas = [json.loads(Path(p).read_text(encoding='utf-8')) for p in sys.argv[2:]]\n"
    "sys.exit(0 if any(Locker(Path(sys.argv[1]), d).is_fresh() for d in datas) else 3)\n"
)


async def check_lock(ws: Workspace, ctx: StageContext, relock: bool) -> None:
    """Stop unless poetry.lock was made for this pyproject.toml: as the user wrote it (the
    wizard's additions taken out) or as it is now. A re-lock asked for skips the check."""
    if relock or not ws.lock_file.exists():
        return
    text = ws.pyproject.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(ws.poetry_env / "bin" / "python"), "-c", FRESH_CHECK, str(ws.lock_file)]
        for index_, data in enumerate((user_part(text), pyproject.parse(text).unwrap())):
            path = Path(tmp) / f"pyproject-{index_}.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            argv.append(str(path))
        code = await ctx.run(argv, check=False)
    if code == 3:
        raise ctx.fail(
            "poetry.lock does not match pyproject.toml: the dependencies changed after the "
            "lock was made",
            "Re-lock it: run adopt again with --relock (in the panel, tick 'Re-lock'), or run "
            "'poetry lock' in the project yourself.")
    if code != 0:
        raise ctx.fail("Poetry could not read poetry.lock",
                       "The log shows why; re-lock with --relock if the file is damaged.")
    ctx.line("poetry.lock matches pyproject.toml: the locked versions are kept.")


def poetry_toml_ready(folder: Path, adopted: bool) -> bool:
    """The project's poetry.toml says what the wizard needs (the wizard's own file for a
    project it made; the user's file with in-project set for an adopted one)."""
    path = folder / "poetry.toml"
    if not adopted:
        return path.exists()
    current = _read(path)
    return bool(current) and wanted_poetry_toml(current) == current


def locked_versions(lock_file: Path) -> dict[str, str]:
    """{canonical name: version} of a poetry.lock ({} when there is none or it is unreadable)."""
    try:
        doc = tomlkit.parse(lock_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError):
        return {}
    packages = doc.get("package", [])
    return {canonicalize_name(str(p.get("name"))): str(p.get("version"))
            for p in packages if isinstance(p, dict) and p.get("name")}


def describe_relock(before: dict[str, str], after: dict[str, str], ctx: StageContext) -> str:
    """Say which locked versions the wizard's group kept and which it had to move."""
    moved = [f"{n} {v} -> {after[n]}" for n, v in sorted(before.items())
             if n in after and after[n] != v]
    gone = [n for n in sorted(before) if n not in after]
    kept = len(before) - len(moved) - len(gone)
    for line in moved:
        ctx.line(f"Locked version changed: {line}")
    if moved or gone:
        return f"kept {kept} locked versions, changed {len(moved) + len(gone)}"
    return f"kept all {kept} locked versions, added {len(after) - len(before)}"


def rebuild_call(spec: EnvSpec, profile: colab.Profile = colab.NONE) -> Optional[str]:
    """The ``colab_wizard.adopt(...)`` call that rebuilds an adopted project's kernel on a
    fresh machine (the repository cloned again at the same commit), or None if not adopted."""
    origin = ownership.read_state(spec.project_dir).get(ownership.ADOPTED)
    if not isinstance(origin, dict):
        return None
    args = [repr(origin.get("url") or str(spec.project_dir)), f"python={str(spec.python)!r}",
            f"name={spec.name!r}", f"display_name={spec.display_name!r}"]
    if origin.get("url"):
        args += [f"project_dir={str(spec.project_dir)!r}", f"commit={origin.get('commit')!r}"]
    if profile != colab.NONE:
        args.append(f"profile={profile!r}")
    return f"colab_wizard.adopt({', '.join(args)}, listeners=[TerminalView()])"


# -- save and restore (freshvm.py): the project's own files and its installed root ------------

# Never part of a saved project: the venv, the wizard's state, git's objects, bytecode.
SKIPPED = {".venv", ownership.STATE_DIR, ".git", "__pycache__"}


def adopted_origin(folder: Path) -> Optional[dict[str, Any]]:
    origin = ownership.read_state(folder).get(ownership.ADOPTED)
    return origin if isinstance(origin, dict) else None


def project_members(folder: Path) -> list[tuple[Path, str]]:
    """The adopted project's own files (its code too: the kernel imports it), for a tar."""
    members = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED & set(relative.parts) or not path.is_file() or path.suffix == ".pyc":
            continue
        members.append((path, str(relative)))
    return members


def site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"{venv} has no lib/python3.X/site-packages")
    return found[0]


def root_members(venv: Path, package: str) -> list[tuple[Path, str]]:
    """The files an (editable) install of the project's root put into the venv: its
    dist-info and the .pth pointing at the project, as its RECORD lists them (Poetry
    writes absolute paths there, installers following the spec relative ones)."""
    site = site_packages(venv).resolve()
    wanted = canonicalize_name(package)
    for info in site.glob("*.dist-info"):
        if canonicalize_name(info.name[:-len(".dist-info")].rsplit("-", 1)[0]) != wanted:
            continue
        members = []
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = (site / line.split(",")[0]).resolve()
            if line and path.is_file() and path.is_relative_to(site):
                members.append((path, str(path.relative_to(site))))
        return members
    return []


def relocate_root(venv: Path, relatives: Iterable[str], old: str, new: str) -> None:
    """A restored root install names the project folder (its .pth, direct_url.json,
    RECORD): the new one, and the new venv."""
    site = site_packages(venv)
    for relative in relatives:
        path = site / relative
        if path.suffix in (".pth", ".json") or path.name == "RECORD":
            path.write_text(path.read_text(encoding="utf-8").replace(old, new),
                            encoding="utf-8")


def root_package(folder: Path) -> Optional[str]:
    """The distribution Poetry installs for the project itself (package mode), if any."""
    doc = read_pyproject(folder)
    return project_name(doc, folder) if package_mode(doc) else None


def restore_spec(manifest: Mapping[str, Any], project_dir: Union[str, Path, None]) -> EnvSpec:
    """The spec that restores a saved adopted project: into an empty folder or its own."""
    origin = manifest["adopted"]
    folder = check_project_dir(Path(project_dir or origin["path"]))
    if ownership.owner(folder) not in (ownership.EMPTY, ownership.ADOPTED_OWNER):
        raise SpecError("project_dir", f"{folder} holds another project; restore the adopted "
                        "project into an empty folder (--project-dir).")
    spec = EnvSpec.make(manifest["python"], manifest["dependencies"], manifest["name"],
                        manifest["display_name"], folder, manifest.get("index_url"))
    kernels.check_name_free(spec.name)
    return spec
