"""Data protection: a person's access request (export), erasure, retention purge, access trail.

A feature above the lifecycle; nothing imports it but its command. The SQL lives in small
named functions (``_sql_*``) so that it can move into a repository module unchanged.

Erasure anonymises, it does not delete: ticket numbers, dates, time entries, amounts, service
report states, the organisation and the contract stay for the billing records the law requires
(§ 147 AO, § 257 HGB); every occurrence of the person's address and name is replaced, the bytes
of attachments of their mails are dropped. One history event stays: who erased whom (the
SHA-256 of the address), when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from hdcli.customers import get_contact
from hdcli.errors import Refused
from hdcli.trail import digest, record_access
from hdcli.unit import change, history
from hdcli.util import norm_email

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row

ERASED = "[erased]"
#: the address an erased contact keeps (contacts.email is unique and required)
ERASED_DOMAIN = "erased.invalid"


# -- SQL -------------------------------------------------------------------------------------------
def _sql_ticket_ids() -> str:
    return (
        "SELECT id FROM tickets WHERE requester_id = ? "
        "UNION SELECT ticket_id FROM ticket_participants WHERE email = ?"
    )


def _sql_tickets() -> str:
    return (
        "SELECT t.number, t.subject, t.status, t.channel, t.created_at, t.closed_at, "
        "CASE WHEN t.requester_id = ? THEN 'requester' ELSE p.role END AS role "
        "FROM tickets t LEFT JOIN ticket_participants p ON p.ticket_id = t.id AND p.email = ? "
        f"WHERE t.id IN ({_sql_ticket_ids()}) ORDER BY t.id"
    )


def _sql_articles() -> str:
    return (
        "SELECT a.id, t.number AS ticket, a.kind, a.direction, a.sender, a.recipients, a.cc, "
        "a.subject, a.body, a.created_at FROM articles a JOIN tickets t ON t.id = a.ticket_id "
        "WHERE lower(a.sender) LIKE ? OR lower(a.recipients) LIKE ? OR lower(a.cc) LIKE ? "
        "ORDER BY a.id"
    )


def _sql_attachments() -> str:
    return "SELECT filename, size, content_type FROM attachments WHERE article_id = ? ORDER BY id"


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
        "JOIN tickets t ON t.id = a.ticket_id WHERE lower(a.decided_by) = ? ORDER BY a.id"
    )


def _sql_history() -> str:
    return (
        "SELECT entity, entity_key, actor, action, created_at FROM history "
        "WHERE lower(entity_key) = ? OR lower(detail) LIKE ? ORDER BY id"
    )


def _sql_inbound() -> str:
    return (
        "SELECT outcome, reason, count(*) AS count FROM inbound_log "
        "WHERE lower(reason) LIKE ? GROUP BY outcome, reason ORDER BY outcome, reason"
    )


def _sql_trail() -> str:
    return (
        "SELECT l.created_at, l.actor, l.action, l.subject FROM access_log l "
        "WHERE l.contact_id = ? OR l.subject = ? "
        f"OR l.ticket_id IN ({_sql_ticket_ids()}) ORDER BY l.id"
    )


# -- export ----------------------------------------------------------------------------------------
def _sections(store: SqlStorage, contact: Row) -> Iterator[tuple[str, Iterator[Row]]]:
    cid, addr = int(contact["id"]), str(contact["email"])
    like = f"%{addr.lower()}%"

    def articles() -> Iterator[Row]:
        for art in store.iterate(_sql_articles(), (like, like, like)):
            art_id = art.pop("id")
            art["attachments"] = store.query(_sql_attachments(), (art_id,))
            yield art

    yield "tickets", store.iterate(_sql_tickets(), (cid, addr, cid, addr))
    yield "articles", articles()
    yield "time_entries", store.iterate(_sql_time(), (cid, addr))
    yield "service_reports", store.iterate(_sql_reports(), (cid, addr))
    yield "approvals", store.iterate(_sql_approvals(), (addr.lower(),))
    yield "history", store.iterate(_sql_history(), (addr.lower(), like))
    yield "inbound_log", store.iterate(_sql_inbound(), (like,))
    yield "access_trail", store.iterate(_sql_trail(), (cid, digest(addr), cid, addr))


def _contact_part(contact: Row) -> Row:
    return {
        "name": contact["name"],
        "email": contact["email"],
        "phone": contact["phone"],
        "organisation": contact["organisation"],
        "roles": [r for r in str(contact["roles"]).split(",") if r],
        "created_at": contact["created_at"],
    }


def export(ctx: Context, key: str, stream: TextIO, fmt: str = "json") -> int:
    """Write everything hdcli holds about one person to ``stream``, section by section.

    Rows are read with the store's ``iterate`` and written one at a time: memory stays
    constant whatever the number of tickets. The read is recorded in the access trail first.
    Returns the number of rows written.
    """
    store = ctx.store
    contact = get_contact(store, key)
    record_access(
        store,
        ctx.actor,
        "privacy.export",
        contact_id=int(contact["id"]),
        subject=digest(str(contact["email"])),
    )
    count = 0
    if fmt == "md":
        c = _contact_part(contact)
        stream.write(f"# Data held about {c['name']} <{c['email']}>\n\n")
        for k, v in c.items():
            stream.write(f"- {k}: {v}\n")
        for name, rows in _sections(store, contact):
            stream.write(f"\n## {name.replace('_', ' ')}\n\n")
            for row in rows:
                count += 1
                stream.write("- " + "; ".join(f"{k}: {_md(v)}" for k, v in row.items()) + "\n")
        return count
    stream.write('{"contact": ')
    stream.write(json.dumps(_contact_part(contact), ensure_ascii=False, default=str))
    for name, rows in _sections(store, contact):
        stream.write(f', "{name}": [')
        for i, row in enumerate(rows):
            count += 1
            stream.write(
                ("" if i == 0 else ", ") + json.dumps(row, ensure_ascii=False, default=str)
            )
        stream.write("]")
    stream.write("}\n")
    return count


def _md(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{a['filename']} ({a['size']} bytes, {a['content_type']})" for a in value)
    return " ".join(str(value).split())


# -- erase -----------------------------------------------------------------------------------------
def _pattern(terms: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)


def _text_columns(store: SqlStorage, table: str) -> list[str]:
    cols = store.columns(table)
    return [c for c in cols if c not in ("id",)]


def _scrub_table(store: SqlStorage, table: str, pat: re.Pattern[str], terms: list[str]) -> int:
    """Replace every occurrence of the terms in every text column of ``table``; blobs that
    hold a term lose their bytes. Returns the number of rows changed."""
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
                    sets[col] = pat.sub(ERASED, value)
            elif isinstance(value, bytes | bytearray | memoryview):
                low = bytes(value).lower()
                if any(t in low for t in raw_terms):
                    sets[col] = b""
        if sets:
            changed.append((int(row["id"]), sets))
    for row_id, sets in changed:
        cols = ", ".join(f"{c} = ?" for c in sets)
        store.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*sets.values(), row_id))
    return len(changed)


def open_tickets(store: SqlStorage, contact_id: int) -> list[str]:
    return [
        str(r["number"])
        for r in store.query(
            "SELECT number FROM tickets WHERE requester_id = ? AND status <> 'closed' ORDER BY id",
            (contact_id,),
        )
    ]


def erase(ctx: Context, key: str, *, force: bool = False) -> Row:
    """Anonymise one person everywhere (see the module docstring); Refused (exit 4) while
    they have an open ticket unless ``force``. Returns a summary (no personal data)."""
    with change(ctx) as store:
        contact = get_contact(store, key)
        addr, name = norm_email(str(contact["email"])), str(contact["name"]).strip()
        cid, sha = int(contact["id"]), digest(addr)
        still_open = open_tickets(store, cid)
        if still_open and not force:
            raise Refused(
                f"the person has open tickets ({', '.join(still_open)}): close them first "
                "or use --force"
            )
        # attachments of the mails they sent: the bytes go, name and size stay
        store.execute(
            "UPDATE attachments SET content = ?, filename = 'removed' WHERE article_id IN "
            "(SELECT id FROM articles WHERE lower(sender) LIKE ?)",
            (b"", f"%{addr}%"),
        )
        store.execute("DELETE FROM ticket_participants WHERE email = ?", (addr,))
        store.execute(
            "UPDATE contacts SET name = ?, email = ?, phone = NULL, roles = '' WHERE id = ?",
            (ERASED, f"{sha[:24]}@{ERASED_DOMAIN}", cid),
        )
        terms = [addr] + ([name] if len(name) >= 3 else [])
        pat = _pattern(terms)
        rows = 0
        for table in store.tables:
            if table in ("access_log", "counters", "locks"):
                continue
            rows += _scrub_table(store, table, pat, terms)
        history(store, ctx.actor, "contact", sha, "privacy.erased", {"sha256": sha})
    return {"sha256": sha, "rows": rows, "open_tickets": still_open}


# -- trail -----------------------------------------------------------------------------------------
def trail(store: SqlStorage, key: str) -> list[Row]:
    """The access trail of a ticket (by number) or a person (by address or contact id)."""
    if key.strip().isdigit() and store.query_one(
        "SELECT id FROM tickets WHERE number = ?", (key.strip(),)
    ):
        return store.query(
            "SELECT l.created_at, l.actor, l.action, l.subject FROM access_log l "
            "JOIN tickets t ON t.id = l.ticket_id WHERE t.number = ? ORDER BY l.id",
            (key.strip(),),
        )
    contact = get_contact(store, key)
    cid, addr = int(contact["id"]), str(contact["email"])
    return store.query(_sql_trail(), (cid, digest(addr), cid, addr))


# -- purge -----------------------------------------------------------------------------------------
def _cutoff(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_due_tickets() -> str:
    # an anonymised ticket has no article left whose sender is not ERASED: a resumed run
    # skips what an earlier (killed) run already finished
    return (
        "SELECT t.id FROM tickets t WHERE t.status = 'closed' AND t.closed_at < ? "
        "AND (t.subject <> ? OR EXISTS (SELECT 1 FROM articles a WHERE a.ticket_id = t.id "
        "AND a.sender <> ?) OR EXISTS (SELECT 1 FROM ticket_participants p "
        "WHERE p.ticket_id = t.id)) ORDER BY t.id LIMIT ?"
    )


def _anonymise_ticket(store: SqlStorage, ticket_id: int) -> None:
    store.execute(
        "UPDATE attachments SET content = ?, filename = 'removed' WHERE article_id IN "
        "(SELECT id FROM articles WHERE ticket_id = ?)",
        (b"", ticket_id),
    )
    store.execute(
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


def _sql_due_contacts() -> str:
    return (
        "SELECT c.id, c.email FROM contacts c WHERE c.email NOT LIKE ? "
        "AND EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = c.id "
        "AND (t.status <> 'closed' OR t.closed_at >= ?)) ORDER BY c.id LIMIT ?"
    )


def purge(ctx: Context, *, older_than_years: int | None = None, batch: int = 200) -> Row:
    """Apply every retention period of ``privacy.*``, a transaction per batch.

    Closed tickets past ``privacy.content_years`` (default ``privacy.closed_years``) lose their
    content, their people (with nothing newer) their contact data; ticket numbers, dates, time
    entries, service reports and amounts stay. Rejected-mail log rows, raw bodies of delivered
    outbound mail and access-trail rows go after their periods. Idempotent: killed and run
    again, it ends where an uninterrupted run ends. With ``ctx.dry_run`` it counts only.
    """
    cfg = ctx.config
    years = older_than_years or int(cfg.get("privacy.content_years") or 0)
    years = years or int(cfg.get("privacy.closed_years"))
    cutoff = _cutoff(365 * years + years // 4)
    store = ctx.store
    done: Row = {"tickets": 0, "contacts": 0, "inbound_log": 0, "outbound": 0, "access_log": 0}
    if ctx.dry_run:
        rows = store.query(_sql_due_tickets(), (cutoff, ERASED, ERASED, 10**9))
        done["tickets"] = len(rows)
        return done
    while True:
        with store.transaction():
            ids = [
                int(r["id"])
                for r in store.query(_sql_due_tickets(), (cutoff, ERASED, ERASED, batch))
            ]
            for tid in ids:
                _anonymise_ticket(store, tid)
        done["tickets"] += len(ids)
        if len(ids) < batch:
            break
    while True:
        with store.transaction():
            people = store.query(_sql_due_contacts(), (f"%@{ERASED_DOMAIN}", cutoff, batch))
            for p in people:
                sha = digest(str(p["email"]))
                store.execute(
                    "UPDATE contacts SET name = ?, email = ?, phone = NULL, roles = '' "
                    "WHERE id = ?",
                    (ERASED, f"{sha[:24]}@{ERASED_DOMAIN}", p["id"]),
                )
                store.execute(
                    "UPDATE history SET entity_key = ?, detail = '{}' "
                    "WHERE entity = 'contact' AND entity_key = ?",
                    (sha, p["email"]),
                )
                history(store, ctx.actor, "contact", sha, "privacy.purged", {"sha256": sha})
        done["contacts"] += len(people)
        if len(people) < batch:
            break
    with store.transaction():
        done["inbound_log"] = _count(
            store,
            "DELETE FROM inbound_log WHERE outcome = 'rejected' AND received_at < ?",
            (_cutoff(int(cfg.get("privacy.rejected_log_days"))),),
        )
        done["outbound"] = _count(
            store,
            "UPDATE outbound SET raw = ? WHERE status = 'sent' AND sent_at < ? AND raw <> ?",
            (b"", _cutoff(int(cfg.get("privacy.outbound_body_days"))), b""),
        )
        done["access_log"] = _count(
            store,
            "DELETE FROM access_log WHERE created_at < ?",
            (_cutoff(int(cfg.get("privacy.access_trail_days"))),),
        )
    return done


def _count(store: SqlStorage, sql: str, params: tuple[Any, ...]) -> int:
    cur = store.execute(sql, params)
    return int(getattr(cur, "rowcount", 0) or 0)
