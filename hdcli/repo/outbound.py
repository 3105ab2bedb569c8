"""The ``outbound`` mail queue: mail written in the transaction of the change that caused it,
claimed and delivered after the commit.

A mail's ``status`` is ``queued`` (due at ``next_attempt_at``), ``sending`` (claimed by one
run: ``claimed_by`` holds that run's token), ``sent`` or ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hdcli.util import now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Queue a new mail; returns its queue id."""
    return store.insert("outbound", dict(row))


def answers_since(store: SqlStorage, recipient: str, kinds: Sequence[str], since: str) -> int:
    """How many automatic mails of ``kinds`` were queued for ``recipient`` from ``since`` on."""
    marks = ", ".join("?" * len(kinds))
    row = store.query_one(
        "SELECT count(*) AS n FROM outbound WHERE recipient = ? AND automatic = 1 "
        f"AND kind IN ({marks}) AND created_at >= ?",
        (recipient, *kinds, since),
    )
    return int(row["n"]) if row else 0


# -- retries ---------------------------------------------------------------------------------
def retry_failed(store: SqlStorage, now: str) -> int:
    """Queue every failed mail again, due ``now``, its attempts reset; returns how many."""
    cur = store.execute(
        "UPDATE outbound SET status = 'queued', next_attempt_at = ?, attempts = 0 "
        "WHERE status = 'failed'",
        (now,),
    )
    return int(cur.rowcount)


def retry(store: SqlStorage, ids: Sequence[int], now: str) -> int:
    """Queue the failed or queued mails among ``ids`` again, due ``now``, their attempts
    reset; returns how many."""
    marks = ",".join("?" * len(ids)) or "NULL"
    cur = store.execute(
        f"UPDATE outbound SET status = 'queued', next_attempt_at = ?, attempts = 0 "
        f"WHERE status IN ('failed', 'queued') AND id IN ({marks})",
        (now, *ids),
    )
    return int(cur.rowcount)


# -- reading -----------------------------------------------------------------------------------
def listing(
    store: SqlStorage, *, status: str | None = None, everything: bool = False, limit: int = 100
) -> list[Row]:
    """The queue newest first, as ``hdcli mail queue`` shows it: mails of ``status``, else all
    but those sent (or, with ``everything``, all), at most ``limit``."""
    where, params = [], []
    if status:
        where.append("o.status = ?")
        params.append(status)
    elif not everything:
        where.append("o.status <> 'sent'")
    sql = (
        "SELECT o.id, o.status, o.kind, o.recipient, t.number AS ticket, o.subject, "
        "o.attempts, o.next_attempt_at, o.last_error, o.created_at FROM outbound o "
        "LEFT JOIN tickets t ON t.id = o.ticket_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY o.id DESC LIMIT {int(limit)}"
    return store.query(sql, params)


def unsent_counts(store: SqlStorage) -> dict[str, int]:
    """How many mails are in each status but ``sent``."""
    rows = store.query(
        "SELECT status, count(*) AS n FROM outbound WHERE status <> 'sent' GROUP BY status"
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


def subjects(
    store: SqlStorage, ticket_id: int, message_ids: Sequence[str], kind: str
) -> dict[str, str]:
    """Message-ID → subject of the ticket's queued mails of ``kind`` among ``message_ids``."""
    if not message_ids:
        return {}
    marks = ",".join("?" * len(message_ids))
    # looked up by the indexed Message-ID
    found = store.query(
        f"SELECT message_id, subject FROM outbound WHERE message_id IN ({marks}) "
        "AND ticket_id = ? AND kind = ?",
        [*message_ids, ticket_id, kind],
    )
    return {str(r["message_id"]): str(r["subject"] or "") for r in found}


def sent_for_ticket(store: SqlStorage, message_ids: Sequence[str]) -> Row | None:
    """``ticket_id`` and ``message_id`` of a mail of a ticket that was sent with one of
    ``message_ids`` (queued, or kept as an outbound article), or None."""
    if not message_ids:
        return None
    marks = ",".join("?" * len(message_ids))
    return store.query_one(
        f"SELECT ticket_id, message_id FROM outbound WHERE message_id IN ({marks}) "
        f"AND ticket_id IS NOT NULL UNION ALL SELECT ticket_id, message_id FROM articles "
        f"WHERE message_id IN ({marks}) AND direction = 'out' LIMIT 1",
        [*message_ids, *message_ids],
    )


def mark_bounced(store: SqlStorage, message_id: str, error: str) -> None:
    """Note on a mail (by its Message-ID) why it came back."""
    store.execute("UPDATE outbound SET last_error = ? WHERE message_id = ?", (error, message_id))


# -- claims: who sends which queued mail (see hdcli.mail.outbound.Claimant) ------------------
def claimants(store: SqlStorage) -> list[str]:
    rows = store.query("SELECT DISTINCT claimed_by FROM outbound WHERE status = 'sending'")
    return [str(r["claimed_by"]) for r in rows if r["claimed_by"]]


def release_claims_of(store: SqlStorage, claimed_by: str) -> int:
    cur = store.execute(
        "UPDATE outbound SET status = 'queued', claimed_by = NULL "
        "WHERE status = 'sending' AND claimed_by = ?",
        (claimed_by,),
    )
    return int(cur.rowcount)


def release_stale_claims(store: SqlStorage, before: str) -> None:
    store.execute(
        "UPDATE outbound SET status = 'queued', claimed_by = NULL "
        "WHERE status = 'sending' AND claimed_at < ?",
        (before,),
    )


def claim_ids(store: SqlStorage, owner: str, now: str, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    store.execute(
        f"UPDATE outbound SET status = 'sending', claimed_by = ?, claimed_at = ? "
        f"WHERE status = 'queued' AND id IN ({marks})",
        (owner, now, *ids),
    )


def claim_due(store: SqlStorage, owner: str, now: str, limit: int) -> None:
    store.execute(
        "UPDATE outbound SET status = 'sending', claimed_by = ?, claimed_at = ? "
        "WHERE status = 'queued' AND id IN (SELECT id FROM outbound "
        "WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?)",
        (owner, now, now, limit),
    )


def claimed(store: SqlStorage, owner: str) -> list[Row]:
    return store.query(
        "SELECT id, attempts FROM outbound WHERE claimed_by = ? AND status = 'sending' ORDER BY id",
        (owner,),
    )


def begin_attempt(store: SqlStorage, qid: int, owner: str) -> Row | None:
    """Count the attempt and refresh the claim before the mail leaves; None when the claim
    is no longer ours. Counting first means a run killed while sending has its attempt
    counted too."""
    mine = store.execute(
        "UPDATE outbound SET attempts = attempts + 1, claimed_at = ? "
        "WHERE id = ? AND claimed_by = ? AND status = 'sending'",
        (now_iso(), qid, owner),
    ).rowcount
    if not mine:
        return None
    return store.query_one(
        "SELECT sender, recipient, message_id, raw FROM outbound WHERE id = ?", (qid,)
    )


def record_sent(store: SqlStorage, qid: int, owner: str) -> None:
    """The record of a delivery: one statement, committed on its own (both backends are in
    autocommit outside ``transaction()``), run the moment the transport returns."""
    store.execute(
        "UPDATE outbound SET status = 'sent', last_error = NULL, claimed_by = NULL, "
        "sent_at = ? WHERE id = ? AND claimed_by = ?",
        (now_iso(), qid, owner),
    )


def record_failed(store: SqlStorage, qid: int, owner: str, error: str) -> None:
    store.execute(
        "UPDATE outbound SET status = 'failed', last_error = ?, claimed_by = NULL "
        "WHERE id = ? AND claimed_by = ?",
        (error, qid, owner),
    )


def requeue(
    store: SqlStorage, qid: int, owner: str, status: str, attempts: int, due: str, error: str
) -> None:
    store.execute(
        "UPDATE outbound SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
        "claimed_by = NULL WHERE id = ? AND claimed_by = ?",
        (status, attempts, due, error, qid, owner),
    )
