"""Approvals of work (Freigabe) as a built-in plugin: the contract's gate before work starts
and an approver's yes or no by mail. See :mod:`hdcli.approvals` for the rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hdcli import hookimpl

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.events import Change, Handled
    from hdcli.mail.parse import ParsedMail


@hookimpl
def ticket_changing(change: Change, ticket: dict[str, Any] | None, ctx: Context) -> str | None:
    """``ticket.start`` of a ``before_work`` contract's ticket needs a granted approval (or an
    override with a reason, recorded)."""
    if change.action == "ticket.start" and ticket is not None:
        from hdcli.approvals import check_start

        check_start(
            ctx,
            ticket,
            override=bool(change.data.get("override")),
            reason=change.data.get("reason"),
        )
    return None


@hookimpl
def handle_inbound_mail(
    mail: ParsedMail,
    ticket: dict[str, Any] | None,
    ctx: Context,
    candidates: list[dict[str, Any]],
    mailbox: str,
) -> Handled | None:
    """An approver's clear yes or no to a pending approval of an open ticket."""
    if mailbox or ticket is None or ticket["status"] == "closed":
        return None
    from hdcli.approvals import on_followup

    return on_followup(ctx, ticket, mail)
