"""The layout's rules, read from the source: who may import whom (docs/architecture.md).

Every import counts, also one inside a function: a lazy import hides a cycle
from Python at start-up, not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("consumer_web", "merchant_portal", "municipality_dashboard")
PACKAGES = ("loyalty", "lokaal_sparen", *FRONT_ENDS)
# The edge of the core: the JSON API and what the page front ends share.
WEB_EDGE = ("loyalty.api", "loyalty.web")
WEB_FRAMEWORKS = ("flask", "flask_babel", "flask_login", "flask_smorest", "flask_wtf", "werkzeug")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module this one imports, resolved to modules of the project or to the
    top-level name of a third-party package."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from loyalty.money import ledger` imports the module loyalty.money.ledger
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in MODULES else base)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_graph_is_read() -> None:
    # Guards the rules below against passing on an empty or misread graph.
    assert "loyalty.earning.claims" in GRAPH["loyalty.api.claims"]
    assert "loyalty.money.ledger" in GRAPH["loyalty.earning.claims"]
    assert "flask" in GRAPH["loyalty.web"]


def test_the_domain_imports_no_web_framework() -> None:
    offenders = {
        name: sorted(i for i in imports if i.split(".")[0] in WEB_FRAMEWORKS)
        for name, imports in GRAPH.items()
        if _within(name, "loyalty") and not any(_within(name, edge) for edge in WEB_EDGE)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_domain_never_imports_its_edges() -> None:
    offenders = {
        (name, imported)
        for name, imports in GRAPH.items()
        if _within(name, "loyalty") and not any(_within(name, edge) for edge in WEB_EDGE)
        for imported in imports
        if any(_within(imported, edge) for edge in WEB_EDGE)
    }
    assert offenders == set()


@pytest.mark.parametrize("package", ["loyalty", *FRONT_ENDS])
def test_only_the_composition_root_puts_the_parts_together(package: str) -> None:
    others = [p for p in PACKAGES if p not in (package, "loyalty")] + (
        ["lokaal_sparen"] if package == "loyalty" else []
    )
    offenders = {
        (name, imported)
        for name, imports in GRAPH.items()
        if _within(name, package)
        for imported in imports
        if any(_within(imported, other) for other in others)
    }
    assert offenders == set()


def test_no_import_cycles() -> None:
    # Tarjan's strongly connected components over the project's own modules. A
    # package's __init__ is a module like any other, so `loyalty.web` importing
    # `loyalty.web.signin.views` while that imports `loyalty.web` is a cycle.
    edges = {n: {i for i in imports if i in MODULES and i != n} for n, imports in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_module_imports_another_ones_private_names() -> None:
    # A leading underscore says "mine": a page module importing `_render` of
    # another ties the two together behind the reader's back.
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                offenders += [
                    f"{name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert offenders == []


def test_test_modules_share_helpers_not_each_other() -> None:
    # What tests share lives once in a helper module (tests/factories.py,
    # tests/race/helpers.py ...): a test module imported by another would run
    # its tests' fixtures and names in a place nobody looks for them.
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if module.startswith("tests.") and module.rpartition(".")[2].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []
