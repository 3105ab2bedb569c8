"""Approvals of work (Freigabe): the contract's gate before work starts or before a change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdcli.errors import Refused, UsageError

if TYPE_CHECKING:
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context


def approvers(store: SqlStorage, org_id: int) -> list[Row]:
    return store.query(
        "SELECT name, email, phone FROM contacts WHERE org_id = ? AND (',' || roles || ',') "
        "LIKE ? ORDER BY email", (org_id, "%,approver,%"))


def check_start(ctx: Context, ticket: Row, *, override: bool = False,
                reason: str | None = None) -> None:
    """Refuse to start a ticket whose contract demands approval before work, until an approver
    approved it; ``override`` with a reason lets it start and is recorded."""
    from hdcli.tickets import record

    store = ctx.store
    contract = store.query_one("SELECT approval FROM contracts WHERE id = ?",
                               (ticket["contract_id"],))
    if contract is None or contract["approval"] != "before_work":
        return
    granted = store.query_one(
        "SELECT id FROM approvals WHERE ticket_id = ? AND kind = 'before_work' "
        "AND status IN ('granted', 'overridden') LIMIT 1", (ticket["id"],))
    if granted:
        return
    if override:
        if not reason or not reason.strip():
            raise UsageError("--override needs --reason")
        record(ctx, ticket, "approval_overridden", reason=reason)
        return
    names = ", ".join(f"{a['name']} <{a['email']}>" for a in approvers(store, ticket["org_id"]))
    raise Refused(
        f"ticket {ticket['number']} needs approval before work starts; approvers: "
        f"{names or 'none on record (add a contact with --role approver)'}; "
        f"`hdcli approval request {ticket['number']}` asks them"
    )


def check_time_change(ctx: Context, ticket: Row) -> None:
    """Time on a ticket whose service report is approved is locked."""
    row = ctx.store.query_one(
        "SELECT status FROM service_reports WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
        (ticket["id"],))
    if row and row["status"] == "approved":
        raise Refused(f"the service report of ticket {ticket['number']} is approved: "
                      "its time entries are locked")


def on_followup(ctx: Context, ticket: Row, mail: object) -> bool:
    """Called by mail ingest for a follow-up from an allowed sender, inside its transaction.

    Returns True when the mail was an approver's decision on a pending approval request (it is
    still kept as an article by the caller).
    """
    return False
