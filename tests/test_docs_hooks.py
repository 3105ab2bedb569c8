"""docs/plugins.md documents every hook with its exact signature, and every hook has a test."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hdcli import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
TESTS = Path(__file__).resolve().parent


def specs() -> dict[str, Callable[..., Any]]:
    """Every hook specification in hdcli.hookspecs, by name (pluggy marks them)."""
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "hdcli_spec")
    }


def signature_of(fn: Callable[..., Any]) -> str:
    """``def name(arg: Annotation, …) -> Return`` with the annotations exactly as written.

    hookspecs.py uses ``from __future__ import annotations``, so ``inspect.signature`` keeps
    each annotation as the source text.
    """
    sig = inspect.signature(fn)
    params = []
    for p in sig.parameters.values():
        assert isinstance(p.annotation, str), f"{fn.__name__}({p.name}) needs an annotation"
        text = f"{p.name}: {p.annotation}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    assert isinstance(sig.return_annotation, str), f"{fn.__name__} needs a return annotation"
    return f"def {fn.__name__}({', '.join(params)}) -> {sig.return_annotation}"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, re.DOTALL | re.MULTILINE)


def documented_hooks(markdown: str) -> list[str]:
    """The hook headings (``### `name` ``) of the hook reference."""
    reference = markdown.partition("## Hook reference")[2]
    return re.findall(r"^### `(\w+)`\s*$", reference, re.MULTILINE)


def test_there_are_hooks() -> None:
    assert {"register_storage", "register_commands", "guard_change", "ticket_event"} <= set(specs())


def test_signature_is_built_as_written() -> None:
    assert signature_of(hookspecs.register_storage) == (
        "def register_storage(register: Callable[[str, Any], None]) -> None"
    )


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    markdown = DOC.read_text(encoding="utf-8")
    signature = signature_of(specs()[name])
    blocks = code_blocks(markdown)
    assert any(signature in block.splitlines() for block in blocks), (
        f"docs/plugins.md needs a python code block with the line:\n{signature}"
    )
    assert name in documented_hooks(markdown), f"docs/plugins.md needs a heading ### `{name}`"


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    stale = set(documented_hooks(DOC.read_text(encoding="utf-8"))) - set(specs())
    assert not stale, f"docs/plugins.md documents hooks hdcli does not have: {sorted(stale)}"


def test_hook_spec_has_a_docstring() -> None:
    missing = [name for name, fn in specs().items() if not (fn.__doc__ or "").strip()]
    assert not missing


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_has_a_test(name: str) -> None:
    this = Path(__file__).resolve()
    pattern = re.compile(rf"\b{name}\b")
    users = [
        path.relative_to(TESTS).as_posix()
        for path in sorted(TESTS.rglob("test_*.py"))
        if path.resolve() != this and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert users, f"no test in tests/ mentions the hook {name}"
