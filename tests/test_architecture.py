"""The layers of hdcli, read from the source: who may import whom (docs/architecture.md).

Imports are read with :mod:`ast`, inside functions too: an import inside a function saves
start-up time, it must never hide a circle. Only imports under ``if TYPE_CHECKING:`` are left
out: they do not run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "hdcli"


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """The hdcli modules ``name`` imports at run time (anywhere in the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target != "hdcli":
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                strong(w)
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

    for v in sorted(GRAPH):
        if v not in index:
            strong(v)
    return found


def _reaches(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_checker_sees_function_local_imports() -> None:
    # hdcli.unit imports the plugin manager only inside functions
    assert "hdcli.plugins" in GRAPH["hdcli.unit"]
    assert "hdcli.mail.outbound" in GRAPH["hdcli.unit"]


def test_no_import_cycle_among_hdcli_modules() -> None:
    assert _cycles() == []


# Each workflow layer and what it must never reach, directly or through others.
LAYERS = {
    "hdcli.models": {"hdcli.unit", "hdcli.articles", "hdcli.tickets"},
    "hdcli.unit": {"hdcli.articles", "hdcli.tickets", "hdcli.approvals", "hdcli.mail.ingest"},
    "hdcli.articles": {"hdcli.tickets", "hdcli.approvals", "hdcli.mail.ingest"},
    "hdcli.tickets": {
        "hdcli.approvals",
        "hdcli.billing.servicereports",
        "hdcli.billing.monthly",
        "hdcli.mail.ingest",
        "hdcli.cli",
    },
    "hdcli.approvals": {"hdcli.billing.servicereports", "hdcli.mail.ingest", "hdcli.cli"},
    "hdcli.billing.servicereports": {"hdcli.approvals", "hdcli.mail.ingest", "hdcli.cli"},
    "hdcli.mail.ingest": {"hdcli.approvals", "hdcli.billing.servicereports", "hdcli.cli"},
}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_layers_import_only_downwards(module: str) -> None:
    assert not (_reaches(module) & LAYERS[module])


def test_workflow_code_never_imports_typer_or_the_commands() -> None:
    for name, path in MODULES.items():
        if name.startswith(("hdcli.commands", "hdcli.cli", "hdcli.testing")):
            continue  # the CLI, and the harness that runs it in process for tests
        text = path.read_text(encoding="utf-8")
        if name.startswith("hdcli.default_plugins") or name == "hdcli.hookspecs":
            continue  # register_commands hands plugins the Typer app
        assert not re.search(r"^\s*(import|from) typer\b", text, re.M), name
        assert not (GRAPH[name] & {m for m in MODULES if m.startswith("hdcli.commands")}), name


# -- SQL: only in the repositories (hdcli/repo/) and the backends -----------------------------
#: Where SQL may be written: the repositories own the SQL of the tables, the backends their
#: dialect, DDL, migrations (``.sql`` files, not read here) and the conformance suite.
SQL_HOMES = ("hdcli.repo", "hdcli.backends")
#: Strings that begin as a statement does (keywords in capitals, as hdcli writes SQL).
_SQL = re.compile(
    r"^\s*\(?\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|WITH\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\s*\()"
)
#: The storage's methods that take SQL or a table name.
_SQL_METHODS = {"execute", "executemany", "query", "query_one", "iterate", "insert"}


def _in_sql_home(name: str) -> bool:
    return any(name == home or name.startswith(home + ".") for home in SQL_HOMES)


def _sql_literals(source: str) -> list[str]:
    """String literals of ``source`` that begin as SQL (an f-string's fields count as a word)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "x"
                for v in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _SQL.match(text):
            found.append(text)
    return found


def _store_calls(source: str) -> list[str]:
    """Calls of the storage's SQL methods on a store (``store.query(…)``, ``ctx.store.…``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if node.func.attr in _SQL_METHODS and named in ("store", "source", "target"):
            found.append(f"{named}.{node.func.attr} (line {node.lineno})")
    return found


def test_the_sql_checker_finds_statements_and_leaves_prose() -> None:
    source = """
a = "SELECT id FROM tickets WHERE number = ?"
b = ("INSERT INTO history (ticket_id) "
     "VALUES (?)")
c = f"UPDATE {table} SET {sets} WHERE id = ?"
d = "  DELETE FROM org_domains WHERE org_id = ?"
e = "WITH recent AS (SELECT 1) SELECT * FROM recent"
f = "(SELECT count(*) FROM outbound)"
g = "Select a ticket; with --dry-run nothing is written. Update the set."
h = "WITH the contract's approval"
i = store.query_one(g)
j = ctx.store.insert("tickets", {})
k = rows.insert(0, x)
"""
    assert len(_sql_literals(source)) == 6
    assert _store_calls(source) == ["store.query_one (line 11)", "store.insert (line 12)"]


def test_no_sql_outside_the_repositories_and_backends() -> None:
    """All SQL of a table lives in the repository that owns it (hdcli/repo/), dialects and DDL
    in hdcli/backends/: no other module writes SQL or hands the store a table name."""
    for name, path in MODULES.items():
        if _in_sql_home(name):
            continue
        source = path.read_text(encoding="utf-8")
        assert _sql_literals(source) == [], name
        assert _store_calls(source) == [], name


def test_repositories_sit_at_the_bottom() -> None:
    """A repository imports only the vocabularies, the errors and the helpers (the backends'
    types only for type checking), and no other repository: any layer may call it."""
    repos = [name for name in MODULES if name.startswith("hdcli.repo.")]
    assert {"hdcli.repo.tickets", "hdcli.repo.history", "hdcli.repo.outbound"} <= set(repos)
    assert GRAPH["hdcli.repo"] == set()
    for name in repos:
        assert GRAPH[name] <= {"hdcli.models", "hdcli.errors", "hdcli.util"}, name


def test_dialects_are_told_apart_only_in_the_backends() -> None:
    for name, path in MODULES.items():
        if name.startswith("hdcli.backends"):
            continue
        text = path.read_text(encoding="utf-8")
        assert ".dialect ==" not in text, name
        if not _in_sql_home(name):
            assert "row_lock" not in text, name
