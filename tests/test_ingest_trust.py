"""Inbound mail that must neither stall other writers, nor eat memory, nor be dropped: the
write lock is taken only for the decision, big mail is read by its headers, a Message-ID is
no proof of a duplicate, and machine mail of a customer opens a ticket without an answer."""

from __future__ import annotations

import sqlite3
import tracemalloc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from test_ingest import ANNA
from test_ingest import mail as plain_mail

if TYPE_CHECKING:
    from hdcli.context import Context


def mail(*args: Any, date: str = "Mon, 02 Nov 2026 08:00:00 +0100", **kwargs: Any) -> bytes:
    """test_ingest's mail, with a Date (part of what makes two mails the same message)."""
    return plain_mail(*args, date=date, **kwargs)


@pytest.fixture
def make_ctx(hd: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    hd.seed()
    for key, value in hd.env.items():
        if key.startswith(("HDCLI_", "XDG_")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("HDCLI_MAIL__OUTBOUND__SEND_NOW", "false")
    from hdcli.config import Config
    from hdcli.context import Context

    made: list[Any] = []

    def make(**env: str) -> Any:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        context = Context(Config.load(None, None))
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def ctx(make_ctx: Any) -> Any:
    return make_ctx()


def rows(db: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def outbound(db: Any) -> int:
    return int(rows(db, "SELECT count(*) FROM outbound")[0][0])


# -- 1. the write lock ---------------------------------------------------------------------------
def can_take_write_lock(db: Any) -> bool:
    con = sqlite3.connect(db, timeout=0)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


@pytest.mark.parametrize("many", [False, True])
def test_other_writers_get_the_lock_while_a_message_is_parsed_and_classified(
    ctx: Any, hd: Any, monkeypatch: pytest.MonkeyPatch, many: bool
) -> None:
    from hdcli.mail import classify, parse
    from hdcli.mail.ingest import ingest_many, ingest_one

    seen: list[tuple[str, bool]] = []
    real_parse, real_classify = parse.parse_message, classify.classify

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(("parse", can_take_write_lock(hd.db)))
        return real_parse(*args, **kwargs)

    def slow_classify(*args: Any, **kwargs: Any) -> Any:
        seen.append(("classify", can_take_write_lock(hd.db)))
        return real_classify(*args, **kwargs)

    monkeypatch.setattr(parse, "parse_message", slow_parse)
    monkeypatch.setattr(classify, "classify", slow_classify)
    messages = [("a", mail(message_id="<a@muster.example>")), ("b", mail(message_id="<b@x>"))]
    if many:
        results = list(ingest_many(ctx, messages, batch=10))
    else:
        results = [ingest_one(ctx, raw, source) for source, raw in messages]
    assert [r.outcome for r in results] == ["new", "new"]
    assert len(seen) == 4
    assert all(free for _, free in seen), seen


# -- 2. size cap and memory ----------------------------------------------------------------------
def big(size: int, sender: str = f"Anna Schmidt <{ANNA}>") -> bytes:
    head = mail(sender=sender, subject="Logdateien", message_id="<big@muster.example>", body="")
    return head + b"Anbei die Logs.\r\n" + b"x" * 76 + (b"\r\n" + b"y" * 76) * (size // 78)


def test_a_message_over_the_cap_opens_a_ticket_with_its_headers_and_a_note(
    make_ctx: Any, hd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdcli.mail import parse
    from hdcli.mail.ingest import ingest_one

    ctx = make_ctx(HDCLI_MAIL__MAX_MESSAGE_SIZE="100000")
    parsed: list[int] = []
    real = parse.parse_message

    def counting(raw: bytes, **kwargs: Any) -> Any:
        parsed.append(len(raw))
        return real(raw, **kwargs)

    monkeypatch.setattr(parse, "parse_message", counting)
    raw = big(300_000)
    result = ingest_one(ctx, raw, "inbox")
    assert result.outcome == "new", result
    assert "message too big" in result.reason
    assert result.source_outcome == "quarantined"  # the source keeps the original
    assert parsed and max(parsed) < 2000  # the headers, never the whole message
    body = rows(hd.db, "SELECT body FROM articles WHERE direction = 'in'")[0][0]
    assert "too big" in body and "yyyy" not in body
    assert rows(hd.db, "SELECT subject FROM tickets") == [("Logdateien",)]
    assert outbound(hd.db) == 1  # acknowledged like any request
    again = ingest_one(ctx, raw, "inbox")
    assert again.outcome == "duplicate"


def test_a_strangers_message_over_the_cap_is_rejected_and_nothing_is_kept(
    make_ctx: Any, hd: Any
) -> None:
    from hdcli.mail.ingest import ingest_one

    ctx = make_ctx(HDCLI_MAIL__MAX_MESSAGE_SIZE="100000")
    result = ingest_one(ctx, big(300_000, "Eve <eve@stranger.example>"))
    assert result.outcome == "rejected"
    assert rows(hd.db, "SELECT count(*) FROM articles") == [(0,)]
    assert rows(hd.db, "SELECT count(*) FROM quarantine") == [(0,)]


def test_a_message_over_the_cap_stays_small_in_memory(make_ctx: Any) -> None:
    from hdcli.mail.ingest import prepare

    ctx = make_ctx()  # the default cap: 25 MB
    raw = big(30 * 1024 * 1024)
    tracemalloc.start()
    try:
        prep = prepare(ctx, raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert prep.oversized and prep.mail is not None
    assert peak < 8 * 1024 * 1024, peak


# -- 3. de-duplication ---------------------------------------------------------------------------
def test_a_reused_message_id_on_a_different_message_is_processed(ctx: Any, hd: Any) -> None:
    from hdcli.mail.ingest import ingest_one

    first = ingest_one(ctx, mail(subject="Drucker", body="Der Drucker."))
    other = ingest_one(ctx, mail(subject="VPN", body="Das VPN bricht ab."))
    assert first.outcome == "new"
    assert other.outcome == "new"
    assert other.ticket != first.ticket
    assert "Message-ID seen before on a different message" in other.reason
    stranger = ingest_one(ctx, mail(sender="eve@stranger.example", body="Hallo"))
    assert stranger.outcome == "rejected"


def test_the_same_message_again_is_a_duplicate_also_with_trace_headers_and_crlf(
    ctx: Any, hd: Any
) -> None:
    from hdcli.mail.ingest import ingest_one

    raw = mail()
    assert ingest_one(ctx, raw).outcome == "new"
    assert ingest_one(ctx, raw).outcome == "duplicate"
    traced = b"Received: from mx2 by mx1; Mon, 2 Nov 2026 08:00:05 +0100\r\n" + raw
    assert ingest_one(ctx, traced).outcome == "duplicate"
    assert ingest_one(ctx, raw.replace(b"\r\n", b"\n")).outcome == "duplicate"
    assert len(rows(hd.db, "SELECT id FROM tickets")) == 1


def test_a_message_logged_by_its_message_id_alone_stays_a_duplicate(ctx: Any, hd: Any) -> None:
    """A row as migration 0006 leaves those of before: keyed by the Message-ID alone."""
    from hdcli.mail.ingest import ingest_one, log_key

    old = log_key("<m1@muster.example>")
    con = sqlite3.connect(hd.db)
    with con:
        con.execute(
            "INSERT INTO inbound_log (message_key, id_key, source, outcome, reason, received_at) "
            "VALUES (?, ?, 'old', 'new', '', '2026-11-01T00:00:00+00:00')",
            (old, old),
        )
    con.close()
    result = ingest_one(ctx, mail())
    assert result.outcome == "duplicate"
    assert rows(hd.db, "SELECT count(*) FROM tickets") == [(0,)]


# -- 4. automatic mail ---------------------------------------------------------------------------
ALERT = {"Auto-Submitted": "auto-generated"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-generated"},
        {"Auto-Submitted": "auto-notified"},
        {"Precedence": "bulk"},
        {"Precedence": "list", "List-Id": "<alerts.muster.example>"},
        {"Return-Path": "<>"},
    ],
)
def test_machine_mail_of_a_customer_opens_a_ticket_and_nothing_is_sent(
    ctx: Any, hd: Any, headers: dict[str, str]
) -> None:
    from hdcli.mail.ingest import ingest_one

    result = ingest_one(ctx, mail(subject="CRITICAL: disk /var 97% on srv01", headers=headers))
    assert result.outcome == "new", result
    assert "no" in result.reason and "sent" in result.reason
    assert outbound(hd.db) == 0
    assert rows(hd.db, "SELECT subject FROM tickets") == [("CRITICAL: disk /var 97% on srv01",)]


def test_machine_mail_does_not_touch_the_daily_cap(make_ctx: Any, hd: Any) -> None:
    from hdcli.mail.ingest import ingest_one

    ctx = make_ctx(HDCLI_MAIL__AUTO_REPLY_LIMIT="1")
    for i in range(3):
        raw = mail(subject=f"Job {i} failed", message_id=f"<job{i}@muster.example>", headers=ALERT)
        assert ingest_one(ctx, raw).outcome == "new"
    assert outbound(hd.db) == 0
    person = ingest_one(ctx, mail(message_id="<person@muster.example>"))
    assert person.outcome == "new"
    assert outbound(hd.db) == 1  # the person's acknowledgement, the cap still free


def test_machine_mail_joins_its_ticket_without_answer(ctx: Any, hd: Any) -> None:
    from hdcli.mail.ingest import ingest_one

    first = ingest_one(ctx, mail(subject="Backup failed", message_id="<j1@x>", headers=ALERT))
    again = ingest_one(
        ctx,
        mail(
            subject=f"[Ticket#{first.ticket}] Backup failed",
            message_id="<j2@x>",
            body="Still failing.",
            headers=ALERT,
        ),
    )
    assert again.outcome == "followup"
    assert again.ticket == first.ticket
    assert outbound(hd.db) == 0


@pytest.mark.parametrize(
    ("env", "headers", "outcome"),
    [
        ({"HDCLI_MAIL__AUTOMATIC_NEW": "ignore"}, ALERT, "ignored"),
        ({"HDCLI_MAIL__AUTOMATIC_NEW": "ignore"}, {"Precedence": "bulk"}, "ignored"),
        ({"HDCLI_MAIL__AUTOMATIC__LIST": "ignore"}, {"Precedence": "bulk"}, "ignored"),
        ({"HDCLI_MAIL__AUTOMATIC__LIST": "ignore"}, ALERT, "new"),
        (
            {"HDCLI_MAIL__AUTOMATIC_NEW": "ignore", "HDCLI_MAIL__AUTOMATIC__GENERATED": "ticket"},
            ALERT,
            "new",
        ),
    ],
)
def test_the_policy_for_machine_mail(
    make_ctx: Any, hd: Any, env: dict[str, str], headers: dict[str, str], outcome: str
) -> None:
    from hdcli.mail.ingest import ingest_one

    ctx = make_ctx(**env)
    assert ingest_one(ctx, mail(subject="Alert", headers=headers)).outcome == outcome
    assert outbound(hd.db) == 0


@pytest.mark.parametrize(
    ("sender", "headers", "subject"),
    [
        (f"Anna Schmidt <{ANNA}>", {"Auto-Submitted": "auto-replied"}, "Drucker"),
        (f"Anna Schmidt <{ANNA}>", {}, "Out of Office: Drucker"),
        (f"Anna Schmidt <{ANNA}>", {"Precedence": "bulk"}, "Abwesenheitsnotiz"),
        (f"Anna Schmidt <{ANNA}>", {**ALERT, "X-hdcli-Loop": "1"}, "Alert"),
        ("helpdesk@smartwork.example", ALERT, "Alert"),
        ("MAILER-DAEMON@mx.muster.example", ALERT, "Alert"),
        (f"Anna Schmidt <{ANNA}>", {**ALERT, "X-Loop": "x"}, "Alert"),
        ("Monitor <nagios@stranger.example>", ALERT, "Alert"),
    ],
)
def test_answers_loops_bounces_and_strangers_machines_are_still_ignored(
    ctx: Any, hd: Any, sender: str, headers: dict[str, str], subject: str
) -> None:
    from hdcli.mail.ingest import ingest_one

    result = ingest_one(ctx, mail(sender=sender, subject=subject, headers=headers))
    assert result.outcome == "ignored", result
    assert rows(hd.db, "SELECT count(*) FROM tickets") == [(0,)]
    assert outbound(hd.db) == 0


@pytest.mark.parametrize(
    "any_ctx", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_contact_made_meanwhile_by_another_writer_does_not_quarantine_the_mail(
    any_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingest processes on PostgreSQL, two mails of one new address of a customer's
    domain: both find no contact, the first commits it, the second's insert is a unique
    violation. That mail is taken again (now the contact is there), not quarantined."""
    from email.message import EmailMessage

    from hdcli.backends import open_storage
    from hdcli.mail.ingest import ingest_one
    from hdcli.repo import customers as customer_repo

    ctx = any_ctx
    sender = "neu.kollege@muster.example"
    other = open_storage(str(ctx.config.get("storage.url")))
    real = customer_repo.insert_contact
    calls: list[str] = []

    def raced(store: Any, row: Any) -> int:
        calls.append(row["email"])
        if len(calls) == 1:  # the other process got there first, and committed
            with other.transaction():
                real(other, {**row, "name": "Neu Kollege (anderer Prozess)"})
        return real(store, row)

    monkeypatch.setattr(customer_repo, "insert_contact", raced)
    msg = EmailMessage()
    msg["From"] = f"Neu Kollege <{sender}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = "Monitor bleibt schwarz"
    msg["Message-ID"] = "<race-1@muster.example>"
    msg.set_content("Seit heute früh.")
    try:
        result = ingest_one(ctx, bytes(msg))
    finally:
        other.close()
    assert result.outcome == "new", result
    assert calls == [sender]  # the second try found the contact and made none
    rows = ctx.store.query("SELECT name FROM contacts WHERE email = ?", (sender,))
    assert [r["name"] for r in rows] == ["Neu Kollege (anderer Prozess)"]
    assert ctx.store.query("SELECT id FROM quarantine") == []
