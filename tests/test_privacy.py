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


# -- an address names a person only when it stands alone ---------------------------------------
CARL = "carl@muster.example"
XCARL = "xcarl@muster.example"  # holds Carl's address
LONGER = "carl@muster.example.org"  # begins with it
WILD = "c_rl@muster.example"  # as a LIKE pattern, `_` matches the `a` of Carl's


def _message(
    subject: str, n: int, sender: str, name: str, body: str, cc: str = "", attach: str = ""
) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "helpdesk@smartwork.example"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = f"<n-{n}@muster.example>"
    msg.set_content(body)
    if attach:
        msg.add_attachment(attach.encode(), maintype="text", subtype="plain", filename="a.txt")
    return msg.as_bytes()


def _neighbours(ctx: Context) -> dict[str, str]:
    """Carl, and mails of others whose addresses contain or resemble his; ticket numbers by
    subject."""
    customers.add_contact(ctx, "Muster GmbH", "Carl", CARL)
    customers.add_contact(ctx, "Muster GmbH", "Xaver Muster", XCARL)
    mails = [
        _message("Carls Drucker", 21, CARL, "Carl", f"Gruss\n{CARL}.", attach=f"von {CARL}"),
        _message(
            "Xavers Scanner",
            22,
            XCARL,
            "Xaver Muster",
            f"Gruss\n{XCARL}\nKopie an <{LONGER}>, mailto:{XCARL}",
            cc=f"Xaver Privat <{LONGER}>",
            attach=f"von {XCARL}, an {LONGER}",
        ),
        _message("Annas Plotter", 23, ANNA, "Anna Schmidt", "Plotter", cc=f"{WILD}, {LONGER}"),
    ]
    for raw in mails:
        assert ingest_one(ctx, raw).outcome == "new"
    return {
        str(r["subject"]): str(r["number"])
        for r in ctx.store.query("SELECT number, subject FROM tickets ORDER BY id")
    }


def test_the_export_holds_only_mails_of_exactly_that_address(any_ctx: Context) -> None:
    ctx = any_ctx
    numbers = _neighbours(ctx)
    carl = _export(ctx, CARL)
    assert [t["subject"] for t in carl["tickets"]] == ["Carls Drucker"]  # type: ignore[attr-defined]
    assert {a["ticket"] for a in carl["articles"]} == {numbers["Carls Drucker"]}  # type: ignore[attr-defined]
    dump = json.dumps(carl, ensure_ascii=False)
    assert XCARL not in dump and LONGER not in dump and "Xaver" not in dump
    assert "Plotter" not in dump and "Scanner" not in dump
    # the wildcard neighbour is only in the Cc of Anna's mail
    wild = _export(ctx, WILD)
    assert [t["subject"] for t in wild["tickets"]] == ["Annas Plotter"]  # type: ignore[attr-defined]
    assert "Drucker" not in json.dumps(wild) and "Scanner" not in json.dumps(wild)
    # the longer address is in the Cc of Xaver's and Anna's mails
    longer = _export(ctx, LONGER)
    assert sorted(t["subject"] for t in longer["tickets"]) == ["Annas Plotter", "Xavers Scanner"]  # type: ignore[attr-defined]
    assert privacy_repo.is_participant(ctx.store, LONGER)
    assert not privacy_repo.is_participant(ctx.store, "muster.example.org")
    assert not privacy_repo.is_participant(ctx.store, "c%l@muster.example")


def _others(ctx: Context, own: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tickets other than ``own`` and of the contacts other than Carl."""
    store = ctx.store
    tid = store.query("SELECT id FROM tickets WHERE number = ?", (own,))[0]["id"]
    cid = store.query("SELECT requester_id FROM tickets WHERE number = ?", (own,))[0][
        "requester_id"
    ]

    def rows(sql: str, *params: object) -> list[tuple[object, ...]]:
        return [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in r.values())
            for r in store.query(sql, params)
        ]

    return {
        "tickets": rows("SELECT * FROM tickets WHERE id <> ? ORDER BY id", tid),
        "articles": rows("SELECT * FROM articles WHERE ticket_id <> ? ORDER BY id", tid),
        "attachments": rows(
            "SELECT f.* FROM attachments f JOIN articles a ON a.id = f.article_id "
            "WHERE a.ticket_id <> ? ORDER BY f.id",
            tid,
        ),
        "participants": rows(
            "SELECT * FROM ticket_participants WHERE ticket_id <> ? ORDER BY ticket_id, email", tid
        ),
        "outbound": rows("SELECT * FROM outbound WHERE ticket_id <> ? ORDER BY id", tid),
        "history": rows("SELECT * FROM history WHERE ticket_id <> ? ORDER BY id", tid),
        "contacts": rows("SELECT * FROM contacts WHERE id <> ? ORDER BY id", cid),
    }


def test_erase_leaves_a_longer_or_similar_address_alone(any_ctx: Context) -> None:
    ctx = any_ctx
    numbers = _neighbours(ctx)
    own = numbers["Carls Drucker"]
    before = _others(ctx, own)
    assert any(XCARL in str(r) for r in before["articles"])
    privacy.erase(ctx, CARL, force=True)
    assert _others(ctx, own) == before  # byte for byte
    texts = ctx.store.query(
        "SELECT a.sender, a.recipients, a.cc, a.body FROM articles a "
        "JOIN tickets t ON t.id = a.ticket_id WHERE t.number = ?",
        (own,),
    )
    assert texts and CARL not in json.dumps(texts)
    assert any("Gruss\n[erased]." in str(r["body"]) for r in texts)
    # the attachment of Carl's mail lost its bytes, Xaver's kept them (compared above)
    kept = ctx.store.query(
        "SELECT f.filename, f.content FROM attachments f JOIN articles a ON a.id = f.article_id "
        "JOIN tickets t ON t.id = a.ticket_id WHERE t.number = ?",
        (own,),
    )
    assert [(r["filename"], bytes(r["content"])) for r in kept] == [("removed", b"")]


@pytest.mark.parametrize(
    ("text", "erased"),
    [
        ("carl@muster.example", "[erased]"),
        ("Gruss\nCARL@muster.example.", "Gruss\n[erased]."),
        ("<carl@muster.example>, 'carl@muster.example'", "<[erased]>, '[erased]'"),
        ("mailto:carl@muster.example?subject=Hallo", "mailto:[erased]?subject=Hallo"),
        ("xcarl@muster.example", None),
        ("x.carl@muster.example, o'carl@muster.example", None),
        ("carl@muster.example.org, carl@muster.example-it.de", None),
        ("c_rl@muster.example", None),
        ("Hallo Carl! Carl's Drucker.", "Hallo [erased]! [erased]'s Drucker."),
        ("Carls, Carl-Heinz, carl.x@y.example, carl+news@y.example", None),
    ],
)
def test_an_address_or_a_name_is_replaced_only_where_it_stands_alone(
    text: str, erased: str | None
) -> None:
    from hdcli.util import alone_bytes_pattern, alone_pattern, names_address

    terms = [CARL, "Carl"]
    assert alone_pattern(terms).sub(privacy.ERASED, text) == (erased or text)
    assert bool(alone_bytes_pattern(terms).search(text.encode())) == (erased is not None)
    assert names_address(text, CARL) == (erased is not None and "@" in text)
