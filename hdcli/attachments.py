"""The attachments of a ticket's articles: list them, hand out their bytes.

A read-side module beside :mod:`hdcli.views`: ``hdcli attachment list`` and ``get`` read one
ticket's content, so both are recorded in the access trail (:mod:`hdcli.trail`) like ``show``.
A file written for ``get`` is named by :func:`hdcli.mail.parse.sanitize_filename` (the same rule
that named it at intake), lands inside the target folder only, is created 0600 and never
replaces a file unless asked to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hdcli.errors import NotFound, Refused, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hdcli.backends.base import Row, SqlStorage


@dataclass(frozen=True)
class Fetched:
    """One attachment's bytes and the name they are saved under."""

    filename: str
    content_type: str
    data: bytes


def list_attachments(store: SqlStorage, actor: str, number: str) -> list[Row]:
    """The ticket's attachments (``id``, ``article_id``, ``filename``, ``content_type``,
    ``size``), oldest first; NotFound (exit 3) for an unknown ticket. Recorded in the trail."""
    from hdcli.repo import articles as article_repo
    from hdcli.trail import record_access
    from hdcli.views import get_ticket

    ticket = get_ticket(store, number)
    record_access(store, actor, "attachment.list", ticket_number=str(ticket["number"]))
    return article_repo.attachments_of_ticket(store, int(ticket["id"]))


def fetch(
    store: SqlStorage,
    actor: str,
    number: str,
    attachment_id: int,
    deliver: Callable[[Fetched], None],
) -> Fetched:
    """Hand the bytes of attachment ``attachment_id`` of the ticket, exactly as received and
    under a sanitised name, to ``deliver`` (which writes them); recorded in the trail once
    ``deliver`` returned. NotFound (exit 3) for an unknown ticket or an attachment of another
    ticket, Refused (exit 4) for one whose bytes were erased."""
    from hdcli.mail.parse import sanitize_filename
    from hdcli.repo import articles as article_repo
    from hdcli.trail import record_access
    from hdcli.views import get_ticket

    ticket = get_ticket(store, number)
    row = article_repo.attachment_of_ticket(store, int(ticket["id"]), attachment_id)
    if row is None:
        raise NotFound(
            f"ticket {ticket['number']} has no attachment {attachment_id} "
            f"(see `hdcli attachment list {ticket['number']}`)"
        )
    if not row["content"] and int(row["size"] or 0) > 0:  # erased: name and size stay
        raise Refused(f"the content of attachment {attachment_id} was erased")
    fetched = Fetched(
        filename=sanitize_filename(str(row["filename"] or "")),
        content_type=str(row["content_type"] or "application/octet-stream"),
        data=bytes(row["content"] or b""),
    )
    deliver(fetched)
    record_access(store, actor, "attachment.get", ticket_number=str(ticket["number"]))
    return fetched


def target_path(fetched: Fetched, output: str | None, cwd: Path) -> Path:
    """Where ``get`` writes: ``output`` as given when it names a file, the sanitised name
    inside ``output`` (or ``cwd``) when it names a folder. The sanitised name has no path
    separator, so it stays inside that folder."""
    if output is not None and not Path(output).is_dir():
        return Path(output)
    folder = Path(output) if output is not None else cwd
    path = folder / fetched.filename
    if path.parent != folder:  # sanitize_filename keeps one component; never trust it less
        raise UsageError(f"refusing to write outside {folder}")
    return path


def save(fetched: Fetched, path: Path, *, force: bool = False) -> None:
    """Write the bytes to ``path`` as a 0600 file; Refused (exit 4) when it exists and
    ``force`` is not given. Raises OSError."""
    from hdcli.util import private_file

    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = private_file(path, flags)
    except FileExistsError:
        raise Refused(f"{path} exists (use --force to replace it)") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(fetched.data)
