"""The package's modules import each other without a cycle.

A cycle makes a module's meaning depend on which one was imported first, and one
of them is then half-initialised when the other reads it. The graph is built
from the modules' source with ``ast`` (nothing is imported): every import that runs
when a module is loaded, ``if TYPE_CHECKING:`` blocks included (a type-only cycle
still ties two modules together). Imports inside a function are left out: they
are the deliberate way to defer one (e.g. Airflow, or a step a task body calls).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "extractorov"
ROOT = Path(__file__).resolve().parents[2] / "include" / PACKAGE


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports outside function bodies (module level, ``if`` / ``try`` blocks, classes)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             modules: set[str]) -> set[str]:
    """The package's modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package, one level up per extra dot
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        # `from package import name` loads the submodule `name` when there is one.
        names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    targets = set()
    for name in names:
        # `import a.b.c` loads a, a.b and a.b.c.
        parts = name.split(".")
        targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {t for t in targets if t in modules and t != module}


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in ROOT.rglob("*.py")}
    modules = set(paths)
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = set()
        for node in _load_time_imports(tree):
            graph[module] |= _targets(node, module, is_package, modules)
    # A module's package is loaded before it: an edge the source does not spell out.
    for module in modules:
        package = module.rpartition(".")[0]
        if package in modules:
            graph[module].add(package)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"extractorov.pipeline", "extractorov.extract", "extractorov.errors",
            "extractorov.ui.app"} <= set(graph)
    assert "extractorov.extract" in graph["extractorov.pipeline"]
    assert "extractorov.summaries" in graph["extractorov.errors"]
    assert "extractorov.ui.render" in graph["extractorov.ui.app"]  # `from . import render`


def test_the_graph_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_package_modules():
    assert cycles(import_graph()) == []
