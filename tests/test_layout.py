"""The package's layout: data flows one way (no import circle among mcfoot's modules, counting
imports inside functions), and few long functions. Read with ``ast``, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import mcfoot

PACKAGE = Path(mcfoot.__file__).parent
#: Functions longer than this many lines (decorators excluded) are counted by
#: :func:`long_functions`; issue 22 caps how many the package may hold.
LONG = 50
MAX_LONG = 25


def _name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, ast.Module]:
    """Every module of the package by dotted name, parsed."""
    return {_name(p, root): ast.parse(p.read_text(), str(p)) for p in sorted(root.rglob("*.py"))}


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _in_function(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def imports(mods: dict[str, ast.Module]) -> list[tuple[str, str, ast.AST]]:
    """(importer, imported package module, import node) for every import of a package module,
    at module level and inside functions (``TYPE_CHECKING`` blocks left out: they never
    run). ``from . import x`` names the submodule ``x`` when there is one, else the package."""
    top = next(iter(sorted(mods, key=len)))
    out = []
    for name, tree in mods.items():
        is_pkg = any(m.startswith(name + ".") for m in mods)
        pkg = name if is_pkg else name.rpartition(".")[0]
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod
                           for a in node.names]
            else:
                continue
            if _type_checking_only(node, parents):
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and (t == top or t.startswith(top + ".")):
                    out.append((name, t, node))
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def graph(mods: dict[str, ast.Module]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for a, b, _ in imports(mods):
        edges[a].add(b)
    return edges


def long_functions(mods: dict[str, ast.Module], limit: int = LONG) -> list[tuple[int, str]]:
    """(lines, module.function) of every function longer than ``limit`` lines."""
    out = []
    for name, tree in mods.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append((n, f"{name}.{node.name}"))
    return sorted(out, reverse=True)


def function_local_imports(mods: dict[str, ast.Module]) -> list[tuple[str, int, str]]:
    """(module, line, import) of every import of a package module made inside a function."""
    out = []
    for name, tree in mods.items():
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        out += [(name, node.lineno, ast.unparse(node)) for a, _, node in imports({name: tree} | {
            m: ast.Module(body=[], type_ignores=[]) for m in mods if m != name})
            if a == name and _in_function(node, parents)]
    return sorted(set(out))


def test_cycles_are_found(tmp_path):
    """The check can fail: a two-module circle closed by an import inside a function."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    (pkg / "c.py").write_text("from .b import f\n")
    assert cycles(graph(modules(pkg))) == [["pkg.a", "pkg.b"]]


def test_no_import_circle():
    found = cycles(graph(modules()))
    assert not found, "import circles among mcfoot modules: " + "; ".join(
        " <-> ".join(c) for c in found)


def test_few_long_functions():
    """Issue 22: at most MAX_LONG functions over LONG lines (kernels included)."""
    found = long_functions(modules())
    assert len(found) <= MAX_LONG, f"{len(found)} functions over {LONG} lines: {found}"


if __name__ == "__main__":  # python tests/test_layout.py: the counts issue 22 reports
    mods = modules()
    local = function_local_imports(mods)
    print("import circles:", cycles(graph(mods)))
    print(f"function-local imports of mcfoot modules: {len(local)} "
          f"({sum(not m.startswith('mcfoot.cli') for m, _, _ in local)} outside cli/)")
    for m, line, text in local:
        print(f"  {m}:{line}: {text}")
    found = long_functions(mods)
    print(f"functions over {LONG} lines: {len(found)}")
    for n, f in found:
        print(f"  {n:4d} {f}")
