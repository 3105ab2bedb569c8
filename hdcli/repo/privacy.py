"""The SQL of data protection: what hdcli holds about one person, anonymising a person or a
closed ticket, the retention periods, and the access trail (``access_log``).

Erasure scans every table (:func:`scrub_table`): a person's address and name may stand in any
text column, so no list of columns could be trusted to be complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hdcli.util import like_escape, like_pattern, names_address, now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row

ERASED = "[erased]"
#: the address an erased contact keeps (contacts.email is unique and required)
ERASED_DOMAIN = "erased.invalid"


#: What separates the addresses of an address field (``a@x, b@y``, ``Name <a@x>``,
#: ``"Last, First" <a@x>``, ``team: a@x;``): each becomes a blank before the comparison.
_SEPARATORS = (",", ";", "<", ">", '"', "(", ")", ":", "\t", "\r", "\n")


def _words(col: str) -> str:
    """SQL: the lower-case addresses of the address field ``col``, each between blanks."""
    expr = f"lower({col})"
    for sep in _SEPARATORS:
        expr = f"replace({expr}, '{sep}', ' ')"
    return f"(' ' || {expr} || ' ')"


def _holds(col: str) -> str:
    """SQL: the address field ``col`` holds the address itself, not one containing it or
    resembling it (two parameters, :func:`holds_params`): a LIKE of the escaped address
    picks the candidates, the address between separators decides."""
    return f"(lower({col}) LIKE ? ESCAPE '\\' AND {_words(col)} LIKE ? ESCAPE '\\')"


def holds_params(addr: str) -> tuple[str, str]:
    """The parameters of :func:`_holds` for the address ``addr``."""
    low = addr.lower()
    return like_pattern(low), f"% {like_escape(low)} %"


#: an article that names the person: they are its sender or among its recipients or its Cc
#: (parameters: :func:`holds_params` three times)
_NAMES = f"({_holds('a.sender')} OR {_holds('a.recipients')} OR {_holds('a.cc')})"


def _sql_ticket_ids() -> str:
    """Parameters: contact id, address, :func:`holds_params` ×3. Their tickets: as requester, as a
    participant, and every ticket with an article they sent or that was sent to them (To or
    Cc), which is how a person who is only in the Cc takes part."""
    return (
        "SELECT id FROM tickets WHERE requester_id = ? "
        "UNION SELECT ticket_id FROM ticket_participants WHERE email = ? "
        f"UNION SELECT a.ticket_id FROM articles a WHERE {_NAMES}"
    )


def _sql_tickets() -> str:
    """Parameters: contact id, :func:`holds_params` (cc), the same (recipients), address, then
    those of :func:`_sql_ticket_ids`."""
    return (
        "SELECT t.number, t.subject, t.status, t.channel, t.created_at, t.closed_at, "
        "CASE WHEN t.requester_id = ? THEN 'requester' WHEN p.role IS NOT NULL THEN p.role "
        f"WHEN EXISTS (SELECT 1 FROM articles c WHERE c.ticket_id = t.id AND {_holds('c.cc')}) "
        "THEN 'cc' WHEN EXISTS (SELECT 1 FROM articles r WHERE r.ticket_id = t.id "
        f"AND {_holds('r.recipients')}) THEN 'recipient' ELSE 'sender' END AS role "
        "FROM tickets t LEFT JOIN ticket_participants p ON p.ticket_id = t.id AND p.email = ? "
        f"WHERE t.id IN ({_sql_ticket_ids()}) ORDER BY t.id"
    )


def _sql_articles() -> str:
    return (
        "SELECT a.id, t.number AS ticket, a.kind, a.direction, a.sender, a.recipients, a.cc, "
        "a.subject, a.body, a.created_at FROM articles a JOIN tickets t ON t.id = a.ticket_id "
        f"WHERE {_NAMES} ORDER BY a.id"
    )


def _sql_attachments(n: int) -> str:
    """The attachments of ``n`` articles (their ids the parameters), in one statement."""
    marks = ", ".join("?" * n)
    return (
        "SELECT article_id, filename, size, content_type FROM attachments "
        f"WHERE article_id IN ({marks}) ORDER BY article_id, id"
    )


def _sql_time() -> str:
    return (
        "SELECT t.number AS ticket, e.work_date, e.minutes, e.activity, e.billable "
        "FROM time_entries e JOIN tickets t ON t.id = e.ticket_id "
        f"WHERE e.ticket_id IN ({_sql_ticket_ids()}) ORDER BY e.id"
    )


def _sql_reports() -> str:
    return (
        "SELECT t.number AS ticket, r.month, r.worked_minutes, r.billed_minutes, r.amount, "
        "r.status FROM service_reports r JOIN tickets t ON t.id = r.ticket_id "
        f"WHERE r.ticket_id IN ({_sql_ticket_ids()}) ORDER BY r.id"
    )


def _sql_approvals() -> str:
    return (
        "SELECT t.number AS ticket, a.kind, a.status, a.via, a.decided_at FROM approvals a "
        f"JOIN tickets t ON t.id = a.ticket_id WHERE {_holds('a.decided_by')} ORDER BY a.id"
    )


def _sql_history() -> str:
    """Candidates: the detail is free text, :func:`_history` keeps the events that name the
    address standing alone."""
    return (
        "SELECT entity, entity_key, actor, action, created_at, detail FROM history "
        "WHERE lower(entity_key) = ? OR lower(detail) LIKE ? ESCAPE '\\' ORDER BY id"
    )


def _sql_inbound() -> str:
    """Candidates, as :func:`_sql_history`."""
    return (
        "SELECT outcome, reason, count(*) AS count FROM inbound_log "
        "WHERE lower(reason) LIKE ? ESCAPE '\\' GROUP BY outcome, reason "
        "ORDER BY outcome, reason"
    )


def _sql_trail() -> str:
    return (
        "SELECT l.created_at, l.actor, l.action, l.subject FROM access_log l "
        "WHERE l.contact_id = ? OR l.subject = ? "
        f"OR l.ticket_id IN ({_sql_ticket_ids()}) ORDER BY l.id"
    )


#: articles read before their attachments are looked up, in one statement per batch
ARTICLE_BATCH = 500


def sections(
    store: SqlStorage, cid: int, addr: str, sha: str
) -> Iterator[tuple[str, Iterator[Row]]]:
    """What the store holds about the contact ``cid`` (address ``addr``, digest ``sha``), a
    streamed section at a time.

    Every section is one cursor read in chunks (``store.iterate``); the attachments of the
    articles are read with one statement per :data:`ARTICLE_BATCH` articles. The number of
    statements does not grow with the person's tickets, nor does memory: at most one batch
    of articles is held at a time."""
    low = addr.lower()
    held = holds_params(addr)
    names = held * 3
    ids = (cid, addr, *names)

    def articles() -> Iterator[Row]:
        batch: list[Row] = []
        for art in store.iterate(_sql_articles(), names):
            batch.append(art)
            if len(batch) >= ARTICLE_BATCH:
                yield from _with_attachments(store, batch)
                batch = []
        if batch:
            yield from _with_attachments(store, batch)

    yield "tickets", store.iterate(_sql_tickets(), (cid, *held, *held, addr, *ids))
    yield "articles", articles()
    yield "time_entries", store.iterate(_sql_time(), ids)
    yield "service_reports", store.iterate(_sql_reports(), ids)
    yield "approvals", store.iterate(_sql_approvals(), held)
    yield "history", _history(store.iterate(_sql_history(), (low, held[0])), low)
    yield "inbound_log", _naming(store.iterate(_sql_inbound(), (held[0],)), "reason", low)
    yield "access_trail", store.iterate(_sql_trail(), (cid, sha, *ids))


def attachment_files(store: SqlStorage, addr: str) -> Iterator[Row]:
    """``id``, ``ticket`` (number), ``filename`` and ``size`` of the attachments of the
    articles that name ``addr``, oldest first (their bytes: :func:`attachment_content`)."""
    return store.iterate(
        "SELECT x.id, t.number AS ticket, x.filename, x.size FROM attachments x "
        "JOIN articles a ON a.id = x.article_id JOIN tickets t ON t.id = a.ticket_id "
        f"WHERE {_NAMES} ORDER BY x.id",
        holds_params(addr) * 3,
    )


def attachment_content(store: SqlStorage, attachment_id: int) -> bytes:
    """The bytes of one attachment (empty once erased): read one at a time, so that an
    export holds at most one attachment in memory."""
    row = store.query_one("SELECT content FROM attachments WHERE id = ?", (attachment_id,))
    return bytes(row["content"] or b"") if row else b""


def _history(rows: Iterator[Row], addr: str) -> Iterator[Row]:
    """The events about ``addr`` or whose detail names it, without the detail."""
    for row in rows:
        detail = row.pop("detail")
        if str(row["entity_key"]).lower() == addr or names_address(detail, addr):
            yield row


def _naming(rows: Iterator[Row], col: str, addr: str) -> Iterator[Row]:
    """The rows whose free text ``col`` names ``addr`` standing alone."""
    return (row for row in rows if names_address(row[col], addr))


def _with_attachments(store: SqlStorage, batch: list[Row]) -> Iterator[Row]:
    """The articles of ``batch`` without their id, each with the list of its attachments."""
    found: dict[int, list[Row]] = {int(a["id"]): [] for a in batch}
    for att in store.query(_sql_attachments(len(found)), tuple(found)):
        found[int(att.pop("article_id"))].append(att)
    for art in batch:
        art["attachments"] = found[int(art.pop("id"))]
        yield art


def text_columns(store: SqlStorage, table: str) -> list[str]:
    cols = store.columns(table)
    return [c for c in cols if c not in ("id",)]


def scrub_table(
    store: SqlStorage,
    table: str,
    pat: re.Pattern[str],
    terms: list[str],
    raw_pat: re.Pattern[bytes] | None = None,
) -> int:
    """Replace every occurrence of the terms (``pat`` finds them) in every text column of
    ``table``; blobs in which ``raw_pat`` finds one lose their bytes. A plain search for the
    terms picks the values ``pat`` looks at. Returns the number of rows changed."""
    if "id" not in store.columns(table):
        return 0
    lowered = [t.lower() for t in terms]
    raw_terms = [t.encode("utf-8") for t in lowered]
    changed: list[tuple[int, dict[str, Any]]] = []
    for row in store.iterate(f"SELECT * FROM {table}"):
        sets: dict[str, Any] = {}
        for col, value in row.items():
            if col == "id" or value is None:
                continue
            if isinstance(value, str):
                if any(t in value.lower() for t in lowered):
                    new = pat.sub(ERASED, value)
                    if new != value:
                        sets[col] = new
            elif isinstance(value, bytes | bytearray | memoryview):
                low = bytes(value).lower()
                if any(t in low for t in raw_terms) and (
                    raw_pat is None or raw_pat.search(bytes(value))
                ):
                    sets[col] = b""
        if sets:
            changed.append((int(row["id"]), sets))
    for row_id, sets in changed:
        cols = ", ".join(f"{c} = ?" for c in sets)
        store.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*sets.values(), row_id))
    return len(changed)


def is_participant(store: SqlStorage, addr: str) -> bool:
    """Whether ``addr`` takes part in a ticket: a participant, or in the Cc or recipients of
    one of its articles (the address itself, not one containing it)."""
    held = holds_params(addr)
    return (
        store.query_one("SELECT 1 FROM ticket_participants WHERE email = ? LIMIT 1", (addr,))
        is not None
        or store.query_one(
            f"SELECT 1 FROM articles WHERE {_holds('cc')} OR {_holds('recipients')} LIMIT 1",
            (*held, *held),
        )
        is not None
    )


def open_tickets(store: SqlStorage, contact_id: int) -> list[str]:
    return [
        str(r["number"])
        for r in store.query(
            "SELECT number FROM tickets WHERE requester_id = ? AND status <> 'closed' ORDER BY id",
            (contact_id,),
        )
    ]


def trail_of_ticket(store: SqlStorage, number: str) -> list[Row] | None:
    """The access trail of the ticket ``number``; None when there is no such ticket."""
    if not store.query_one("SELECT id FROM tickets WHERE number = ?", (number,)):
        return None
    return store.query(
        "SELECT l.created_at, l.actor, l.action, l.subject FROM access_log l "
        "JOIN tickets t ON t.id = l.ticket_id WHERE t.number = ? ORDER BY l.id",
        (number,),
    )


def trail_of_person(store: SqlStorage, cid: int, sha: str, addr: str) -> list[Row]:
    """The access trail of the contact ``cid`` (digest ``sha``, address ``addr``)."""
    return store.query(_sql_trail(), (cid, sha, cid, addr, *holds_params(addr) * 3))


def add_access(
    store: SqlStorage,
    actor: str,
    action: str,
    *,
    ticket_number: str | None,
    contact_id: int | None,
    subject: str,
) -> None:
    """One row of the access trail, in its own transaction."""
    ticket_id = None
    if ticket_number is not None:
        row = store.query_one("SELECT id FROM tickets WHERE number = ?", (ticket_number,))
        ticket_id = int(row["id"]) if row else None
    with store.transaction():
        store.execute(
            "INSERT INTO access_log (actor, action, ticket_id, contact_id, subject, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (actor, action, ticket_id, contact_id, subject, now_iso()),
        )


def erase_contact(store: SqlStorage, cid: int, addr: str, sha: str) -> None:
    """The contact's own data: the bytes of their mails' attachments, their participations,
    their contact row (kept with a placeholder address, so billing records still point at it)."""
    store.execute(
        "UPDATE attachments SET content = ?, filename = 'removed' WHERE article_id IN "
        f"(SELECT id FROM articles WHERE {_holds('sender')})",
        (b"", *holds_params(addr)),
    )
    store.execute("DELETE FROM ticket_participants WHERE email = ?", (addr,))
    store.execute(
        "UPDATE contacts SET name = ?, email = ?, phone = NULL, roles = '' WHERE id = ?",
        (ERASED, f"{sha[:24]}@{ERASED_DOMAIN}", cid),
    )


def _sql_due_tickets() -> str:
    # an anonymised ticket has no article left whose sender is not ERASED: a resumed run
    # skips what an earlier (killed) run already finished
    return (
        "SELECT t.id FROM tickets t WHERE t.status = 'closed' AND t.closed_at < ? "
        "AND (t.subject <> ? OR EXISTS (SELECT 1 FROM articles a WHERE a.ticket_id = t.id "
        "AND a.sender <> ?) OR EXISTS (SELECT 1 FROM ticket_participants p "
        "WHERE p.ticket_id = t.id)) ORDER BY t.id LIMIT ?"
    )


def anonymise_ticket(store: SqlStorage, ticket_id: int) -> tuple[int, int]:
    """A closed ticket's content goes (its figures stay); returns (articles, attachments)."""
    attachments = _count(
        store,
        "UPDATE attachments SET content = ?, filename = 'removed' WHERE article_id IN "
        "(SELECT id FROM articles WHERE ticket_id = ?)",
        (b"", ticket_id),
    )
    articles = _count(
        store,
        "UPDATE articles SET sender = ?, recipients = ?, cc = ?, subject = ?, body = ?, "
        "body_html = NULL WHERE ticket_id = ?",
        (ERASED, ERASED, "", ERASED, ERASED, ticket_id),
    )
    store.execute("DELETE FROM ticket_participants WHERE ticket_id = ?", (ticket_id,))
    store.execute("UPDATE tickets SET subject = ? WHERE id = ?", (ERASED, ticket_id))
    store.execute("UPDATE history SET detail = '{}' WHERE ticket_id = ?", (ticket_id,))
    store.execute(
        "UPDATE approvals SET change_text = ?, requested_by = ?, decided_by = CASE WHEN "
        "decided_by IS NULL THEN NULL ELSE ? END, note = NULL WHERE ticket_id = ?",
        (ERASED, ERASED, ERASED, ticket_id),
    )
    store.execute(
        "UPDATE service_reports SET sent_to = CASE WHEN sent_to IS NULL THEN NULL ELSE ? END, "
        "decided_by = CASE WHEN decided_by IS NULL THEN NULL ELSE ? END, reason = NULL "
        "WHERE ticket_id = ?",
        (ERASED, ERASED, ticket_id),
    )
    store.execute(
        "UPDATE outbound SET raw = ?, recipient = ?, subject = ? WHERE ticket_id = ?",
        (b"", ERASED, ERASED, ticket_id),
    )
    return articles, attachments


def _sql_due_contacts() -> str:
    return (
        "SELECT c.id, c.email FROM contacts c WHERE c.email NOT LIKE ? "
        "AND EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = c.id "
        "AND (t.status <> 'closed' OR t.closed_at >= ?)) ORDER BY c.id LIMIT ?"
    )


def due_tickets(store: SqlStorage, cutoff: str, limit: int) -> list[int]:
    """Ids of closed tickets closed before ``cutoff`` not yet anonymised, at most ``limit``."""
    return [int(r["id"]) for r in store.query(_sql_due_tickets(), (cutoff, ERASED, ERASED, limit))]


def due_contacts(store: SqlStorage, cutoff: str, limit: int) -> list[Row]:
    """Contacts not yet anonymised whose every ticket was closed before ``cutoff``."""
    return store.query(_sql_due_contacts(), (f"%@{ERASED_DOMAIN}", cutoff, limit))


def anonymise_contact(store: SqlStorage, cid: int, email: str, sha: str) -> None:
    store.execute(
        "UPDATE contacts SET name = ?, email = ?, phone = NULL, roles = '' WHERE id = ?",
        (ERASED, f"{sha[:24]}@{ERASED_DOMAIN}", cid),
    )
    store.execute(
        "UPDATE history SET entity_key = ?, detail = '{}' "
        "WHERE entity = 'contact' AND entity_key = ?",
        (sha, email),
    )


def drop_rejected_log(store: SqlStorage, before: str) -> int:
    """Rejected-mail log rows received before ``before`` go; returns how many."""
    return _count(
        store, "DELETE FROM inbound_log WHERE outcome = 'rejected' AND received_at < ?", (before,)
    )


def strip_sent_bodies(store: SqlStorage, before: str) -> int:
    """Raw bodies of outbound mail sent before ``before`` go; returns how many."""
    return _count(
        store,
        "UPDATE outbound SET raw = ? WHERE status = 'sent' AND sent_at < ? AND raw <> ?",
        (b"", before, b""),
    )


def drop_access_log(store: SqlStorage, before: str) -> int:
    """Access-trail rows older than ``before`` go; returns how many."""
    return _count(store, "DELETE FROM access_log WHERE created_at < ?", (before,))


def _count(store: SqlStorage, sql: str, params: tuple[Any, ...]) -> int:
    cur = store.execute(sql, params)
    return int(getattr(cur, "rowcount", 0) or 0)
