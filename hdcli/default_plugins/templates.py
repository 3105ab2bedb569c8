"""The built-in mail templates (German and English)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hdcli import hookimpl


@hookimpl(tryfirst=True)
def register_template_dirs(register: Callable[[str], None]) -> None:
    # tryfirst: called first, so it is the lowest precedence (later folders win)
    register(str(Path(__file__).resolve().parent.parent / "templates"))
