"""Data protection: a person's access request (export), erasure, retention purge, access trail.

A feature above the lifecycle; nothing imports it but its command. Its SQL is in
:mod:`hdcli.repo.privacy`.

Erasure anonymises, it does not delete: ticket numbers, dates, time entries, amounts, service
report states, the organisation and the contract stay for the billing records the law requires
(§ 147 AO, § 257 HGB); every occurrence of the person's address and name is replaced, the bytes
of attachments of their mails are dropped. One history event stays: who erased whom (the
SHA-256 of the address), when.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from hdcli.customers import get_contact
from hdcli.errors import NotFound, Refused
from hdcli.repo import privacy as privacy_repo
from hdcli.repo.privacy import ERASED as ERASED
from hdcli.trail import digest, record_access
from hdcli.unit import change, history
from hdcli.util import alone_bytes_pattern, alone_pattern, norm_email

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row


def get_person(store: SqlStorage, key: str) -> Row:
    """The contact with this address or id, or a person who is only a participant (a Cc) of
    tickets, without a contact row: then ``id`` is 0 (no contact has it) and only the address
    is known. NotFound (exit 3) for anybody else."""
    try:
        return get_contact(store, key)
    except NotFound:
        addr = norm_email(key)
        if "@" not in addr or not privacy_repo.is_participant(store, addr):
            raise
    return {
        "id": 0,
        "name": "",
        "email": addr,
        "phone": None,
        "organisation": None,
        "roles": "",
        "created_at": None,
    }


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
    constant whatever the number of tickets. The read is recorded in the access trail once it
    succeeded (as ``show`` records its read), so a failed export leaves no row claiming it.
    Returns the number of rows written.
    """
    store = ctx.store
    contact = get_person(store, key)
    count = _write_export(store, contact, stream, fmt)
    _record_export(ctx, contact)
    return count


def export_zip(ctx: Context, key: str, path: str, fmt: str = "json") -> tuple[int, int]:
    """The export of :func:`export` as ``export.json`` (or ``export.md``) in a zip file at
    ``path`` (mode 0600), with the bytes of the attachments of the person's mails as
    ``attachments/TICKET/ID-NAME`` (names sanitised; erased ones are left out). Written piece by
    piece, one attachment in memory at a time. Returns (rows, attachments)."""
    import io
    import os
    import zipfile

    from hdcli.mail.parse import sanitize_filename

    store = ctx.store
    contact = get_person(store, key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    files = 0
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"export.{fmt}", "w") as member:
            text = io.TextIOWrapper(member, encoding="utf-8")
            count = _write_export(store, contact, text, fmt)
            text.flush()
            text.detach()
        for att in privacy_repo.attachment_files(store, str(contact["email"])):
            data = privacy_repo.attachment_content(store, int(att["id"]))
            if not data:
                continue
            name = sanitize_filename(str(att["filename"] or "")) or "attachment"
            archive.writestr(f"attachments/{att['ticket']}/{att['id']}-{name}", data)
            files += 1
    _record_export(ctx, contact)
    return count, files


def _record_export(ctx: Context, contact: Row) -> None:
    record_access(
        ctx.store,
        ctx.actor,
        "privacy.export",
        contact_id=int(contact["id"]) or None,
        subject=digest(str(contact["email"])),
    )


def _write_export(store: SqlStorage, contact: Row, stream: TextIO, fmt: str) -> int:
    count = 0
    if fmt == "md":
        c = _contact_part(contact)
        stream.write(f"# Data held about {c['name']} <{c['email']}>\n\n")
        for k, v in c.items():
            stream.write(f"- {k}: {v}\n")
        for name, rows in privacy_repo.sections(
            store, int(contact["id"]), str(contact["email"]), digest(str(contact["email"]))
        ):
            stream.write(f"\n## {name.replace('_', ' ')}\n\n")
            for row in rows:
                count += 1
                stream.write("- " + "; ".join(f"{k}: {_md(v)}" for k, v in row.items()) + "\n")
        return count
    stream.write('{"contact": ')
    stream.write(json.dumps(_contact_part(contact), ensure_ascii=False, default=str))
    for name, rows in privacy_repo.sections(
        store, int(contact["id"]), str(contact["email"]), digest(str(contact["email"]))
    ):
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
def erase(ctx: Context, key: str, *, force: bool = False) -> Row:
    """Anonymise one person everywhere (see the module docstring); Refused (exit 4) while
    they have an open ticket unless ``force``. Returns a summary (no personal data)."""
    with change(ctx) as store:
        contact = get_person(store, key)
        addr, name = norm_email(str(contact["email"])), str(contact["name"]).strip()
        cid, sha = int(contact["id"]), digest(addr)
        still_open = privacy_repo.open_tickets(store, cid)
        if still_open and not force:
            raise Refused(
                f"the person has open tickets ({', '.join(still_open)}): close them first "
                "or use --force"
            )
        # attachments of the mails they sent: the bytes go, name and size stay
        privacy_repo.erase_contact(store, cid, addr, sha)
        terms = [addr] + ([name] if len(name) >= 3 else [])
        # the address where it stands alone: not inside a longer one (xcarl@…, carl@….org)
        pat, raw_pat = alone_pattern(terms), alone_bytes_pattern(terms)
        rows = 0
        for table in store.tables:
            if table in ("access_log", "counters", "locks"):
                continue
            rows += privacy_repo.scrub_table(store, table, pat, terms, raw_pat)
        from hdcli.search import forget

        forget(store, terms, cid)  # the index held their name and address too
        history(store, ctx.actor, "contact", sha, "privacy.erased", {"sha256": sha})
    return {"sha256": sha, "rows": rows, "open_tickets": still_open}


# -- trail -----------------------------------------------------------------------------------------
def trail(store: SqlStorage, key: str) -> list[Row]:
    """The access trail of a ticket (by number) or a person (by address or contact id)."""
    if key.strip().isdigit():
        found = privacy_repo.trail_of_ticket(store, key.strip())
        if found is not None:
            return found
    contact = get_person(store, key)
    cid, addr = int(contact["id"]), str(contact["email"])
    return privacy_repo.trail_of_person(store, cid, digest(addr), addr)


# -- purge -----------------------------------------------------------------------------------------
def _cutoff(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def purge(ctx: Context, *, older_than_years: int | None = None, batch: int = 200) -> Row:
    """Apply every retention period of ``privacy.*``, a transaction per batch.

    Closed tickets past ``privacy.content_years`` (default ``privacy.closed_years``) lose their
    content, their people (with nothing newer) their contact data; ticket numbers, dates, time
    entries, service reports and amounts stay. Rejected-mail log rows, raw bodies of delivered
    outbound mail and access-trail rows go after their periods. Idempotent: killed and run
    again, it ends where an uninterrupted run ends. With ``ctx.dry_run`` the same run is done
    in one transaction and rolled back: what it reports is what a real run would do.
    """
    if ctx.dry_run:
        from hdcli.unit import DryRun

        done: Row = {}
        try:
            with change(ctx):
                done = _purge(ctx, older_than_years, batch)
        except DryRun:
            pass
        return done
    return _purge(ctx, older_than_years, batch)


def _purge(ctx: Context, older_than_years: int | None, batch: int) -> Row:
    from hdcli.repo.search import of_contact
    from hdcli.search import refresh

    cfg = ctx.config
    years = older_than_years or int(cfg.get("privacy.content_years") or 0)
    years = years or int(cfg.get("privacy.closed_years"))
    cutoff = _cutoff(365 * years + years // 4)
    store = ctx.store
    done: Row = dict.fromkeys(
        ("tickets", "articles", "attachments", "contacts", "inbound_log", "outbound", "access_log"),
        0,
    )
    while True:
        with store.transaction():
            ids = privacy_repo.due_tickets(store, cutoff, batch)
            for tid in ids:
                articles, attachments = privacy_repo.anonymise_ticket(store, tid)
                done["articles"] += articles
                done["attachments"] += attachments
            refresh(store, ids)  # the index holds their anonymised text only
        done["tickets"] += len(ids)
        if len(ids) < batch:
            break
    while True:
        with store.transaction():
            people = privacy_repo.due_contacts(store, cutoff, batch)
            for p in people:
                sha = digest(str(p["email"]))
                privacy_repo.anonymise_contact(store, int(p["id"]), str(p["email"]), sha)
                history(store, ctx.actor, "contact", sha, "privacy.purged", {"sha256": sha})
                refresh(store, of_contact(store, int(p["id"])))
        done["contacts"] += len(people)
        if len(people) < batch:
            break
    with store.transaction():
        done["inbound_log"] = privacy_repo.drop_rejected_log(
            store, _cutoff(int(cfg.get("privacy.rejected_log_days")))
        )
        done["outbound"] = privacy_repo.strip_sent_bodies(
            store, _cutoff(int(cfg.get("privacy.outbound_body_days")))
        )
        done["access_log"] = privacy_repo.drop_access_log(
            store, _cutoff(int(cfg.get("privacy.access_trail_days")))
        )
        if done["tickets"] or done["contacts"]:
            store.search_compact()  # no trace of the old text in the index's pages
    return done
