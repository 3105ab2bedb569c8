"""Inbound mail: the ``inbound_log`` (one row per message ever seen, by the SHA-256 of its
key, under a UNIQUE constraint) and the ``quarantine`` of messages kept for a human."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def claim(store: SqlStorage, key: str, source: str, at: str, *, id_key: str | None = None) -> bool:
    """Log the message ``key`` (``id_key``: the hash of its Message-ID alone) as being
    processed; False when it was seen before.

    Inserting first (and not checking first) makes a concurrent duplicate wait for the other
    transaction and then find the row: never an error.
    """
    row = store.query_one(
        "INSERT INTO inbound_log (message_key, id_key, source, outcome, reason, received_at) "
        "VALUES (?, ?, ?, 'processing', '', ?) ON CONFLICT (message_key) DO NOTHING RETURNING id",
        (key, id_key, source, at),
    )
    return row is not None


def seen_by_id(store: SqlStorage, id_key: str, key: str) -> Row | None:
    """Another message logged with the same Message-ID (the oldest), if any."""
    return store.query_one(
        "SELECT message_key, outcome FROM inbound_log WHERE id_key = ? AND message_key <> ? "
        "ORDER BY id LIMIT 1",
        (id_key, key),
    )


def set_outcome(
    store: SqlStorage, key: str, outcome: str, ticket_id: int | None, reason: str
) -> None:
    """Write what became of the message ``key``."""
    store.execute(
        "UPDATE inbound_log SET outcome = ?, ticket_id = ?, reason = ? WHERE message_key = ?",
        (outcome, ticket_id, reason, key),
    )


def seen(store: SqlStorage, key: str) -> Row | None:
    """The first ``outcome`` of the message ``key`` and the ``number`` of its ticket (None
    without one), or None when it was never seen."""
    return store.query_one(
        "SELECT l.outcome, t.number FROM inbound_log l "
        "LEFT JOIN tickets t ON t.id = l.ticket_id WHERE l.message_key = ?",
        (key,),
    )


def quarantine(store: SqlStorage, key: str, source: str, reason: str, raw: bytes, at: str) -> None:
    """Keep a message that could not be ingested, with the reason."""
    store.execute(
        "INSERT INTO quarantine (message_key, source, reason, raw, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (key, source, reason, raw, at),
    )
