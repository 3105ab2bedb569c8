"""Built-in ticket-number formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdcli import hookimpl


@hookimpl(trylast=True)
def register_number_formats(register: Callable[[str, Any], None]) -> None:
    register("date_checksum", "hdcli.numbers:DateChecksum")
    register("increment", "hdcli.numbers:Increment")
