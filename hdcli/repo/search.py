"""The text of the search index: one document per ticket, read from the tickets, their
requesters, articles and attachments (the index itself is the backend's: ``search_*`` of
:class:`~hdcli.backends.base.SqlStorage`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage

#: characters of one ticket's document at most (PostgreSQL's tsvector has a size limit; a
#: mail of megabytes is found by its first pages)
MAX_DOCUMENT = 200_000
_PUNCT = re.compile(r"[\W_]+")


def _with_parts(text: str) -> str:
    """An address or a file name and its parts as words (``anna.schmidt@muster.example
    anna schmidt muster example``): PostgreSQL's parser keeps an address or a file name as
    one token, so its parts would not be found."""
    parts = _PUNCT.sub(" ", text).strip()
    return f"{text} {parts}" if parts and parts != text else text


def documents(store: SqlStorage, ticket_ids: Sequence[int]) -> list[tuple[int, str]]:
    """``(ticket id, text)`` of these tickets: subject, requester's name and address, every
    article's sender, subject and body, every attachment's name."""
    if not ticket_ids:
        return []
    ids = list(dict.fromkeys(int(t) for t in ticket_ids))
    marks = ", ".join("?" * len(ids))
    parts: dict[int, list[str]] = {i: [] for i in ids}
    found: set[int] = set()
    for r in store.query(
        "SELECT t.id, t.subject, c.name, c.email FROM tickets t "
        f"LEFT JOIN contacts c ON c.id = t.requester_id WHERE t.id IN ({marks})",
        ids,
    ):
        found.add(int(r["id"]))
        parts[int(r["id"])] += [
            str(r["subject"]),
            str(r["name"] or ""),
            _with_parts(str(r["email"] or "")),
        ]
    for r in store.query(
        "SELECT ticket_id, sender, subject, body FROM articles "
        f"WHERE ticket_id IN ({marks}) ORDER BY id",
        ids,
    ):
        parts[int(r["ticket_id"])] += [
            _with_parts(str(r["sender"])),
            str(r["subject"]),
            str(r["body"]),
        ]
    for r in store.query(
        "SELECT a.ticket_id, x.filename FROM attachments x JOIN articles a ON a.id = x.article_id "
        f"WHERE a.ticket_id IN ({marks}) ORDER BY x.id",
        ids,
    ):
        parts[int(r["ticket_id"])].append(_with_parts(str(r["filename"])))
    return [
        (tid, "\n".join(p for p in parts[tid] if p)[:MAX_DOCUMENT]) for tid in ids if tid in found
    ]


def ticket_ids(store: SqlStorage) -> Iterator[int]:
    """Every ticket's id, in order (for a rebuild)."""
    for r in store.iterate("SELECT id FROM tickets ORDER BY id"):
        yield int(r["id"])


def of_contact(store: SqlStorage, contact_id: int) -> list[int]:
    """The tickets whose document holds the contact's name or address: where they are the
    requester."""
    rows = store.query("SELECT id FROM tickets WHERE requester_id = ?", (contact_id,))
    return [int(r["id"]) for r in rows]
