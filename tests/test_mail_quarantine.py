"""Working the quarantine (``hdcli mail quarantine``), its retention, ``doctor``'s count and
``hdcli mail attention``.

Commands run through the CLI (the ``hd`` fixture); retry after the cause of a quarantine is
removed (a plugin's veto lifted, a parser that copes with the message) and retention run on a
workflow context (the ``ctx`` fixture), where the cause can be removed in between.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpdesk import Helpdesk
from workflow import ANNA, make_context, registered

from hdcli import customers, hookimpl, tickets, views
from hdcli.context import Context
from hdcli.errors import Refused
from hdcli.events import Change
from hdcli.mail import quarantine
from hdcli.mail.ingest import ingest_one

GARBAGE = b"\x00\x01\x02 binary garbage \xff\xfe"


def mail(
    subject: str = "Drucker druckt nicht",
    body: str = "Der Drucker im 2. OG druckt nicht.",
    message_id: str = "<q1@muster.example>",
    sender: str = f"Anna Schmidt <{ANNA}>",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: helpdesk@smartwork.example\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n{extra}MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def nested(depth: int = 1000) -> bytes:
    """A message whose MIME parts are nested ``depth`` deep (more than the parser's recursion
    allows at Python's default limit), with headers a terminal must not see raw: an escape
    sequence and a right-to-left override (RFC 2047 encoded)."""
    head = (
        f"From: Anna Schmidt <{ANNA}>\r\nTo: helpdesk@smartwork.example\r\n"
        "Subject: =?utf-8?q?Tief_=E2=80=AE_verschachtelt?=\r\n"
        "X-Trick: a\x1b[2Jb\r\nMessage-ID: <deep@muster.example>\r\nMIME-Version: 1.0\r\n"
    )
    body = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    body += "Content-Type: text/plain\r\n\r\nganz unten\r\n"
    body += "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    return (head + body).encode()


def ingest(hd: Helpdesk, raw: bytes, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = hd("mail", "ingest", "-", "--source", "test", "--format", "jsonl", input=raw, env=env)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[0])
    return result


@pytest.fixture
def seeded(hd: Helpdesk) -> Helpdesk:
    hd.seed()
    return hd


# -- list, show, retry, drop through the CLI -----------------------------------------------------
def test_list_and_show_never_print_the_content_or_control_characters(
    seeded: Helpdesk, tmp_path: Path
) -> None:
    assert ingest(seeded, GARBAGE)["outcome"] == "quarantined"
    deep = ingest(seeded, nested())
    assert (deep["outcome"], deep["reason"]) == ("quarantined", "MIME structure nested too deeply")

    listed = json.loads(seeded.ok("mail", "quarantine", "list", "--json"))
    assert [r["reason"] for r in listed] == [
        "MIME structure nested too deeply",
        "binary data in the header block: not an RFC 5322 message",
    ]
    assert set(listed[0]) == {"id", "when", "source", "reason", "size", "digest", "content"}
    assert listed[0]["size"] == len(nested()) and listed[0]["content"] == "kept"
    assert listed[0]["source"] == "test" and listed[0]["digest"].startswith("sha256:")
    table = seeded.ok("mail", "quarantine", "list")
    assert "ganz unten" not in table and "garbage" not in table

    deep_id = listed[0]["id"]
    proc = seeded("mail", "quarantine", "show", str(deep_id))
    assert proc.returncode == 0, proc.stderr
    assert "MIME structure nested too deeply" in proc.stdout
    assert "Subject: Tief \\u202e verschachtelt" in proc.stdout
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    assert "ganz unten" not in proc.stdout
    shown = json.loads(seeded.ok("mail", "quarantine", "show", str(deep_id), "--json"))
    names = [h["name"] for h in shown["headers"]]
    assert names[:3] == ["From", "To", "Subject"] and "X-Trick" in names
    assert not any("\x1b" in h["value"] for h in shown["headers"])

    target = tmp_path / "deep.eml"
    seeded.ok("mail", "quarantine", "show", str(deep_id), "--raw", "-o", str(target))
    assert target.read_bytes() == nested()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    missing = seeded("mail", "quarantine", "show", "999")
    assert missing.returncode == 3 and "no quarantined message 999" in missing.stderr


def test_retry_and_drop_with_json_output_and_ids_from_stdin(seeded: Helpdesk) -> None:
    ingest(seeded, GARBAGE)
    [row] = json.loads(seeded.ok("mail", "quarantine", "list", "--json"))
    qid = str(row["id"])

    # Still unreadable: quarantined again under the same id, with the result of this run.
    [again] = json.loads(seeded.ok("mail", "quarantine", "retry", qid, "--json"))
    assert again == {
        "id": row["id"],
        "outcome": "quarantined",
        "ticket": None,
        "message_id": None,
        "reason": row["reason"],
    }
    assert [r["id"] for r in json.loads(seeded.ok("mail", "quarantine", "list", "--json"))] == [
        row["id"]
    ]
    unknown = seeded("mail", "quarantine", "retry", "999", qid, "--json")
    assert unknown.returncode == 3 and "999" in unknown.stderr
    assert [r["id"] for r in json.loads(unknown.stdout)] == [row["id"]]  # the rest still tried

    dry = seeded("mail", "quarantine", "drop", "-", "--dry-run", input=f"{qid}\n")
    assert dry.returncode == 0 and "would be dropped" in dry.stderr
    assert len(json.loads(seeded.ok("mail", "quarantine", "list", "--json"))) == 1
    listing = seeded.ok("mail", "quarantine", "list")  # the table, piped: its ids count
    seeded.ok("mail", "quarantine", "drop", "-", input=listing)
    assert json.loads(seeded.ok("mail", "quarantine", "list", "--json")) == []
    assert seeded("mail", "quarantine", "drop", qid).returncode == 3
    assert seeded("mail", "quarantine", "retry", "-", input="").returncode == 2
    # the digest and reason stay in the inbound log: the same bytes again are a duplicate
    assert ingest(seeded, GARBAGE)["reason"] == "seen before (quarantined)"
    db = sqlite3.connect(seeded.db)
    assert db.execute("SELECT outcome, reason FROM inbound_log").fetchall() == [
        ("quarantined", row["reason"])
    ]


# -- retry after the cause is removed (workflow on a context) ------------------------------------
class VetoReopen:
    @hookimpl
    def guard_change(self, change: Change) -> str | None:
        return "reopening is frozen" if change.action == "ticket.reopen" else None


def _reply(number: str) -> bytes:
    return mail(
        subject=f"AW: [Ticket#{number}] Drucker", body="Geht wieder nicht.", message_id="<r@m>"
    )


def test_retry_brings_in_a_message_once_the_plugins_veto_is_lifted(any_ctx: Context) -> None:
    ctx = any_ctx
    customers.edit_contract(ctx, "RV-1", customers.ContractFields(closed_policy="reopen"))
    number = tickets.open_ticket(ctx, tickets.OpenRequest(ANNA, "Drucker", "Hilfe")).ticket[
        "number"
    ]
    tickets.close(ctx, number, notify=False)
    with registered(VetoReopen(), "test-veto"):
        first = ingest_one(ctx, _reply(number), "inbox")
        assert first.outcome == "quarantined"
        [row] = quarantine.list_rows(ctx.store)
        again = quarantine.retry_one(ctx, row["id"])  # the veto still holds
    assert (again.outcome, again.kept) == ("quarantined", True)
    assert "reopening is frozen" in again.reason
    assert [r["id"] for r in quarantine.list_rows(ctx.store)] == [row["id"]]

    preview = quarantine.retry_one(ctx, row["id"], dry_run=True)
    assert (preview.outcome, preview.ticket) == ("followup", number)
    assert views.get_ticket(ctx.store, number)["status"] == "closed"  # a dry run changes nothing
    assert len(quarantine.list_rows(ctx.store)) == 1

    done = quarantine.retry_one(ctx, row["id"])
    assert (done.outcome, done.ticket, done.kept) == ("followup", number, False)
    assert views.get_ticket(ctx.store, number)["status"] == "new"
    assert quarantine.list_rows(ctx.store) == []
    log = ctx.store.query("SELECT outcome, ticket_id FROM inbound_log")
    assert [r["outcome"] for r in log] == ["followup"]
    assert ingest_one(ctx, _reply(number)).outcome == "duplicate"


@pytest.fixture
def deeper_parser() -> Iterator[None]:
    """A parser that copes with deeper MIME nesting (what a fixed version would bring):
    Python's recursion limit raised for the test."""
    limit = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(limit)


def test_retry_brings_in_a_broken_mime_message_after_a_fix(
    ctx: Context, deeper_parser: None
) -> None:
    first = ingest_one(ctx, nested(), "inbox")
    assert (first.outcome, first.reason) == ("quarantined", "MIME structure nested too deeply")
    [row] = quarantine.list_rows(ctx.store)

    sys.setrecursionlimit(20000)
    done = quarantine.retry_one(ctx, row["id"])
    assert (done.outcome, done.message_id, done.kept) == ("new", "<deep@muster.example>", False)
    assert quarantine.list_rows(ctx.store) == []
    ticket = views.show(ctx.store, str(done.ticket))
    assert ticket["requester"] == ANNA
    # The unreadable message was logged under a hash of its bytes, the readable one under its
    # Message-ID: one row remains, with the new result.
    log = ctx.store.query("SELECT outcome FROM inbound_log")
    assert [r["outcome"] for r in log] == ["new"]
    assert ingest_one(ctx, nested()).outcome == "duplicate"


# -- retention ----------------------------------------------------------------------------------
def _age(db: Any, days: int) -> None:
    old = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    db.execute("UPDATE quarantine SET created_at = ?", (old,))


def test_retention_removes_the_bytes_and_keeps_reason_digest_and_size(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, GARBAGE, "inbox")
    [before] = quarantine.list_rows(ctx.store)
    assert quarantine.purge(ctx) == []  # younger than mail.quarantine_days
    with ctx.store.transaction():
        _age(ctx.store, 31)
    assert quarantine.purge(ctx, dry_run=True) == [before["id"]]
    assert quarantine.raw_bytes(ctx.store, before["id"]) == GARBAGE
    assert quarantine.purge(ctx) == [before["id"]]

    [after] = quarantine.list_rows(ctx.store)
    assert after["content"].startswith("removed ")
    assert {k: after[k] for k in ("id", "reason", "size", "digest")} == {
        k: before[k] for k in ("id", "reason", "size", "digest")
    }
    raw = ctx.store.query_one("SELECT raw FROM quarantine")
    assert raw is not None and raw["raw"] == b""
    with pytest.raises(Refused, match="retention"):
        quarantine.raw_bytes(ctx.store, before["id"])
    with pytest.raises(Refused, match="nothing to retry"):
        quarantine.retry_one(ctx, before["id"])
    assert quarantine.show(ctx.store, before["id"])["headers"] == []


def test_automatic_retention_runs_once_a_day(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, GARBAGE, "inbox")
    with ctx.store.transaction():
        _age(ctx.store, 40)
    [qid] = [r["id"] for r in quarantine.list_rows(ctx.store)]
    assert quarantine.purge_if_due(ctx) == [qid]
    assert ingest_one(ctx, GARBAGE + b"2", "inbox").outcome == "quarantined"
    with ctx.store.transaction():
        _age(ctx.store, 40)
    assert quarantine.purge_if_due(ctx) == []  # done today already
    assert quarantine.purge(ctx) != []  # the command still does it


def test_mail_flush_applies_the_retention_and_purge_takes_days(seeded: Helpdesk) -> None:
    ingest(seeded, GARBAGE)
    ingest(seeded, nested())
    with sqlite3.connect(seeded.db) as db:
        _age(db, 45)
        db.execute("UPDATE quarantine SET created_at = ? WHERE id = 2", ("2026-01-01T00:00:00Z",))
    dry = seeded("mail", "quarantine", "purge", "--days", "400", "--dry-run")
    assert dry.returncode == 0 and "would remove the content of 0" in dry.stderr
    proc = seeded("mail", "flush")
    assert proc.returncode == 0, proc.stderr
    assert "removed the content of 2 message(s)" in proc.stderr
    listed = json.loads(seeded.ok("mail", "quarantine", "list", "--json"))
    assert all(r["content"].startswith("removed") and r["reason"] for r in listed)
    assert seeded("mail", "quarantine", "show", str(listed[0]["id"]), "--raw").returncode == 4
    assert "removed the content" not in seeded("mail", "flush").stderr  # once a day


# -- doctor and attention -----------------------------------------------------------------------
def test_doctor_counts_the_quarantine_as_a_warning(seeded: Helpdesk) -> None:
    empty = {r["check"]: r for r in json.loads(seeded.ok("doctor", "--no-connect", "--json"))}
    assert empty["mail quarantine"]["detail"] == "empty"
    ingest(seeded, GARBAGE)
    ingest(seeded, nested())
    proc = seeded("doctor", "--no-connect", "--json")
    assert proc.returncode == 0, proc.stderr
    row = {r["check"]: r for r in json.loads(proc.stdout)}["mail quarantine"]
    assert (row["ok"], row["warning"]) == (True, True)
    assert "2 message(s) wait" in row["detail"]
    assert "mail quarantine" in proc.stderr


def test_attention_lists_every_outcome_that_needs_a_human(seeded: Helpdesk) -> None:
    quarantined = ingest(seeded, GARBAGE)
    # an acknowledgement the daily cap suppressed
    capped = ingest(seeded, mail(), env={"HDCLI_MAIL__AUTO_REPLY_LIMIT": "0"})
    assert capped["outcome"] == "new"
    assert "acknowledgement not sent" in capped["reason"]
    # an attachment over the size cap
    att = (
        f"From: {ANNA}\r\nTo: helpdesk@smartwork.example\r\nSubject: Fehlerbild\r\n"
        "Message-ID: <att@muster.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="X"\r\n\r\n'
        "--X\r\nContent-Type: text/plain\r\n\r\nSiehe Anhang.\r\n"
        "--X\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="scan.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJVBERi0xLjQK\r\n--X--\r\n"
    ).encode()
    big = ingest(seeded, att, env={"HDCLI_MAIL__MAX_ATTACHMENT_SIZE": "8"})
    assert big["outcome"] == "new" and "attachment not kept: scan.pdf" in big["reason"]
    # an approver's hedged answer while an approval is pending
    number = capped["ticket"]
    seeded.ok("approval", "request", number, "--change", "Admin-Rechte")
    hedged = ingest(
        seeded,
        mail(
            subject=f"AW: [Ticket#{number}] Freigabe",
            body="Ja, aber erst morgen",
            message_id="<hedge@muster.example>",
        ),
    )
    assert hedged["outcome"] == "followup" and "not a clear yes or no" in hedged["reason"]
    assert quarantined["reason"]

    rows = json.loads(seeded.ok("mail", "attention", "--json"))
    assert all(r["reason"] for r in rows)
    assert [(r["outcome"], r["ticket"]) for r in rows if r["outcome"] != "quarantined"] == [
        ("unclear_answer", number),
        ("attachment_dropped", big["ticket"]),
        ("mail_suppressed", number),
    ]
    assert [(r["quarantine"], r["ticket"]) for r in rows if r["outcome"] == "quarantined"] == [
        (1, None)
    ]
    assert [r["when"] for r in rows] == sorted((r["when"] for r in rows), reverse=True)
    assert json.loads(seeded.ok("mail", "attention", "--since", "2999-01-01", "--json")) == []
    assert len(json.loads(seeded.ok("mail", "attention", "--since", "gestern", "--json"))) == len(
        rows
    )
    assert seeded("mail", "attention", "--since", "31.11.2026").returncode == 2


def test_a_closed_notice_the_cap_suppressed_is_named_in_the_reason(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, MAIL__AUTO_REPLY_LIMIT="0")
    try:
        customers.edit_contract(
            ctx, "RV-1", customers.ContractFields(closed_policy="reject_with_notice")
        )
        opened = tickets.open_ticket(ctx, tickets.OpenRequest(ANNA, "Drucker", "Hilfe"))
        tickets.close(ctx, opened.ticket["number"], notify=False)
        result = ingest_one(ctx, _reply(opened.ticket["number"]))
        assert result.outcome == "rejected"
        assert "the notice was not sent: daily limit" in result.reason
        [row] = quarantine.attention(ctx.store)
        assert (row["outcome"], row["ticket"]) == ("mail_suppressed", opened.ticket["number"])
    finally:
        ctx.close()
