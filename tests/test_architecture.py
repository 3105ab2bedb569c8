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


def test_commands_hold_no_sql() -> None:
    sql = re.compile(r"[\"'](SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\s", re.I)
    for name, path in MODULES.items():
        if name.startswith("hdcli.commands"):
            assert not sql.search(path.read_text(encoding="utf-8")), name


def test_dialects_are_told_apart_only_in_the_backends() -> None:
    for name, path in MODULES.items():
        if name.startswith("hdcli.backends") or name == "hdcli.dbcopy":
            continue
        assert ".dialect ==" not in path.read_text(encoding="utf-8"), name
