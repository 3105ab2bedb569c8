"""hdcli.privacy in process: export, erase, the access trail."""

from __future__ import annotations

import io
import json

import pytest
from workflow import ANNA

from hdcli import customers, privacy, tickets
from hdcli.context import Context
from hdcli.errors import NotFound, Refused
from hdcli.mail.ingest import ingest_one
from hdcli.repo import privacy as privacy_repo
from hdcli.trail import record_access
from hdcli.views import list_tickets

BERT = "bert.meier@muster.example"


def _mail(subject: str, body: str, n: int, sender: str = ANNA, name: str = "Anna Schmidt") -> bytes:
    return (
        f"From: {name} <{sender}>\r\nTo: helpdesk@smartwork.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: <m-{n}@muster.example>\r\n"
        f"Date: Wed, 02 Dec 2026 10:00:00 +0100\r\n\r\n{body}\r\n"
    ).encode()


def _setup(ctx: Context) -> str:
    customers.add_contact(ctx, "Muster GmbH", "Bert Meier", BERT)
    ingest_one(ctx, _mail("Drucker", "Hallo\n-- \nAnna Schmidt\nanna.schmidt@muster.example", 1))
    ingest_one(ctx, _mail("Scanner", "Bert hier", 2, BERT, "Bert Meier"))
    number = str(ctx.store.query("SELECT number FROM tickets ORDER BY id")[0]["number"])
    tickets.log_time(ctx, number, 90, note="Treiber")
    tickets.close(ctx, number, notify=False)
    return number


def _export(ctx: Context, who: str) -> dict[str, object]:
    buf = io.StringIO()
    privacy.export(ctx, who, buf)
    data: dict[str, object] = json.loads(buf.getvalue())
    return data


def _amounts(ctx: Context) -> list[tuple[str, int, str]]:
    return [
        (r["number"], r["billed_minutes"], r["amount"])
        for r in ctx.store.query(
            "SELECT t.number, r.billed_minutes, r.amount FROM service_reports r "
            "JOIN tickets t ON t.id = r.ticket_id ORDER BY r.id"
        )
    ]


def test_export_holds_their_articles_and_nothing_of_another(any_ctx: Context) -> None:
    ctx = any_ctx
    _setup(ctx)
    data = _export(ctx, ANNA)
    assert data["contact"]["email"] == ANNA  # type: ignore[index]
    senders = [a["sender"] for a in data["articles"]]  # type: ignore[attr-defined]
    assert senders and all(ANNA in s for s in senders if "helpdesk" not in s)
    assert BERT not in json.dumps(data) and "Bert" not in json.dumps(data)
    assert data["time_entries"] and data["service_reports"]


def _scan(ctx: Context, terms: list[str]) -> list[str]:
    found = []
    store = ctx.store
    for table in store.list_tables():
        for row in store.iterate(f"SELECT * FROM {table}"):
            for col, value in row.items():
                if isinstance(value, str):
                    text = value.lower()
                elif isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("utf-8", "replace").lower()
                else:
                    continue
                found += [f"{table}.{col}" for t in terms if t.lower() in text]
    return found


def test_erase_leaves_no_trace_and_keeps_the_billing_figures(any_ctx: Context) -> None:
    ctx = any_ctx
    _setup(ctx)
    before = _amounts(ctx)
    privacy.erase(ctx, ANNA)
    assert _scan(ctx, [ANNA, "Anna Schmidt"]) == []
    assert _scan(ctx, [BERT])  # the other person is untouched
    assert _amounts(ctx) == before
    erased = ctx.store.query("SELECT actor, detail FROM history WHERE action = 'privacy.erased'")
    assert len(erased) == 1
    # a new mail from them is handled like any other mail: a new contact, a new ticket
    assert ingest_one(ctx, _mail("Neu", "Hallo", 9)).outcome == "new"
    assert customers.get_contact(ctx.store, ANNA)["name"] != privacy.ERASED


def test_erase_refuses_while_a_ticket_is_open(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, _mail("Drucker", "Hallo", 1))
    with pytest.raises(Refused) as err:
        privacy.erase(ctx, ANNA)
    assert err.value.exit_code == 4
    privacy.erase(ctx, ANNA, force=True)
    assert _scan(ctx, [ANNA]) == []


def test_the_trail_records_show_and_export(any_ctx: Context) -> None:
    ctx = any_ctx
    number = _setup(ctx)
    record_access(ctx.store, ctx.actor, "show", ticket_number=number)
    _export(ctx, ANNA)
    actions = [r["action"] for r in privacy.trail(ctx.store, ANNA)]
    assert actions == ["show", "privacy.export"]
    assert [r["action"] for r in privacy.trail(ctx.store, number)] == ["show"]


def test_purge_anonymises_old_closed_tickets_once(any_ctx: Context) -> None:
    ctx = any_ctx
    number = _setup(ctx)
    before = _amounts(ctx)
    with ctx.store.transaction():
        ctx.store.execute(
            "UPDATE tickets SET closed_at = '2010-01-01T00:00:00Z' WHERE number = ?", (number,)
        )
    ctx.dry_run = True
    would = privacy.purge(ctx)
    ctx.dry_run = False
    assert would["tickets"] == 1 and would["articles"] >= 1 and would["contacts"] == 1
    assert _scan(ctx, [ANNA])  # a dry run changes nothing
    done = privacy.purge(ctx)
    assert done == would  # and says what the real run then does
    assert _scan(ctx, [ANNA, "Anna Schmidt"]) == []
    assert list_tickets(ctx.store, search="Schmidt") == []  # nor does the search index
    assert _scan(ctx, [BERT])  # an open ticket keeps its content
    assert _amounts(ctx) == before
    assert privacy.purge(ctx)["tickets"] == 0


def test_a_person_who_is_only_in_cc_is_exported_and_erased(any_ctx: Context) -> None:
    ctx = any_ctx
    carl = "carl.cc@partner.example"
    raw = _mail("Plotter", "Der Plotter streikt.", 7).replace(
        b"To: helpdesk@smartwork.example\r\n",
        f"To: helpdesk@smartwork.example\r\nCc: Carl Cc <{carl}>\r\n".encode(),
    )
    assert ingest_one(ctx, raw).outcome == "new"
    data = _export(ctx, carl)
    assert data["contact"]["email"] == carl  # type: ignore[index]
    articles = data["articles"]
    assert [a["subject"] for a in articles] == ["Plotter"]  # type: ignore[attr-defined]
    assert carl in articles[0]["cc"]  # type: ignore[index]
    privacy.erase(ctx, carl)
    assert _scan(ctx, [carl]) == []
    assert _scan(ctx, [ANNA])  # the requester's data is theirs to keep
    with pytest.raises(NotFound):
        privacy.export(ctx, "nobody@nowhere.example", io.StringIO())


def _cc_mail(subject: str, n: int, cc: str) -> bytes:
    return _mail(subject, f"{subject} streikt.", n).replace(
        b"To: helpdesk@smartwork.example\r\n",
        f"To: helpdesk@smartwork.example\r\nCc: Carl Cc <{cc}>\r\n".encode(),
    )


def test_a_cc_only_person_gets_the_ticket_they_were_copied_on(any_ctx: Context) -> None:
    ctx = any_ctx
    carl = "carl.cc@partner.example"
    customers.add_contact(ctx, "Muster GmbH", "Bert Meier", BERT)
    ingest_one(ctx, _mail("Drucker", "Der Drucker auch.", 1))  # Anna's, without Carl
    ingest_one(ctx, _cc_mail("Plotter", 2, carl))
    ingest_one(ctx, _mail("Scanner", "Bert hier", 3, BERT, "Bert Meier"))
    plotter = str(
        ctx.store.query("SELECT number FROM tickets WHERE subject = 'Plotter'")[0]["number"]
    )
    data = _export(ctx, carl)
    assert [(t["number"], t["subject"], t["role"]) for t in data["tickets"]] == [  # type: ignore[attr-defined]
        (plotter, "Plotter", "cc")
    ]
    assert [a["ticket"] for a in data["articles"]] == [plotter]  # type: ignore[attr-defined]
    dump = json.dumps(data, ensure_ascii=False)
    assert "Drucker" not in dump and "Scanner" not in dump
    assert BERT not in dump and "Bert" not in dump
    # the trail of the person holds the reads of that ticket too
    record_access(ctx.store, ctx.actor, "show", ticket_number=plotter)
    assert [r["action"] for r in privacy.trail(ctx.store, carl)] == ["privacy.export", "show"]
    # the requester's own export still lists the ticket as theirs
    anna = _export(ctx, ANNA)
    assert {t["subject"]: t["role"] for t in anna["tickets"]} == {  # type: ignore[attr-defined]
        "Drucker": "requester",
        "Plotter": "requester",
    }


def _attached(subject: str, n: int, files: int) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Anna Schmidt <{ANNA}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<att-{n}@muster.example>"
    msg.set_content("Anbei.")
    for k in range(files):
        msg.add_attachment(
            f"Datei {n}.{k}".encode(), maintype="text", subtype="plain", filename=f"f{n}-{k}.txt"
        )
    return msg.as_bytes()


def _statements(ctx: Context) -> int:
    """Statements sent to the store by one export (counted at the DB-API connection)."""
    from bench.count import Counting

    store = ctx.store
    counting = Counting(store._conn)  # type: ignore[attr-defined]
    store._conn = counting  # type: ignore[attr-defined]
    try:
        privacy.export(ctx, ANNA, io.StringIO())
    finally:
        store._conn = counting._conn  # type: ignore[attr-defined]
    return sum(counting.kinds.values())


def test_the_export_does_not_send_a_statement_per_ticket(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, _attached("Eins", 1, 2))
    few = _statements(ctx)
    for n in range(2, 9):
        ingest_one(ctx, _attached(f"Mail {n}", n, n % 3))
    assert _statements(ctx) == few
    data = _export(ctx, ANNA)
    assert len(data["tickets"]) == 8  # type: ignore[arg-type]


def test_attachments_stay_with_their_article_across_batches(
    any_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = any_ctx
    for n in range(1, 8):
        ingest_one(ctx, _attached(f"Mail {n}", n, n % 3))
    whole = _export(ctx, ANNA)
    monkeypatch.setattr(privacy_repo, "ARTICLE_BATCH", 2)
    assert _export(ctx, ANNA)["articles"] == whole["articles"]
    names = {
        a["subject"]: [f["filename"] for f in a["attachments"]]
        for a in whole["articles"]  # type: ignore[attr-defined]
        if a["direction"] == "in"
    }
    assert names == {f"Mail {n}": [f"f{n}-{k}.txt" for k in range(n % 3)] for n in range(1, 8)}
