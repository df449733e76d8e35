"""The shape of the package in five numbers: modules, largest module, longest function, import cycles.

    python scripts/house_metrics.py            # one line each, e.g. "modules 112"
    python scripts/house_metrics.py --cycles   # also print each cycle

Cycles are counted between modules (package `__init__` files left out, a name imported from a package
resolved to the submodule that defines it), with every import at any depth, lazy ones included: a cycle
is one strongly connected component of two or more modules.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "siakit"


def module_name(path: Path) -> str:
    """siakit/data/problems.py -> 'siakit.data.problems'; siakit/data/__init__.py -> 'siakit.data'."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def reexports(mods: dict[str, Path]) -> dict[str, dict[str, str]]:
    """For each package, the submodule each re-exported name comes from ({'siakit.data': {'x': 'siakit.data.y'}})."""
    out: dict[str, dict[str, str]] = {}
    for name, path in mods.items():
        if path.name != "__init__.py":
            continue
        table = out.setdefault(name, {})
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = resolve(name, node, package=True)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    table[alias.asname or alias.name] = sub if sub in mods else base
    return out


def resolve(current: str, node: ast.ImportFrom, package: bool = False) -> str:
    """The absolute module of a `from X import y` written inside module `current`."""
    if not node.level:
        return node.module or ""
    parts = current.split(".")
    keep = len(parts) - node.level + (1 if package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the non-package siakit modules it imports anywhere in its body."""
    table = reexports(mods)

    def target(name: str, attr: str | None) -> str | None:
        if attr and f"{name}.{attr}" in mods:
            return f"{name}.{attr}"
        while name in table and attr in table[name]:  # follow a package's re-export to its source
            name, attr = table[name][attr], attr
            if name in mods and mods[name].name != "__init__.py":
                return name
        return name if name in mods and mods[name].name != "__init__.py" else None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        if path.name == "__init__.py":
            continue
        out = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = [target(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(name, node)
                found = [target(base, a.name) for a in node.names]
            else:
                continue
            out |= {t for t in found if t and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with two or more modules (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def longest_function(mods: dict[str, Path]) -> tuple[int, str]:
    best = (0, "")
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                best = max(best, (node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return best


def main(argv=None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--cycles", action="store_true", help="print each cycle's modules")
    opts = args.parse_args(argv)
    mods = modules()
    lines = {name: len(path.read_text().splitlines()) for name, path in mods.items()}
    big = max(lines, key=lines.get)
    length, func = longest_function(mods)
    found = cycles(edges(mods))
    print(f"modules {len(mods)}")
    print(f"largest module {big} {lines[big]} lines")
    print(f"longest function {func} {length} lines")
    print(f"import cycles {len(found)}")
    if opts.cycles:
        for comp in found:
            print("  " + " <-> ".join(comp))


if __name__ == "__main__":
    main()
