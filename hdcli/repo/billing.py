"""Service reports (``service_reports``) and the month's billing queries over tickets, their
contracts and time entries.

The month's queries sum time entries per ticket in SQL and read the covering indexes of
migration 0002 (checked with ``EXPLAIN QUERY PLAN``): keep their shape when changing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


# -- service reports ---------------------------------------------------------------------------
def insert_report(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new service report; returns its id."""
    return store.insert("service_reports", dict(row))


def latest_report(store: SqlStorage, ticket_id: int) -> Row | None:
    """The ticket's latest service report, or None."""
    return store.query_one(
        "SELECT * FROM service_reports WHERE ticket_id = ? ORDER BY id DESC LIMIT 1", (ticket_id,)
    )


def latest_report_status(store: SqlStorage, ticket_id: int) -> Row | None:
    """``id`` and ``status`` of the ticket's latest service report, or None (from the covering
    index alone)."""
    return store.query_one(
        "SELECT id, status FROM service_reports WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
        (ticket_id,),
    )


def refresh_charge(
    store: SqlStorage,
    report_id: int,
    *,
    worked_minutes: int,
    billed_minutes: int,
    billable: bool,
    amount: str,
) -> None:
    """Write a report's figures again (after the ticket's billing or time changed)."""
    store.execute(
        "UPDATE service_reports SET worked_minutes = ?, billed_minutes = ?, billable = ?, "
        "amount = ? WHERE id = ?",
        (worked_minutes, billed_minutes, int(billable), amount, report_id),
    )


def withdraw_report(store: SqlStorage, report_id: int) -> None:
    """The report no longer stands: its ticket was closed again without one."""
    store.execute("UPDATE service_reports SET status = 'withdrawn' WHERE id = ?", (report_id,))


def decide_report(
    store: SqlStorage,
    report_id: int,
    *,
    status: str,
    by: str | None,
    via: str,
    reason: str | None,
    at: str,
) -> None:
    """Write the customer's answer to a report: ``approved`` or ``disputed``, by whom, how,
    why, when."""
    store.execute(
        "UPDATE service_reports SET status = ?, decided_by = ?, via = ?, reason = ?, "
        "decided_at = ? WHERE id = ?",
        (status, by, via, reason, at, report_id),
    )


# -- a month's tickets -------------------------------------------------------------------------
def contract_month(
    store: SqlStorage, contract_id: int, start: str, end: str, except_ticket: int
) -> list[Row]:
    """The contract's tickets closed in ``[start, end)`` but ``except_ticket``, in the order
    they were closed: ``id``, ``number``, ``subject``, ``closed_at``, ``billable_override``,
    ``worked`` (minutes) and ``chargeable`` (billable minutes), summed per ticket."""
    return store.query(
        "SELECT t.id, t.number, t.subject, t.closed_at, t.billable_override, "
        "coalesce(sum(e.minutes), 0) AS worked, "
        "coalesce(sum(CASE WHEN e.billable = 1 THEN e.minutes ELSE 0 END), 0) AS chargeable "
        "FROM tickets t LEFT JOIN time_entries e ON e.ticket_id = t.id "
        "WHERE t.contract_id = ? AND t.closed_at >= ? AND t.closed_at < ? AND t.id <> ? "
        "GROUP BY t.id ORDER BY t.closed_at, t.id",
        (contract_id, start, end, except_ticket),
    )


def month_tickets(
    store: SqlStorage, start: str, end: str, *, org_id: int | None = None, numbers: bool = False
) -> Iterator[Row]:
    """Stream the tickets closed in ``[start, end)`` (of ``org_id``) by organisation name,
    contract number and closing time: ``id``, ``closed_at``, ``billable_override``, ``number``
    (with ``numbers``), ``worked`` and ``chargeable`` minutes, ``report_status`` (of the
    latest service report, None without one), ``organisation`` and the contract's ``contract_id``,
    ``contract`` (number), ``billing``, ``rate``, ``increment_minutes``, ``minimum_minutes``,
    ``included_minutes``."""
    params: list[Any] = [start, end]
    where = "t.closed_at >= ? AND t.closed_at < ?"
    if org_id is not None:
        where += " AND t.org_id = ?"
        params.append(org_id)
    # Correlated sums rather than JOIN … GROUP BY: each is a range of the covering index
    # time_entries(ticket_id, billable, minutes), and no wide intermediate rows are sorted.
    sql = (
        "SELECT t.id, t.closed_at, t.billable_override, "
        + ("t.number, " if numbers else "")
        + "(SELECT coalesce(sum(e.minutes), 0) FROM time_entries e "
        "WHERE e.ticket_id = t.id) AS worked, "
        "(SELECT coalesce(sum(e.minutes), 0) FROM time_entries e "
        "WHERE e.ticket_id = t.id AND e.billable = 1) AS chargeable, "
        "(SELECT s.status FROM service_reports s WHERE s.ticket_id = t.id "
        "ORDER BY s.id DESC LIMIT 1) AS report_status, "
        "o.name AS organisation, c.id AS contract_id, c.number AS contract, c.billing, c.rate, "
        "c.increment_minutes, c.minimum_minutes, c.included_minutes "
        "FROM tickets t JOIN organisations o ON o.id = t.org_id "
        "JOIN contracts c ON c.id = t.contract_id "
        f"WHERE {where} ORDER BY o.name, c.number, t.closed_at, t.id"
    )
    return store.iterate(sql, params)
