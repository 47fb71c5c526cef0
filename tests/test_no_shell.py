"""No shell anywhere in the package: no ``shell=True``, no ``os.system``/``os.popen``, and
every command handed to a process-starting call is an argument list, never a string."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "colab_wizard"
FORBIDDEN_TEXT = [
    (re.compile(r"shell\s*=\s*True"), "shell=True"),
    (re.compile(r"\bos\.system\s*\("), "os.system"),
    (re.compile(r"\bos\.popen\s*\("), "os.popen"),
    (re.compile(r"\bos\.spawn\w*\s*\("), "os.spawn*"),
    (re.compile(r"create_subprocess_shell"), "asyncio.create_subprocess_shell"),
    (re.compile(r"\bcommands\.getoutput|\bpty\.spawn"), "shell helpers"),
    (re.compile(r"\bshlex\.split\s*\("), "shlex.split (a command built as a string)"),
]
# Calls whose first argument (or argv) is a command line.
COMMAND_CALLS = {"run", "Popen", "call", "check_call", "check_output", "create_subprocess_exec",
                 "execv", "execvp", "execve", "execvpe", "posix_spawn", "posix_spawnp"}


def _sources() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, "the package was not found"
    return files


def _is_string_built(node: ast.AST) -> bool:
    """A command that is a string: a literal, an f-string, '+' or '%' of strings, .format()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_string_built(node.left) or _is_string_built(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("format", "join") and _is_string_built(node.func.value):
            return True
    return False


def string_built_commands(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in COMMAND_CALLS or not node.args:
            continue
        first = node.args[0]
        if name.startswith(("exec", "posix_spawn")) and len(node.args) > 1:
            first = node.args[1]
        if name == "create_subprocess_exec":
            # exec(program, *args): a single string holding spaces is a command line.
            if isinstance(first, ast.JoinedStr) or (
                isinstance(first, ast.Constant) and " " in str(first.value)
            ):
                found.append(f"{filename}:{node.lineno}")
            continue
        if _is_string_built(first):
            found.append(f"{filename}:{node.lineno}")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_shell_in_package(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    problems = [f"{path.name}:{text[:m.start()].count(chr(10)) + 1}: {what}"
                for pattern, what in FORBIDDEN_TEXT for m in pattern.finditer(text)]
    problems += string_built_commands(text, path.name)
    assert not problems, problems


@pytest.mark.parametrize("bad", [
    "subprocess.run('ls -l')",
    "subprocess.run(f'ls {x}')",
    "subprocess.Popen('poetry ' + cmd)",
    "subprocess.check_output('pip install %s' % name)",
    "subprocess.run(' '.join(argv))",
    "ctx.run('poetry lock')",
    "asyncio.create_subprocess_exec('poetry lock')",
    "os.execv('/bin/sh', 'sh -c x')",
])
def test_the_check_catches_string_commands(bad: str) -> None:
    assert string_built_commands(bad, "sample.py"), bad


@pytest.mark.parametrize("good", [
    "subprocess.run(['ls', '-l'])",
    "subprocess.run([str(python), '-c', code], check=True)",
    "asyncio.create_subprocess_exec(*command)",
    "ctx.run(ws.poetry_argv('lock'))",
])
def test_the_check_allows_argument_lists(good: str) -> None:
    assert not string_built_commands(good, "sample.py"), good


def test_forbidden_text_patterns_match() -> None:
    for sample in ("subprocess.run(x, shell=True)", "os.system('x')", "os.popen('x')"):
        assert any(p.search(sample) for p, _ in FORBIDDEN_TEXT), sample
