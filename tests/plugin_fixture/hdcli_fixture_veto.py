"""Test plugin: refuses every new ticket through ``guard_change``."""

from hdcli import hookimpl
from hdcli.events import Change


@hookimpl
def guard_change(change: Change) -> str | None:
    if change.action == "ticket.open":
        return "the fixture plugin accepts no new tickets"
    return None
