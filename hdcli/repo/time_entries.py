"""The ``time_entries`` table: time worked on tickets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new time entry; returns its id."""
    return store.insert("time_entries", dict(row))


def of_ticket(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The ticket's time entries by work date, as ``hdcli show`` shows them: ``id``, ``agent``
    (login, None without one), ``minutes``, ``date``, ``activity``, ``note``, ``billable``
    (0 or 1)."""
    return store.query(
        "SELECT e.id, a.login AS agent, e.minutes, e.work_date AS date, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id",
        (ticket_id,),
    )


def report_lines(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The ticket's time entries by work date, as a service report lists them:
    ``work_date``, ``agent`` (the agent's name, '' without one), ``minutes``, ``activity``,
    ``note``, ``billable`` (0 or 1)."""
    return store.query(
        "SELECT e.work_date, coalesce(a.name, '') AS agent, e.minutes, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id",
        (ticket_id,),
    )


def get(store: SqlStorage, entry_id: int) -> Row | None:
    """One time entry with its ticket's ``number`` and the agent's ``login`` (``agent``)."""
    return store.query_one(
        "SELECT e.id, e.ticket_id, t.number, a.login AS agent, e.minutes, e.work_date AS date, "
        "e.activity, e.note, e.billable FROM time_entries e "
        "JOIN tickets t ON t.id = e.ticket_id LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.id = ?",
        (entry_id,),
    )


#: Columns of a time entry that a correction may write.
EDITABLE = ("minutes", "work_date", "activity", "note", "billable")


def update(store: SqlStorage, entry_id: int, cols: Mapping[str, Any]) -> None:
    """Write corrected columns (of :data:`EDITABLE`) of a time entry."""
    names = [c for c in cols if c in EDITABLE]
    if not names:
        return
    sets = ", ".join(f"{c} = ?" for c in names)
    store.execute(
        f"UPDATE time_entries SET {sets} WHERE id = ?",
        (*(cols[c] for c in names), entry_id),
    )


def delete(store: SqlStorage, entry_id: int) -> None:
    store.execute("DELETE FROM time_entries WHERE id = ?", (entry_id,))


def move(store: SqlStorage, from_ticket: int, to_ticket: int) -> None:
    """Move every time entry of one ticket to another."""
    store.execute(
        "UPDATE time_entries SET ticket_id = ? WHERE ticket_id = ?", (to_ticket, from_ticket)
    )
