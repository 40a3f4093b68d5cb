"""The package's layout: no import circle between its modules, and no private name imported across modules.

Read from the sources with ``ast``, so every import counts, including the lazy ones inside functions (a circle
closed by a lazy import is still a circle: each module needs the other to be complete).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("baselines", "continuous_cartpole")


def module_files(package: str) -> dict[str, Path]:
    """Every module of ``package``, by dotted name (a package by its own name, for its ``__init__.py``)."""
    modules = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = {name: path for package in PACKAGES for name, path in module_files(package).items()}


def imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in ``path``, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names], node.lineno


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from pkg import mod`` is an edge to ``pkg.mod``)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module, path in MODULES.items():
        for target, names, _ in imports(module, path):
            for name in names or [""]:
                edge = f"{target}.{name}" if f"{target}.{name}" in MODULES else target
                if edge in MODULES and edge != module:
                    graph[module].add(edge)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            visit(node)
    return found


def test_the_graph_sees_lazy_relative_and_from_imports() -> None:
    graph = import_graph()
    assert "baselines.compare.plan" in graph["baselines.compare"]  # from baselines.compare.plan import ...
    assert "baselines.cli.compare" in graph["baselines.cli"]  # from baselines.cli import compare, ...
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle(package: str) -> None:
    graph = import_graph()
    circles = [circle for circle in cycles(graph) if circle[0].split(".")[0] == package]
    assert not circles, "import circles: " + "; ".join(" <-> ".join(circle) for circle in circles)


def test_no_private_name_is_imported_from_another_module() -> None:
    private = [
        f"{path.relative_to(ROOT)}:{line} imports {name} from {target}"
        for module, path in MODULES.items()
        for target, names, line in imports(module, path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target.split(".")[0] in PACKAGES
    ]
    assert not private, "\n".join(private)
