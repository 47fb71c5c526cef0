"""Print the structure figures issue 14 asks for, so before/after can be compared by one command.

    python scripts/structure.py          # needs radon for the complexity line (pip install radon)

- the most complex functions (radon's cyclomatic complexity) and Panel's line count;
- the exception classes a caller can meet (classes in colab_wizard deriving from an exception);
- the import cycles between colab_wizard's modules: once for imports at module level, once with
  the imports deferred into functions as well (a cycle hidden by a deferred import is still one);
  imports under TYPE_CHECKING never run and do not count.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "colab_wizard"
EXCEPTION_BASES = {"Exception", "ValueError", "RuntimeError", "OSError", "KeyError", "LookupError"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    return [stem] + [f"{stem}.{alias.name}" for alias in node.names]


def _targets(name: str, is_package: bool, node: ast.ImportFrom, known: set[str]) -> list[str]:
    # `from . import cache` needs the submodule, not the package's __init__ (already loading)
    stem, *names = _resolve(name, is_package, node)
    submodules = [n for n in names if n in known]
    return submodules if len(submodules) == len(names) else [stem, *submodules]


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    return {id(inner) for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)}


def imports(
    name: str, tree: ast.Module, known: set[str], is_package: bool, deferred: bool
) -> set[str]:
    """What `name` imports: at module level, or (deferred) anywhere but under TYPE_CHECKING."""
    skip = _type_checking_nodes(tree)
    nodes = ast.walk(tree) if deferred else iter(tree.body)
    found: set[str] = set()
    for node in nodes:
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = _targets(name, is_package, node, known)
        found.update(t for t in targets if t in known and t != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def exception_classes(trees: dict[str, ast.Module]) -> list[str]:
    classes = {(mod, node.name): {ast.unparse(b).split(".")[-1] for b in node.bases}
               for mod, tree in trees.items()
               for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    names = {name for _, name in classes}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for (_module, name), bases in classes.items():
            if name not in found and bases & (EXCEPTION_BASES | found) and name in names:
                found.add(name)
                changed = True
    return sorted(f"{mod}.{name}" for (mod, name) in classes if name in found)


def complexity() -> str:
    try:
        from radon.complexity import cc_visit
    except ImportError:
        return "complexity: radon is not installed (pip install radon)"
    blocks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in cc_visit(path.read_text()):
            blocks.append((block.complexity, f"{module_name(path)}:{block.fullname}"))
    blocks.sort(reverse=True)
    top = ", ".join(f"{name} {cc}" for cc, name in blocks[:5])
    return f"largest cyclomatic complexity: {blocks[0][0]} ({top})"


def panel_lines(trees: dict[str, ast.Module]) -> str:
    for mod, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == "Panel":
                methods = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                              for n in node.body)
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                return f"Panel ({mod}): {lines} lines, {methods} methods"
    return "Panel: not found"


def main() -> None:
    trees = modules()
    known = set(trees)
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    graphs = {deferred: {name: imports(name, tree, known, name in packages, deferred)
                         for name, tree in trees.items()} for deferred in (False, True)}
    print(complexity())
    print(panel_lines(trees))
    errors = exception_classes(trees)
    print(f"exception classes: {len(errors)} ({', '.join(errors)})")
    for deferred, label in ((False, "module level"), (True, "deferred imports too")):
        found = cycles(graphs[deferred])
        print(f"import cycles ({label}): {len(found)}")
        for component in found:
            print("  " + " <-> ".join(component))


if __name__ == "__main__":
    main()
