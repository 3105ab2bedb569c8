"""Built-in reports for ``hdcli report NAME`` (the ``billing`` report comes with the billing
plugin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdcli import hookimpl


@hookimpl(trylast=True)
def register_reports(register: Callable[[str, Any], None]) -> None:
    register("tickets", "hdcli.reports:tickets_report")
