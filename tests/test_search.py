"""Full-text search in process: the index kept with every change, hostile queries, erasure."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from workflow import ANNA

from hdcli import customers, privacy, tickets
from hdcli.context import Context
from hdcli.errors import UsageError
from hdcli.mail.ingest import ingest_one
from hdcli.search import rebuild
from hdcli.views import list_tickets

BERT = "bert.meier@muster.example"


def _mail(n: int, sender: str, name: str, subject: str, body: str, pdf: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<s-{n}@muster.example>"
    msg.set_content(body)
    if pdf:
        msg.add_attachment(b"%PDF-1.4\n%%EOF\n", "application", "pdf", filename=pdf)
    return bytes(msg)


def _found(ctx: Context, query: str, **filters: str) -> list[str]:
    return [r["subject"] for r in list_tickets(ctx.store, search=query, ranked=True, **filters)]


def _setup(ctx: Context) -> None:
    customers.add_contact(ctx, "Muster GmbH", "Bert Meier", BERT)
    ingest_one(
        ctx,
        _mail(1, ANNA, "Anna Schmidt", "Drucker", "Die Tonerkartusche des Druckers ist leer."),
    )
    ingest_one(
        ctx, _mail(2, BERT, "Bert Meier", "Scanner", "Der Scanner piept.", "Rechnung-4711.pdf")
    )


def test_a_ticket_is_found_by_a_word_of_the_mail_and_by_the_callers_surname(
    any_ctx: Context,
) -> None:
    ctx = any_ctx
    _setup(ctx)
    assert _found(ctx, "Tonerkartusche") == ["Drucker"]
    assert _found(ctx, "schmidt") == ["Drucker"]  # the requester's surname, any case
    assert _found(ctx, "Meier") == ["Scanner"]
    assert _found(ctx, "4711") == ["Scanner"]  # an attachment's name
    assert _found(ctx, "Drucker") == ["Drucker"]  # subject and "des Druckers"
    assert _found(ctx, "Tonerkartusche Scanner") == []  # every word must occur
    assert _found(ctx, "Scanner", status="closed") == []
    # a follow-up's words and a renamed requester are found in the same transaction
    number = list_tickets(ctx.store, search="Scanner")[0]["number"]
    tickets.note(ctx, number, "Lampe am Vorlagenglas tauschen")
    assert _found(ctx, "Vorlagenglas") == ["Scanner"]
    customers.edit_contact(ctx, BERT, name="Bert Kowalski")
    assert _found(ctx, "Kowalski") == ["Scanner"]


def test_a_word_finds_its_longer_forms(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, _mail(3, ANNA, "Anna Schmidt", "Bitte", "Das Papierfach des Druckers klemmt."))
    ingest_one(ctx, _mail(4, ANNA, "Anna Schmidt", "Netz", "Die Verbindungen brechen ab."))
    assert _found(ctx, "Drucker") == ["Bitte"]
    assert _found(ctx, "Verbindung") == ["Netz"]


@pytest.mark.parametrize(
    "any_ctx", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_postgresql_finds_german_stems(any_ctx: Context) -> None:
    ctx = any_ctx
    ingest_one(ctx, _mail(5, ANNA, "Anna Schmidt", "Bitte", "Keiner der Drucker druckt."))
    assert _found(ctx, "Druckers") == ["Bitte"]  # the stem, not only a prefix
    snippet = ctx.store.search_snippets(
        ctx.store.search_terms(["Druckers"]), [list_tickets(ctx.store)[0]["number"]]
    )
    assert "[Drucker]" in next(iter(snippet.values()))


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ('"Tonerkartusche', ["Drucker"]),
        ("(Tonerkartusche*", ["Drucker"]),
        ("-Tonerkartusche^", ["Drucker"]),
        ("Tonerkartusche AND OR (", []),  # AND and OR are words that must occur
        ("body:Tonerkartusche", []),
        ("NEAR(Tonerkartusche leer)", []),
        ("Tonerkartusche'; DROP TABLE tickets; --", []),
        ("Toner\\kartusche %_", []),
    ],
)
def test_hostile_query_syntax_is_only_words(any_ctx: Context, query: str, found: list[str]) -> None:
    ctx = any_ctx
    _setup(ctx)
    assert _found(ctx, query) == found
    assert len(list_tickets(ctx.store, search=query)) == len(found)
    assert len(list_tickets(ctx.store)) == 2


def test_a_query_without_words_is_a_usage_error(ctx: Context) -> None:
    with pytest.raises(UsageError, match="no words"):
        list_tickets(ctx.store, search='"( ) * -- ;')


def test_erasure_removes_the_person_from_the_index(any_ctx: Context) -> None:
    ctx = any_ctx
    _setup(ctx)
    for number in [r["number"] for r in list_tickets(ctx.store)]:
        tickets.close(ctx, number, notify=False)
    privacy.erase(ctx, BERT)
    assert _found(ctx, "Meier") == [] and _found(ctx, "bert") == []
    assert ctx.store.search_containing("Meier") == []
    assert ctx.store.search_containing(BERT) == []
    assert _found(ctx, "Schmidt") == ["Drucker"]  # nobody else is forgotten


def test_a_rebuild_indexes_every_ticket_again(any_ctx: Context) -> None:
    ctx = any_ctx
    _setup(ctx)
    with ctx.store.transaction():
        ctx.store.search_clear()
    assert _found(ctx, "Tonerkartusche") == []
    assert rebuild(ctx.store) == 2
    assert _found(ctx, "Tonerkartusche") == ["Drucker"]


def test_edit_merge_and_split_keep_the_index(any_ctx: Context) -> None:
    ctx = any_ctx
    _setup(ctx)
    printer = list_tickets(ctx.store, search="Tonerkartusche")[0]["number"]
    scanner = list_tickets(ctx.store, search="piept")[0]["number"]
    tickets.edit(ctx, printer, tickets.Edit(subject="Farblaser"))
    assert _found(ctx, "Farblaser") == ["Farblaser"]
    tickets.merge(ctx, scanner, printer)  # the scanner's mail now belongs to the printer ticket
    assert _found(ctx, "piept") == ["Farblaser"]
    moved = [a["id"] for a in tickets_show(ctx, printer) if "piept" in str(a["body"])]
    new = tickets.split(ctx, printer, moved, subject="Scanner wieder")
    assert _found(ctx, "piept") == ["Scanner wieder"] and new["number"] != printer


def tickets_show(ctx: Context, number: str) -> list[dict[str, object]]:
    from hdcli.views import show

    return list(show(ctx.store, number)["articles"])  # type: ignore[call-overload]


def test_many_hits_rank_the_newest_that_pass_the_filters(
    any_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdcli.repo import tickets as ticket_repo

    ctx = any_ctx
    monkeypatch.setattr(ticket_repo, "RANKED", 2)  # as if a word were in thousands of tickets
    bodies = ["Drucker Drucker Drucker Drucker", "Drucker", "Drucker Drucker", "Drucker"]
    for n, body in enumerate(bodies, start=10):
        ingest_one(ctx, _mail(n, ANNA, "Anna Schmidt", f"Fall {n}", body))
    first = next(r["number"] for r in list_tickets(ctx.store) if r["subject"] == "Fall 10")
    tickets.close(ctx, first, notify=False)

    def found(**kw: object) -> list[str]:
        return [r["subject"] for r in list_tickets(ctx.store, search="Drucker", ranked=True, **kw)]

    # the newest two hits (Fall 13, Fall 12) are ranked: the better one first
    assert found(limit=1) == ["Fall 12"]
    assert found(limit=2) == ["Fall 12", "Fall 13"]
    # a filter applies before the bound: the one closed ticket is found, though it is the oldest
    assert found(status="closed", limit=5) == ["Fall 10"]
    assert found(status="open", limit=2) == ["Fall 12", "Fall 13"]
    assert found(limit=4)[0] == "Fall 10"  # asked for more than the bound: every hit ranked
    assert found() == ["Fall 10", "Fall 12", "Fall 13", "Fall 11"]  # no limit: all ranked


def test_sqlite_words_stand_for_exactly_the_terms_they_begin(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word is looked up in the index's vocabulary and named by its terms (faster than a
    prefix): the tickets found are those the prefix itself finds, whatever the case,
    diacritics, script or number of terms."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hdcli.backends import sqlite as backend

    store = ctx.store
    letters = "aAbäÄoöÖuüÜßsSéEıIİǅΣσςЖж1"
    word = st.text(letters, min_size=1, max_size=5)

    def ids(terms: str) -> set[int]:
        sql = f"SELECT ticket_id FROM ({store.search_ids}) h"
        return {int(r["ticket_id"]) for r in store.query(sql, [terms])}

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.lists(word, min_size=1, max_size=6), min_size=1, max_size=8),
           st.lists(word, min_size=1, max_size=3), st.integers(0, 3))  # fmt: skip
    def same(docs: list[list[str]], query: list[str], expand: int) -> None:
        monkeypatch.setattr(backend, "SEARCH_EXPAND", expand)
        monkeypatch.setattr(backend, "SEARCH_EXPAND_FROM", 1)
        with store.transaction():
            store.search_clear()
            store.search_put([(i, " ".join(d)) for i, d in enumerate(docs, start=1)])
        words = list(dict.fromkeys(query))
        prefix = " AND ".join('"' + w + '"*' for w in words)
        assert ids(store.search_terms(words)) == ids(prefix)

    same()
    with store.transaction():
        store.search_clear()


def test_sqlite_a_word_is_named_by_its_terms_unless_they_are_many(ctx: Context) -> None:
    from hdcli.backends.sqlite import SEARCH_EXPAND

    store = ctx.store
    forms = [f"formular{n:03d}" for n in range(SEARCH_EXPAND + 1)]
    with store.transaction():
        store.search_put([(1, "Müller Drucker Druckers"), (2, " ".join(forms))])
    assert store.search_terms(["MÜLLER", "druck"]) == '("muller") AND ("drucker" OR "druckers")'
    assert store.search_terms(["Straße"]) == '"straße"'  # no term begins so: matches nothing
    assert store.search_terms(["formular"]) == '"formular"*'  # too many terms
    assert store.search_terms(["dr"]) == '"dr"*'  # too short to look up


def test_newest_hits_by_creation_are_the_same_as_sorting_every_hit(
    any_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``list --search --limit N`` sorts only candidates (the newest hits by id, and the few
    created later than they are): the tickets and their order are those of sorting every hit,
    even when creation times do not rise with the ids (here shuffled)."""
    import random

    from hdcli.repo import tickets as ticket_repo

    ctx = any_ctx
    monkeypatch.setattr(ticket_repo, "RANKED", 4)
    for n in range(30):
        body = "Drucker klemmt" if n % 3 else "Scanner piept"
        req = tickets.OpenRequest(ANNA, f"Fall {n}", body, notify=False)
        tickets.open_ticket(ctx, req)
    rng = random.Random(7)
    ids = [int(r["id"]) for r in ctx.store.query("SELECT id FROM tickets")]
    days = [f"2026-11-{d:02d}T09:00:00+00:00" for d in rng.choices(range(1, 29), k=len(ids))]
    with ctx.store.transaction():
        for tid, day in zip(ids, days, strict=True):
            ctx.store.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (day, tid))
    tickets.close(ctx, list_tickets(ctx.store, search="Drucker")[0]["number"], notify=False)

    def numbers(limit: int | None, **kw: object) -> list[str]:
        rows = list_tickets(ctx.store, search="Drucker", limit=limit, **kw)  # type: ignore[arg-type]
        return [r["number"] for r in rows]

    for limit in (1, 3, 5, 19, 20, 40):
        assert numbers(limit) == numbers(None)[:limit]
        assert numbers(limit, status="open") == numbers(None, status="open")[:limit]
    monkeypatch.setattr(ticket_repo, "LATER", 1)  # too many created later: every hit sorted
    assert numbers(5) == numbers(None)[:5]
    assert numbers(0) == []
