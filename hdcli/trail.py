"""The access trail: one row in ``access_log`` per read of personal data.

A foundation module (its SQL is in :mod:`hdcli.repo.privacy`), so that the read commands (``show``,
``report service``) and :mod:`hdcli.privacy` record reads the same way without importing the
privacy feature. ``list`` records nothing: it shows subjects and addresses of many tickets at
once, runs in every shell loop and cron job, and a row per listed ticket would make the trail
larger than the helpdesk; the trail is for reads of one ticket's or one person's content.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

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
    if ticket_number is not None:
        subject = subject or ticket_number.strip()
    from hdcli.repo.privacy import add_access

    add_access(
        store,
        actor,
        action,
        ticket_number=ticket_number.strip() if ticket_number is not None else None,
        contact_id=contact_id,
        subject=subject,
    )
