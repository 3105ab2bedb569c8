"""The quarantine: messages kept for a human with their reason (and, until the retention
removes them, their bytes), and what the mail-attention listing reads from the history."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row

#: The counter that holds the day (its ordinal) of the last automatic purge.
PURGE_COUNTER = "quarantine_purged_day"


_SELECT = (
    "SELECT id, created_at, source, reason, COALESCE(size, length(raw)) AS size, "
    "message_key, purged_at FROM quarantine"
)


def select_all(store: SqlStorage) -> list[Row]:
    return store.query(_SELECT + " ORDER BY created_at DESC, id DESC")


def select_one(store: SqlStorage, qid: int, *, lock: bool = False) -> Row | None:
    return store.query_one(_SELECT + " WHERE id = ?" + (store.row_lock if lock else ""), (qid,))


def select_raw(store: SqlStorage, qid: int) -> bytes | None:
    row = store.query_one("SELECT raw FROM quarantine WHERE id = ?", (qid,))
    return None if row is None else bytes(row["raw"])


def max_id(store: SqlStorage) -> int:
    row = store.query_one("SELECT max(id) AS n FROM quarantine")
    return int(row["n"]) if row and row["n"] is not None else 0


def find_new(store: SqlStorage, after: int, raw: bytes) -> Row | None:
    """The row ingest added for ``raw`` in this transaction (its id is above ``after``)."""
    return store.query_one(
        "SELECT id, message_key, reason FROM quarantine WHERE id > ? AND raw = ? "
        "ORDER BY id DESC LIMIT 1",
        (after, raw),
    )


def update_reason(store: SqlStorage, qid: int, key: str, reason: str) -> None:
    store.execute(
        "UPDATE quarantine SET message_key = ?, reason = ? WHERE id = ?", (key, reason, qid)
    )


def delete(store: SqlStorage, qid: int) -> None:
    store.execute("DELETE FROM quarantine WHERE id = ?", (qid,))


def forget_log(store: SqlStorage, key: str) -> None:
    store.execute("DELETE FROM inbound_log WHERE message_key = ?", (key,))


def due_ids(store: SqlStorage, cutoff: str) -> list[int]:
    rows = store.query(
        "SELECT id FROM quarantine WHERE purged_at IS NULL AND created_at < ? ORDER BY id",
        (cutoff,),
    )
    return [int(r["id"]) for r in rows]


def strip_raw(store: SqlStorage, cutoff: str, now: str) -> None:
    store.execute(
        "UPDATE quarantine SET size = length(raw), raw = ?, purged_at = ? "
        "WHERE purged_at IS NULL AND created_at < ?",
        (b"", now, cutoff),
    )


def counts(store: SqlStorage) -> Row:
    row = store.query_one(
        "SELECT count(*) AS n, count(purged_at) AS purged, min(created_at) AS oldest "
        "FROM quarantine"
    )
    return row or {"n": 0, "purged": 0, "oldest": None}


def purged_day(store: SqlStorage) -> int:
    row = store.query_one("SELECT value FROM counters WHERE name = ?", (PURGE_COUNTER,))
    return int(row["value"]) if row else 0


def claim_day(store: SqlStorage, day: int) -> bool:
    """Move the purge counter to ``day``; False when another run did so today already."""
    store.execute(
        "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
        (PURGE_COUNTER,),
    )
    row = store.query_one(
        "UPDATE counters SET value = ? WHERE name = ? AND value < ? RETURNING value",
        (day, PURGE_COUNTER, day),
    )
    return row is not None


def quarantined_since(store: SqlStorage, since: str) -> list[Row]:
    """Quarantined messages as the inbound log has them, with the row that still waits."""
    return store.query(
        "SELECT q.id, q.created_at, q.reason, l.outcome FROM quarantine q "
        "LEFT JOIN inbound_log l ON l.message_key = q.message_key "
        "WHERE q.created_at >= ? ORDER BY q.created_at DESC, q.id DESC",
        (since,),
    )


#: History actions of mail that needs a human (``mail_followup`` only with skipped attachments).
ATTENTION_ACTIONS = (
    "mail_suppressed",
    "attachments_skipped",
    "mail_followup",
    "approval_answer_unclear",
    "billing_mail_kept",
)


def history_since(store: SqlStorage, since: str) -> list[Row]:
    marks = ",".join("?" * len(ATTENTION_ACTIONS))
    return store.query(
        "SELECT h.id, h.created_at, h.action, h.detail, t.number FROM history h "
        f"JOIN tickets t ON t.id = h.ticket_id WHERE h.action IN ({marks}) "
        "AND h.created_at >= ? AND (h.action <> 'mail_followup' OR h.detail LIKE ?) "
        "ORDER BY h.created_at DESC, h.id DESC",
        [*ATTENTION_ACTIONS, since, '%"skipped_attachments"%'],
    )
