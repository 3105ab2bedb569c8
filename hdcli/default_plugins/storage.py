"""Built-in storage backends, registered by name: their drivers are imported on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdcli import hookimpl


@hookimpl(trylast=True)
def register_storage(register: Callable[[str, Any], None]) -> None:
    register("sqlite", "hdcli.backends.sqlite:SqliteStorage")
    register("postgresql", "hdcli.backends.postgres:PostgresStorage")
    register("postgres", "hdcli.backends.postgres:PostgresStorage")
