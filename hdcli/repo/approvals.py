"""The ``approvals`` table: requests for an approver's yes, and the decisions.

``kind`` is ``before_work`` or ``change``; ``status`` is ``pending``, ``granted``, ``denied``,
``overridden`` or ``applied`` (a granted change that was carried out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new approval; returns its id."""
    return store.insert("approvals", dict(row))


def by_id(store: SqlStorage, approval_id: int) -> Row | None:
    """The approval with this id, or None."""
    return store.query_one("SELECT * FROM approvals WHERE id = ?", (approval_id,))


def of_ticket(store: SqlStorage, ticket_id: int, approval_id: int) -> Row | None:
    """The approval ``approval_id`` when it belongs to the ticket, else None."""
    return store.query_one(
        "SELECT * FROM approvals WHERE id = ? AND ticket_id = ?", (approval_id, ticket_id)
    )


def granted(store: SqlStorage, ticket_id: int, kind: str) -> Row | None:
    """The ticket's oldest approval of ``kind`` that was granted or overridden, or None."""
    return store.query_one(
        "SELECT * FROM approvals WHERE ticket_id = ? AND kind = ? "
        "AND status IN ('granted', 'overridden') ORDER BY id LIMIT 1",
        (ticket_id, kind),
    )


def unused_change(store: SqlStorage, ticket_id: int) -> Row | None:
    """The ticket's oldest granted ``change`` approval not applied yet, or None."""
    return store.query_one(
        "SELECT * FROM approvals WHERE ticket_id = ? AND kind = 'change' AND status = 'granted' "
        "ORDER BY id LIMIT 1",
        (ticket_id,),
    )


def change_pending(store: SqlStorage, ticket_id: int) -> bool:
    """Whether a ``change`` approval of the ticket awaits a decision."""
    row = store.query_one(
        "SELECT id FROM approvals WHERE ticket_id = ? AND kind = 'change' AND status = 'pending' "
        "LIMIT 1",
        (ticket_id,),
    )
    return row is not None


def pending(store: SqlStorage, ticket_id: int, kind: str | None = None) -> Row | None:
    """The ticket's oldest approval (of ``kind``) awaiting a decision, or None."""
    sql = "SELECT * FROM approvals WHERE ticket_id = ? AND status = 'pending'"
    params: list[Any] = [ticket_id]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    return store.query_one(sql + " ORDER BY id LIMIT 1", params)


def set_request_ids(store: SqlStorage, approval_id: int, message_ids: str) -> None:
    """Keep the Message-IDs (space-separated) of the mails that asked for the approval."""
    store.execute(
        "UPDATE approvals SET request_message_id = ? WHERE id = ?", (message_ids, approval_id)
    )


def decide(
    store: SqlStorage,
    approval_id: int,
    *,
    status: str,
    by: str,
    via: str,
    note: str | None,
    at: str,
) -> None:
    """Write a decision: ``status`` (granted or denied) by whom, how, when."""
    store.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, via = ?, note = ?, decided_at = ? "
        "WHERE id = ?",
        (status, by, via, note, at, approval_id),
    )


def mark_applied(store: SqlStorage, approval_id: int) -> None:
    """A granted change was carried out: the approval is used up."""
    store.execute("UPDATE approvals SET status = 'applied' WHERE id = ?", (approval_id,))


def listing(store: SqlStorage, *, pending: bool = False, number: str | None = None) -> list[Row]:
    """Approvals newest first (only those awaiting a decision with ``pending``; only the
    ticket's with ``number``), as ``hdcli approval list`` shows them: ``id``, ``ticket``,
    ``organisation``, ``kind``, ``status``, ``change``, ``requested_by``, ``requested_at``,
    ``decided_by``, ``via``, ``note``, ``decided_at``."""
    where, params = [], []
    if pending:
        where.append("a.status = 'pending'")
    if number is not None:
        where.append("t.number = ?")
        params.append(number)
    return store.query(
        "SELECT a.id, t.number AS ticket, o.name AS organisation, a.kind, a.status, "
        "a.change_text AS change, a.requested_by, a.requested_at, a.decided_by, a.via, a.note, "
        "a.decided_at FROM approvals a JOIN tickets t ON t.id = a.ticket_id "
        "JOIN organisations o ON o.id = t.org_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY a.id DESC",
        params,
    )
