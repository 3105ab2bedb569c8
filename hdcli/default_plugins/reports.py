"""Built-in reports for ``hdcli report NAME``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdcli import hookimpl


@hookimpl(trylast=True)
def register_reports(register: Callable[[str, Any], None]) -> None:
    register("billing", "hdcli.reports:billing_report")
    register("tickets", "hdcli.reports:tickets_report")
