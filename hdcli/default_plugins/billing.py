"""Billing as a built-in plugin: the service report of a closed ticket, the lock of approved
time, the customer's answer to a report by mail, and the monthly ``billing`` report. See
:mod:`hdcli.billing` for the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hdcli import hookimpl

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.events import Change, Handled, TicketEvent
    from hdcli.mail.parse import ParsedMail

#: Changes of a ticket's time entries: locked once its service report is approved.
TIME_CHANGES = frozenset({"ticket.log", "time.edit", "time.remove"})
#: Changes refused outright while a ticket's service report is approved.
REPORT_LOCKED = frozenset({"ticket.link", "ticket.merge", "ticket.split"})


@hookimpl(trylast=True)
def register_reports(register: Callable[[str, Any], None]) -> None:
    register("billing", "hdcli.billing.monthly:billing_report")


@hookimpl
def ticket_changing(change: Change, ticket: dict[str, Any] | None, ctx: Context) -> str | None:
    """Time and contract of a ticket whose service report is approved change only with
    ``force``."""
    if change.action in REPORT_LOCKED and ticket is not None:
        from hdcli.billing.servicereports import check_report_open

        check_report_open(ctx, ticket, change.action)
    billing = change.action == "ticket.edit" and "contract" in change.data
    if (change.action in TIME_CHANGES or billing) and ticket is not None:
        from hdcli.billing.servicereports import check_time_change

        check_time_change(
            ctx, ticket, force=bool(change.data.get("force")), reason=change.data.get("reason")
        )
    return None


@hookimpl
def ticket_changed(event: TicketEvent, ticket: dict[str, Any], ctx: Context) -> None:
    """A closed ticket gets its service report, in the transaction that closes it (mailed
    unless the close said ``notify=False``)."""
    if event.event == "ticket.closed":
        from hdcli.billing.servicereports import create_service_report

        create_service_report(ctx, ticket, notify=bool(event.data.get("notify", True)))
    elif event.event == "ticket.time_changed" or (
        event.event == "ticket.edited" and "contract" in event.data
    ):
        from hdcli.billing.servicereports import refresh_report

        refresh_report(ctx, ticket)


@hookimpl
def handle_inbound_mail(
    mail: ParsedMail,
    ticket: dict[str, Any] | None,
    ctx: Context,
    candidates: list[dict[str, Any]],
    mailbox: str,
) -> Handled | None:
    """The billing mailbox's answers to service reports, and replies to a closed ticket's
    pending report: recorded on the report, never a new ticket."""
    from hdcli.events import Handled
    from hdcli.util import one_line

    if mailbox == "billing":
        from hdcli.billing.servicereports import on_billing_mail

        target = candidates[0] if candidates else None
        reason = on_billing_mail(ctx, mail, target)
        return Handled("followup", target, one_line(reason)) if reason else None
    if candidates and (ticket is None or ticket["status"] == "closed"):
        from hdcli.billing.servicereports import report_answer

        answered = report_answer(ctx, candidates, mail)
        if answered is not None:
            done, reason = answered
            return Handled("followup", done, one_line(f"reply to the service report: {reason}"))
    return None
