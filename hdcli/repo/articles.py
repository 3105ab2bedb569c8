"""The ``articles`` of tickets (mail in and out, phone and fax notes, internal notes) and
their ``attachments``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new article; returns its id."""
    return store.insert("articles", dict(row))


#: attachments of this size and more are inserted one by one, so that the store can write
#: their bytes in pieces (:meth:`~hdcli.backends.base.SqlStorage.insert_blob`)
LARGE = 1 << 20


def add_attachments(
    store: SqlStorage, article_id: int, attachments: Iterable[tuple[str, str, bytes]]
) -> None:
    """Keep ``(filename, content type, bytes)`` attachments of an article (one statement for
    all of them; none for none)."""
    rows = []
    for name, ctype, data in attachments:
        if len(data) >= LARGE:
            values = {"article_id": article_id, "filename": name, "content_type": ctype}
            store.insert_blob("attachments", {**values, "size": len(data)}, "content", data)
        else:
            rows.append((article_id, name, ctype, len(data), data))
    if rows:
        store.executemany(
            "INSERT INTO attachments (article_id, filename, content_type, size, content) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )


def thread(store: SqlStorage, ticket_id: int) -> list[Row]:
    """``message_id``, ``direction`` and ``in_reply_to`` of the ticket's articles that have a
    Message-ID, oldest first."""
    return store.query(
        "SELECT message_id, direction, in_reply_to FROM articles WHERE ticket_id = ? "
        "AND message_id IS NOT NULL ORDER BY id",
        (ticket_id,),
    )


def sent_since(store: SqlStorage, ticket_id: int, since: str) -> list[str]:
    """The Message-IDs of the ticket's outbound articles written at or after ``since``."""
    rows = store.query(
        "SELECT message_id FROM articles WHERE ticket_id = ? AND direction = 'out' "
        "AND message_id IS NOT NULL AND created_at >= ?",
        (ticket_id, since),
    )
    return [str(r["message_id"]) for r in rows]


def of_ticket(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The ticket's articles, oldest first, as ``hdcli show`` shows them: ``id``, ``kind``,
    ``direction``, ``sender``, ``recipients``, ``cc``, ``subject``, ``body``, ``message_id``,
    ``in_reply_to``, ``created_by``, ``created_at``."""
    return store.query(
        "SELECT id, kind, direction, sender, recipients, cc, subject, body, message_id, "
        "in_reply_to, created_by, created_at FROM articles WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    )


def attachments_of_ticket(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The attachments of all the ticket's articles without their content: ``article_id``,
    ``id``, ``filename``, ``content_type``, ``size``, in the order they were kept."""
    return store.query(
        "SELECT x.article_id, x.id, x.filename, x.content_type, x.size FROM attachments x "
        "JOIN articles a ON a.id = x.article_id WHERE a.ticket_id = ? ORDER BY x.id",
        (ticket_id,),
    )


def attachment_of_ticket(store: SqlStorage, ticket_id: int, attachment_id: int) -> Row | None:
    """One attachment of the ticket's articles with its ``content``: ``article_id``, ``id``,
    ``filename``, ``content_type``, ``size``, ``content``; None when the ticket has no such
    attachment."""
    rows = store.query(
        "SELECT x.article_id, x.id, x.filename, x.content_type, x.size, x.content "
        "FROM attachments x JOIN articles a ON a.id = x.article_id "
        "WHERE a.ticket_id = ? AND x.id = ?",
        (ticket_id, attachment_id),
    )
    return rows[0] if rows else None


def move(store: SqlStorage, from_ticket: int, to_ticket: int) -> None:
    """Move every article of one ticket (with its attachments) to another."""
    store.execute("UPDATE articles SET ticket_id = ? WHERE ticket_id = ?", (to_ticket, from_ticket))


def ids_of(store: SqlStorage, ticket_id: int) -> list[int]:
    """The ids of the ticket's articles, oldest first."""
    rows = store.query("SELECT id FROM articles WHERE ticket_id = ? ORDER BY id", (ticket_id,))
    return [int(r["id"]) for r in rows]


def move_ids(store: SqlStorage, ids: list[int], to_ticket: int) -> None:
    """Move these articles (with their attachments) to another ticket."""
    marks = ",".join("?" * len(ids))
    store.execute(f"UPDATE articles SET ticket_id = ? WHERE id IN ({marks})", (to_ticket, *ids))
