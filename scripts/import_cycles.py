"""Fail when modules import each other in a circle, listing every cycle with its import lines.

    python scripts/import_cycles.py                      the packages and shared-tests modules
    python scripts/import_cycles.py --path DIR PKG ...   other packages, found on DIR

Every import counts: module level, inside functions (a lazy import still ties
the two modules together) and under ``if TYPE_CHECKING:`` (a type-only import
still makes each module depend on the other's shape). The graph comes from
grimp (the library behind import-linter); the top-level modules of
``shared-tests/`` and ``testenv.py``, which are not a package, are read with
``ast`` and added to it. Each group of modules that reach each other is
reported as shortest cycles that together pass through all of its modules.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent
SHARED_TESTS = REPO / "shared-tests"
PACKAGES = ["regstore", "regstore_s3", "regstore_azure", "regstore_gcs", "faults"]
#: Top-level modules outside any package: shared-tests' own and the root testenv.
LOOSE_MODULES = [*sorted(SHARED_TESTS.glob("*.py")), REPO / "testenv.py"]


def build(packages: list[str], loose: Iterable[Path]) -> grimp.ImportGraph:
    """The import graph of ``packages`` plus the ``loose`` top-level module files."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    loose = list(loose)
    names = {path.stem for path in loose}
    for path in loose:
        graph.add_module(path.stem)
    known = set(graph.modules)
    for path in loose:
        for line, imported in _imports(path):
            target = _resolve(imported, known | names)
            if target is not None and target != path.stem:
                graph.add_import(
                    importer=path.stem,
                    imported=target,
                    line_number=line,
                    line_contents=f"import {imported}",
                )
    return graph


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute import in ``path``, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module ``name`` starts with (``a.b.C`` is module ``a.b``)."""
    parts = name.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in known:
            return candidate
    return None


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Shortest cycles (first module repeated last) through every module of each group
    of mutually importing modules."""
    found = []
    for group in _strongly_connected(graph):
        covered: set[str] = set()
        for start in sorted(group) if len(group) > 1 else ():
            if start in covered:
                continue
            best: tuple[str, ...] | None = None
            for nxt in sorted(graph.find_modules_directly_imported_by(start) & group):
                chain = graph.find_shortest_chain(importer=nxt, imported=start)
                if chain is not None and (best is None or len(chain) < len(best)):
                    best = chain
            assert best is not None
            found.append([start, *best])
            covered.update(best)
    return sorted(found)


def _strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (graphs deeper than the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """The cycle as one line, then each import in it with its line number."""
    lines = [" -> ".join(cycle)]
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}" for d in details)
        lines.append(f"    {importer} imports {imported}: {where or 'line unknown'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print every import cycle and return 1, or return 0 when there is none."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="packages to check (default: the project's)")
    parser.add_argument("--path", action="append", default=[], help="where to find them")
    args = parser.parse_args(argv)
    sys.path[:0] = [*args.path, str(SHARED_TESTS), str(REPO)]
    if args.packages:
        graph = build(args.packages, [])
    else:
        # A core-only install checks what it has; the driver packages are checked where installed.
        installed = [name for name in PACKAGES if importlib.util.find_spec(name) is not None]
        missing = sorted(set(PACKAGES) - set(installed))
        if missing:
            print(f"not installed, not checked: {', '.join(missing)}")
        graph = build(installed, LOOSE_MODULES)
    found = cycles(graph)
    if not found:
        print(f"no import cycles among {len(graph.modules)} modules")
        return 0
    print(f"{len(found)} import cycle(s); break each by moving what both sides need elsewhere:")
    for cycle in found:
        print(describe(graph, cycle))
    return 1


if __name__ == "__main__":
    sys.exit(main())
