"""The access trail: one row in ``access_log`` per read of personal data.

A foundation module (imports only :mod:`hdcli.util`), so that the read commands (``show``,
``report service``) and :mod:`hdcli.privacy` record reads the same way without importing the
privacy feature. ``list`` records nothing: it shows subjects and addresses of many tickets at
once, runs in every shell loop and cron job, and a row per listed ticket would make the trail
larger than the helpdesk; the trail is for reads of one ticket's or one person's content.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from hdcli.util import now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage


def digest(address: str) -> str:
    """SHA-256 of a normalised mail address: names a person in the trail and in history
    without storing the address."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def record_access(
    store: SqlStorage,
    actor: str,
    action: str,
    *,
    ticket_number: str | None = None,
    contact_id: int | None = None,
    subject: str = "",
) -> None:
    """One insert: ``actor`` read ``subject`` (a ticket number or an address digest) now."""
    ticket_id = None
    if ticket_number is not None:
        row = store.query_one("SELECT id FROM tickets WHERE number = ?", (ticket_number.strip(),))
        ticket_id = int(row["id"]) if row else None
        subject = subject or ticket_number.strip()
    with store.transaction():
        store.execute(
            "INSERT INTO access_log (actor, action, ticket_id, contact_id, subject, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (actor, action, ticket_id, contact_id, subject, now_iso()),
        )
