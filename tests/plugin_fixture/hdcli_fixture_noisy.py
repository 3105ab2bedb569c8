"""Test plugin: its ``ticket_event`` always raises (the change must stand regardless)."""

from typing import Any

from hdcli import hookimpl
from hdcli.events import TicketEvent


@hookimpl
def ticket_event(event: TicketEvent, config: Any) -> None:
    raise RuntimeError(f"fixture receiver exploded on {event.ticket}")
