"""What the guard and event hooks receive."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Change:
    """A change about to be committed, as shown to ``guard_change``.

    ``action`` names it (``ticket.open``, ``ticket.assign``, ``ticket.start``, ``ticket.reply``,
    ``ticket.note``, ``ticket.log``, ``ticket.close``, ``ticket.reopen``, ``approval.grant`` …);
    ``ticket`` is the ticket number (None while a ticket is being opened); ``data`` the details.
    """

    action: str
    ticket: str | None
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketEvent:
    """A committed change, as sent to ``ticket_event`` (and so to webhooks).

    ``event`` is the action name (``ticket.opened``, ``ticket.assigned``, ``ticket.started``,
    ``ticket.replied``, ``ticket.noted``, ``ticket.time_logged``, ``ticket.closed``,
    ``ticket.reopened``, ``mail.followup`` …); ``at`` an ISO 8601 UTC timestamp.
    """

    event: str
    ticket: str
    subject: str
    status: str
    actor: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stable keys: event, ticket, subject, status, actor, at, data)."""
        return asdict(self)


@dataclass(frozen=True)
class Handled:
    """What a ``handle_inbound_mail`` implementation made of a mail: the ``outcome`` of its
    result line (``followup``, ``ignored``, ``rejected`` …), the ticket row it went to (or
    None) and a short ``reason``."""

    outcome: Literal["new", "followup", "ignored", "rejected"]
    ticket: dict[str, Any] | None
    reason: str = ""
