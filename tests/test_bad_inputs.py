"""Bad input at every engine entry point: a sentence naming the field, no process started,
the user's text left as it was.

Each row is judged by the API (``make_spec``, ``create``), by ``EnvSpec.make``, by the
pyproject functions the panel's textarea uses, and by the CLI (in process for the
process count, as a real subprocess for the exit code). Process creation is counted
with an audit hook, which sees every ``subprocess.Popen`` (asyncio's too), ``os.fork``,
``os.posix_spawn`` and ``os.exec*``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from colab_wizard import api, cli, ownership, pyproject
from colab_wizard.spec import EnvSpec, SpecError

REPO = Path(__file__).resolve().parent.parent
SPAWN_EVENTS = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec",
                "os.spawn", "os.system", "os.startfile", "pty.spawn"}


class _SpawnCounter:
    def __init__(self) -> None:
        self.active = False
        self.seen: list[str] = []

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.active and event in SPAWN_EVENTS:
            self.seen.append(f"{event} {args[:2]!r}"[:200])


_COUNTER = _SpawnCounter()
sys.addaudithook(_COUNTER.hook)  # audit hooks cannot be removed; it only counts while active


@contextlib.contextmanager
def no_process_started() -> Iterator[None]:
    _COUNTER.seen.clear()
    _COUNTER.active = True
    try:
        yield
    finally:
        _COUNTER.active = False
    assert not _COUNTER.seen, f"processes were started: {_COUNTER.seen}"


def test_the_spawn_counter_sees_processes() -> None:
    """The proof below is only worth something if the counter can fail."""
    with pytest.raises(AssertionError, match="processes were started"):
        with no_process_started():
            subprocess.run([sys.executable, "-c", "pass"], check=True)


GOOD = {"python": "3.12", "dependencies": ["tabulate>=0.9"], "name": "good-kernel",
        "display_name": None, "index_url": None}

# (id, field at fault, arguments changed from GOOD, words the message must contain)
ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    # Python versions: malformed and unsupported
    ("py-empty", "python", {"python": ""}, "Choose a Python version"),
    ("py-blank", "python", {"python": "   "}, "Choose a Python version"),
    ("py-major-only", "python", {"python": "3"}, "not a Python version"),
    ("py-trailing-dot", "python", {"python": "3.12."}, "not a Python version"),
    ("py-prefixed", "python", {"python": "python3.12"}, "not a Python version"),
    ("py-four-parts", "python", {"python": "3.12.4.1"}, "not a Python version"),
    ("py-letters", "python", {"python": "3.x"}, "not a Python version"),
    ("py-prerelease", "python", {"python": "3.13.0rc1"}, "not a Python version"),
    ("py-2", "python", {"python": "2.7"}, "not a Python version"),
    ("py-4", "python", {"python": "4.0"}, "not a Python version"),
    ("py-too-old", "python", {"python": "3.8"}, "not supported"),
    ("py-too-new", "python", {"python": "3.15"}, "not supported"),
    ("py-ft-too-old", "python", {"python": "3.12t"}, "Free-threaded"),
    ("py-shell", "python", {"python": "3.12; rm -rf ~"}, "not a Python version"),
    ("py-subst", "python", {"python": "$(id)"}, "not a Python version"),
    # kernel names
    ("name-space", "name", {"name": "my kernel"}, "no spaces"),
    ("name-slash", "name", {"name": "a/b"}, "'/'"),
    ("name-backslash", "name", {"name": "a\\b"}, "'/'"),
    ("name-dotdot", "name", {"name": ".."}, "'..'"),
    ("name-dotdot-path", "name", {"name": "../../etc"}, "'..'"),
    ("name-unicode", "name", {"name": "kérnel"}, "not a valid kernel name"),
    ("name-upper", "name", {"name": "Kernel"}, "lower-case"),
    ("name-300", "name", {"name": "k" * 300}, "300 characters"),
    ("name-python3", "name", {"name": "python3"}, "built-in kernel"),
    ("name-leading-dash", "name", {"name": "-rf"}, "starting with a letter"),
    ("name-semicolon", "name", {"name": "k;reboot"}, "not a valid kernel name"),
    ("name-backtick", "name", {"name": "k`id`"}, "not a valid kernel name"),
    ("name-dollar", "name", {"name": "$(id)"}, "not a valid kernel name"),
    ("name-pipe", "name", {"name": "k|sh"}, "not a valid kernel name"),
    ("name-newline", "name", {"name": "k\nx"}, "not a valid kernel name"),
    ("name-foreign", "name", {"name": "someone-elses"}, "not made by colab_wizard"),
    # display names: control characters, length
    ("display-newline", "display_name", {"display_name": "Py\nthon"}, "line breaks"),
    ("display-long", "display_name", {"display_name": "P" * 121}, "120 characters"),
    ("display-blank", "display_name", {"display_name": "  "}, "display name"),
    # PEP 508 errors
    ("dep-double-op", "dependencies", {"dependencies": ["numpy>>1"]}, "not a valid requirement"),
    ("dep-no-version", "dependencies", {"dependencies": ["numpy=="]}, "not a valid requirement"),
    ("dep-open-extra", "dependencies", {"dependencies": ["requests[socks"]},
     "not a valid requirement"),
    ("dep-only-spec", "dependencies", {"dependencies": [">=1.0"]}, "not a valid requirement"),
    ("dep-two-words", "dependencies", {"dependencies": ["foo bar"]}, "not a valid requirement"),
    ("dep-bad-marker", "dependencies", {"dependencies": ["numpy; python_versio > '3'"]},
     "not a valid requirement"),
    ("dep-empty-url", "dependencies", {"dependencies": ["pkg @ "]}, "not a valid requirement"),
    ("dep-empty", "dependencies", {"dependencies": ["tabulate", ""]}, "empty dependency"),
    ("dep-not-str", "dependencies", {"dependencies": ["tabulate", 3]}, "not text"),
    ("dep-one-string", "dependencies", {"dependencies": "numpy"}, "list of requirements"),
    ("dep-twice", "dependencies", {"dependencies": ["numpy", "NumPy>=1"]}, "listed twice"),
    # shell metacharacters in dependencies
    ("dep-semicolon", "dependencies", {"dependencies": ["numpy; rm -rf /"]},
     "not a valid requirement"),
    ("dep-and", "dependencies", {"dependencies": ["numpy && curl x"]}, "not a valid requirement"),
    ("dep-pipe", "dependencies", {"dependencies": ["numpy | sh"]}, "'|'"),
    ("dep-backtick", "dependencies", {"dependencies": ["numpy`id`"]}, "'`'"),
    ("dep-subst", "dependencies", {"dependencies": ["$(reboot)"]}, "'$'"),
    ("dep-newline", "dependencies", {"dependencies": ["numpy\nrm -rf ~"]}, "'\\n'"),
    ("dep-redirect", "dependencies", {"dependencies": ["numpy > /etc/passwd"]},
     "not a valid requirement"),
    # project folders
    ("dir-is-file", "project_dir", {"project_dir": "{file}"}, "is a file"),
    ("dir-under-file", "project_dir", {"project_dir": "{file}/sub"}, "is a file"),
    ("dir-newline", "project_dir", {"project_dir": "{tmp}/a\nb"}, "control character"),
    ("dir-nul", "project_dir", {"project_dir": "{tmp}/a\x00b"}, "control character"),
    ("dir-read-only", "project_dir", {"project_dir": "{readonly}/env"}, "not writable"),
    # index URLs, shell characters included
    ("index-not-url", "index_url", {"index_url": "pypi"}, "not a package index URL"),
    ("index-ftp", "index_url", {"index_url": "ftp://example.com/simple/"},
     "not a package index URL"),
    ("index-no-host", "index_url", {"index_url": "https:///simple/"}, "no host name"),
    ("index-space", "index_url", {"index_url": "https://a.example/simple/ --trusted-host x"},
     "spaces"),
    ("index-semicolon", "index_url", {"index_url": "https://a.example/simple/;reboot"},
     "shell characters"),
    ("index-subst", "index_url", {"index_url": "https://$(id).example/simple/"},
     "shell characters"),
    ("index-newline", "index_url", {"index_url": "https://a.example/\nsimple"}, "line breaks"),
    # wrong types through the Python API
    ("py-float", "python", {"python": 3.10}, "would read as 3.1"),
    ("py-list", "python", {"python": ["3.12"]}, "version as text"),
    ("name-int", "name", {"name": 312}, "not int"),
    ("display-int", "display_name", {"display_name": 3}, "not int"),
    ("dir-int", "project_dir", {"project_dir": 5}, "not int"),
    ("index-int", "index_url", {"index_url": 1}, "not int"),
    ("dep-int", "dependencies", {"dependencies": 5}, "list of requirements"),
    ("dir-unknown-user", "project_dir", {"project_dir": "~no-such-user-cw/x"}, "home folder"),
    # an existing pyproject.toml the wizard would have to edit
    ("pyproject-invalid-toml", "pyproject", {"pyproject": "[project\nname = 'x'\n"},
     "not valid TOML"),
    ("pyproject-project-not-table", "pyproject", {"pyproject": "project = 3\n"},
     "must be a table"),
    ("pyproject-source-table", "pyproject",
     {"pyproject": "[tool.poetry.source]\nname = 'x'\n"}, "array of tables"),
    ("pyproject-source-number", "pyproject", {"pyproject": "[tool.poetry]\nsource = 5\n"},
     "array of tables"),
    # someone else's Poetry project: never rewritten by create (adopt it instead)
    ("pyproject-foreign", "project_dir",
     {"pyproject": "[project]\nname = 'theirs'\ndependencies = ['requests']\n",
      "foreign": True}, "adopt"),
]

CLI_FLAGS = {"python": "--python", "name": "--name", "display_name": "--display-name",
             "project_dir": "--project-dir", "index_url": "--index-url"}


@pytest.fixture
def bad_world(wizard_env: dict[str, Path], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A foreign kernel, a file where a folder is expected, and (if possible) a read-only mount."""
    foreign = wizard_env["jupyter"] / "kernels" / "someone-elses"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps(
        {"argv": ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Not ours", "language": "python"}), encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("user data\n", encoding="utf-8")
    world = {"tmp": str(tmp_path), "file": str(a_file), "readonly": ""}
    source, target = tmp_path / "ro-src", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    mounted = False
    try:
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True,
                       capture_output=True)
        mounted = True
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True,
                       capture_output=True)
        world["readonly"] = str(target)
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        yield world
    finally:
        if mounted:
            subprocess.run(["umount", str(target)], check=False, capture_output=True)


def _arguments(row: dict[str, Any], world: dict[str, str]) -> dict[str, Any]:
    args = {**GOOD, "project_dir": f"{world['tmp']}/project"}
    for key, value in row.items():
        if key in ("pyproject", "foreign"):
            continue
        args[key] = value.format(**world) if isinstance(value, str) and "{" in value else value
    if world["readonly"] == "" and "{readonly}" in str(row.get("project_dir", "")):
        pytest.skip("a read-only bind mount is not possible here (needs root and mount)")
    return args


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _check(error: SpecError, field: str, words: str) -> None:
    assert error.field == field, f"named {error.field!r}, wanted {field!r}: {error}"
    assert words.lower() in str(error).lower(), str(error)
    assert len(error.message) > 20, "a sentence, not a code"


def _seed_pyproject(row: dict[str, Any], args: dict[str, Any]) -> bytes:
    if "pyproject" not in row:
        return b""
    project = Path(args["project_dir"])
    project.mkdir(parents=True, exist_ok=True)
    if not row.get("foreign"):
        # A project the wizard made and the user then broke by hand: the wizard's to edit.
        ownership.claim(project)
    data = row["pyproject"].encode("utf-8")
    (project / "pyproject.toml").write_bytes(data)
    return data


@pytest.mark.parametrize("case,field,row,words", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_in_api_and_spec(case: str, field: str, row: dict[str, Any], words: str,
                                   bad_world: dict[str, str], tmp_path: Path) -> None:
    args = _arguments(row, bad_world)
    seeded = _seed_pyproject(row, args)
    original = json.dumps(args, sort_keys=True, default=str)
    before = _snapshot(tmp_path)
    with no_process_started():
        with pytest.raises(SpecError) as made:
            api.make_spec(**args)
        _check(made.value, field, words)
        with pytest.raises(SpecError) as created:
            api.create(**args)
        _check(created.value, field, words)
        if case not in ("name-foreign", "pyproject-foreign") and field != "pyproject":
            # EnvSpec.make alone knows nothing of installed kernels or existing files.
            with pytest.raises(SpecError) as direct:
                EnvSpec.make(**args)
            _check(direct.value, field, words)
    assert json.dumps(args, sort_keys=True, default=str) == original, "arguments were changed"
    assert _snapshot(tmp_path) == before, "files were created or changed"
    if seeded:
        assert (Path(args["project_dir"]) / "pyproject.toml").read_bytes() == seeded


def _cli_argv(args: dict[str, Any]) -> list[str]:
    argv = ["create"]
    for key, flag in CLI_FLAGS.items():
        if args.get(key) is not None:
            argv.append(f"{flag}={args[key]}")  # '=' so a value may start with '-'
    deps = args["dependencies"]
    for dep in [deps] if isinstance(deps, str) else deps:
        argv.append(f"--dep={dep}")
    return argv


def _cli_expressible(row: dict[str, Any]) -> bool:
    """Text only (a command line has no numbers or lists of one), and no NUL byte."""
    deps = row.get("dependencies", [])
    if not isinstance(deps, list):
        return False
    values = deps + [value for key, value in row.items() if key != "dependencies"]
    return all(isinstance(v, str) and "\x00" not in v for v in values)


CLI_ROWS = [r for r in ROWS if _cli_expressible(r[2])]


@pytest.mark.parametrize("case,field,row,words", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_bad_input_in_cli(case: str, field: str, row: dict[str, Any], words: str,
                          bad_world: dict[str, str], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    args = _arguments(row, bad_world)
    _seed_pyproject(row, args)
    before = _snapshot(tmp_path)
    with no_process_started():
        code = cli.main(_cli_argv(args))
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    words = {"py-empty": "Give --python"}.get(case, words)
    assert err.startswith(f"Error in {field}") and words.lower() in err.lower(), err
    assert _snapshot(tmp_path) == before


# A sample run as a real process: exit code 2 and the sentence on stderr.
CLI_PROCESS_ROWS = ["py-too-new", "name-dotdot", "name-foreign", "dep-subst", "dir-read-only",
                    "index-semicolon", "pyproject-invalid-toml", "pyproject-foreign"]


@pytest.mark.parametrize("case", CLI_PROCESS_ROWS)
def test_bad_input_cli_process(case: str, bad_world: dict[str, str]) -> None:
    _, field, row, words = next(r for r in ROWS if r[0] == case)
    args = _arguments(row, bad_world)
    _seed_pyproject(row, args)
    out = subprocess.run([sys.executable, "-m", "colab_wizard", *_cli_argv(args)],
                         capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert out.returncode == 2, out
    assert out.stderr.startswith(f"Error in {field}") and words.lower() in out.stderr.lower()


@pytest.mark.parametrize("argv,words", [
    (["create"], "Give --python"),
    (["create", "--python"], "expected one argument"),
    (["create", "--python", "3.12", "--no-such-flag"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_cli_flags(argv: list[str], words: str, wizard_env: dict[str, Path]) -> None:
    out = subprocess.run([sys.executable, "-m", "colab_wizard", *argv], capture_output=True,
                         text=True, cwd=REPO, timeout=60, check=False)
    assert out.returncode == 2, out
    assert words in out.stderr


# The textarea's pyproject text: read with the same functions the panel uses.
PYPROJECT_ROWS = [
    ("toml-unclosed-table", "[project\nname = 'x'\n", "not valid TOML"),
    ("toml-unclosed-string", "[project]\nname = \"x\n", "not valid TOML"),
    ("toml-duplicate-key", "[project]\nname = 'a'\nname = 'b'\n", "\"name\" already exists"),
    ("toml-no-project", "[tool.poetry]\npackage-mode = false\n", "no [project] table"),
    ("toml-project-no-name", "[project]\ndependencies = ['six']\n", "needs a name"),
    ("toml-deps-not-list", "[project]\nname = 'x'\ndependencies = 'six'\n", "list of strings"),
    ("toml-deps-not-strings", "[project]\nname = 'x'\ndependencies = [1, 2]\n",
     "list of strings"),
]


@pytest.mark.parametrize("case,text,words", PYPROJECT_ROWS, ids=[r[0] for r in PYPROJECT_ROWS])
def test_bad_pyproject_text(case: str, text: str, words: str) -> None:
    kept = str(text)
    with no_process_started():
        with pytest.raises(SpecError) as raised:
            pyproject.dependencies(text)
    _check(raised.value, "pyproject", words)
    assert text == kept
    if case.startswith("toml-unclosed"):
        assert raised.value.line is not None, "the line is given for TOML errors"


# Shell characters where they are legal: stored as text, never executed.
@pytest.mark.parametrize("display_name", ["Py $(reboot)", "a; rm -rf ~", "`id` | sh > x",
                                          "Python 3.12 — données"])
def test_display_name_is_only_ever_text(display_name: str, wizard_env: dict[str, Path],
                                        tmp_path: Path) -> None:
    from colab_wizard.plan import Workspace

    with no_process_started():
        spec = api.make_spec("3.12", [], name="k", display_name=display_name,
                             project_dir=tmp_path / "p")
    kernel = Workspace(spec).kernel_spec()
    assert kernel["display_name"] == display_name
    assert all(display_name not in part for part in kernel["argv"])


def test_project_dir_with_shell_characters_is_a_plain_path(wizard_env: dict[str, Path],
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "x; touch pwned $(id)"
    with no_process_started():
        spec = api.make_spec("3.12", [], name="k", project_dir=folder)
    assert spec.project_dir == folder
    assert not (tmp_path / "pwned").exists()



def test_index_url_from_pip_is_judged_too(wizard_env: dict[str, Path], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """pip's setting may hold a password with '$' or ';' (legal in a URL); a non-URL is still
    refused, naming where it came from."""
    monkeypatch.delenv("COLAB_WIZARD_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:pa$$;w@index.example/simple")
    with no_process_started():
        spec = api.make_spec("3.12", [], name="k", project_dir=tmp_path / "p")
        # The credentials are kept apart from the URL, which is written into files.
        assert spec.index_url == "https://index.example/simple/"
        assert spec.index_auth == ("user", "pa$$;w")
        monkeypatch.setenv("PIP_INDEX_URL", "ftp://index.example/simple")
        with pytest.raises(SpecError) as raised:
            api.make_spec("3.12", [], name="k", project_dir=tmp_path / "p")
    _check(raised.value, "index_url", "from pip's configuration")


# Bad input at the other entry points: each a SpecError naming its field, before any process.
def test_unknown_profile_names_the_field(wizard_env: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(tmp_path)
    with no_process_started():
        with pytest.raises(SpecError) as raised:
            api.create("3.12", [], name="k", project_dir=tmp_path / "p",
                       profile="bogus")  # type: ignore[arg-type]
    _check(raised.value, "profile", "choose auto, full, plain or none")
    assert _snapshot(tmp_path) == before


def test_unknown_panel_mode_names_the_field(wizard_env: dict[str, Path]) -> None:
    import colab_wizard

    with no_process_started():
        with pytest.raises(SpecError) as raised:
            colab_wizard.show(mode="bogus", display=False,  # type: ignore[arg-type]
                              check_index=False)
    _check(raised.value, "mode", "'background' or 'foreground'")


def test_unknown_host_setting_names_the_variable(wizard_env: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_WIZARD_HOST", "colab-ish")
    with no_process_started():
        with pytest.raises(SpecError) as raised:
            api.create("3.12", [], name="k", project_dir=tmp_path / "p")
    _check(raised.value, "COLAB_WIZARD_HOST", "colab, vscode, jupyter, terminal")
    out = subprocess.run([sys.executable, "-m", "colab_wizard", "doctor", "--no-start"],
                         capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert out.returncode == 2 and out.stderr.startswith("Error in COLAB_WIZARD_HOST"), out


def test_switch_without_a_notebook_outside_colab_names_the_field(
        wizard_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import colab_wizard

    monkeypatch.setenv("COLAB_WIZARD_HOST", "jupyter")
    with no_process_started():
        with pytest.raises(SpecError) as raised:
            colab_wizard.switch_notebook("k")
    _check(raised.value, "notebook_path", "Give the notebook's path")


@pytest.mark.parametrize("argv,field,words", [
    (["remove", "nope"], "name", "No kernel named 'nope'"),
    (["save", "{tmp}/saved", "--name", "nope"], "name", "No kernel named 'nope'"),
    (["save", "{tmp}/saved"], "name", "Say which kernel to save"),
    (["restore", "{tmp}", "--name", "nope"], "name", "No saved kernel 'nope'"),
    (["restore", "{tmp}/not-there"], "folder", "is not a folder"),
    (["restore", "{file}"], "folder", "is not a folder"),
    (["use", "nope", "--reset"], "name", "not both"),
])
def test_kernel_names_and_folders_name_the_field(
        argv: list[str], field: str, words: str, wizard_env: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("mine\n", encoding="utf-8")
    argv = [a.format(tmp=tmp_path, file=a_file) for a in argv]
    before = _snapshot(tmp_path)
    with no_process_started():
        code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    assert err.startswith(f"Error in {field}: ") and words in err, err
    assert _snapshot(tmp_path) == before
