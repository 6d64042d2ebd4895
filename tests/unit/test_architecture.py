"""The import graph, read from the source with ast (nothing is imported).

Layers (issue 12): views/ and milestone/ui draw pages and reach data only through the service
layer; milestone/services owns role checks, the write limit and transactions; milestone/store
holds the SQL by aggregate. The tests marked "issue 12" describe where the refactor is going:
they fail until milestone/store and milestone/services exist and the views stop importing
`milestone.db` and SQLAlchemy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from milestone.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "milestone"
PAGE_FILES = (
    sorted((PROJECT_ROOT / "views").glob("*.py")) + sorted((PACKAGE / "ui").rglob("*.py")) + [PROJECT_ROOT / "app.py"]
)


def _module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, root: Path = PROJECT_ROOT) -> set[str]:
    """Every module `path` imports at run time (anywhere in the file, functions included; not
    under `if TYPE_CHECKING:`). `from a import b` counts as a.b too, since b may be a module."""
    found: set[str] = set()
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against this module's package
                    base = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    module = f"{base}.{child.module}" if child.module else base
                else:
                    module = child.module or ""
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _package_graph() -> dict[str, set[str]]:
    """milestone's modules and the milestone modules each one imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def _offenders(files: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for path in files:
        hits = sorted(m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if hits:
            bad[str(path.relative_to(PROJECT_ROOT))] = hits
    return bad


# ----------------------------------------------------------------------------- the checker itself


def test_the_reader_sees_relative_lazy_and_type_checking_imports(tmp_path):
    pkg = tmp_path / "milestone" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "from typing import TYPE_CHECKING\nfrom . import other\nif TYPE_CHECKING:\n    import hidden\n"
        "def f():\n    import sqlalchemy.exc\n"
    )
    found = _imports(pkg / "mod.py", tmp_path)
    assert {"milestone.sub.other", "sqlalchemy.exc", "typing"} <= found and "hidden" not in found
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# ----------------------------------------------------------------------------- the layering (issue 12)


def test_no_import_cycles_in_milestone():
    """issue 12: repository and ratelimit import each other today."""
    assert _cycles(_package_graph()) == []


def test_pages_import_neither_the_database_module_nor_sqlalchemy():
    """issue 12: views/, milestone/ui and app.py reach data through milestone.services only."""
    assert _offenders(PAGE_FILES, ("milestone.db", "sqlalchemy", "psycopg")) == {}


def test_the_store_and_services_exist():
    """issue 12: milestone/store (SQL by aggregate) and milestone/services (the service layer)."""
    missing = [p for p in ("store", "services") if not (PACKAGE / p / "__init__.py").exists()]
    assert not missing, f"milestone/{' and milestone/'.join(missing)} do not exist yet (issue 12)"


@pytest.mark.parametrize(
    "layer,forbidden",
    [
        # the store knows SQL, not who is asking, not how it is shown
        ("store", ("milestone.services", "milestone.ui", "streamlit", "views")),
        # the services own the rules and the wording, not the drawing
        ("services", ("milestone.ui", "streamlit", "views")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(layer, forbidden):
    """issue 12: store < services < ui/views."""
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"milestone/{layer} does not exist yet (issue 12)"
    assert _offenders(files, forbidden) == {}
