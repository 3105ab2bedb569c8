"""Batch ingest (``ingest_many``): many messages per transaction, each still undone alone.

A real plugin (registered with pluggy, unregistered afterwards) makes chosen messages fail
inside ingest: with an ordinary error (the message is quarantined, its neighbours in the same
batch are kept) or with a transient one (the open batch is rolled back, nothing of it is
reported, earlier batches stay).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from hdcli import hookimpl
from hdcli.errors import BackendUnavailable

ANNA = "anna.schmidt@muster.example"


def mail(n: int, subject: str = "Drucker druckt nicht", sender: str = ANNA) -> bytes:
    return (
        f"From: Anna Schmidt <{sender}>\r\nTo: helpdesk@smartwork.example\r\n"
        f"Subject: {subject} {n}\r\nMessage-ID: <batch{n}@muster.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nBitte helfen.\r\n"
    ).encode()


class Failing:
    """Fails every new ticket whose subject holds ``word``, with ``error``."""

    def __init__(self, word: str, error: Exception) -> None:
        self.word = word
        self.error = error

    @hookimpl
    def route_message(self, mail: Any, config: Any) -> str | None:
        if self.word in mail.subject:
            raise self.error
        return None


@pytest.fixture
def ctx(hd: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    hd.seed()
    for key, value in hd.env.items():
        if key.startswith(("HDCLI_", "XDG_")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("HDCLI_MAIL__OUTBOUND__SEND_NOW", "false")
    from hdcli.config import Config
    from hdcli.context import Context

    context = Context(Config.load(None, None))
    yield context
    context.close()


@pytest.fixture
def plugin() -> Iterator[Any]:
    from hdcli.plugins import pm

    registered: list[str] = []

    def register(p: Any) -> None:
        pm.register(p, f"test-batch-{len(registered)}")
        registered.append(f"test-batch-{len(registered)}")

    yield register
    for name in registered:
        pm.unregister(name=name)


def outcomes(db: Any) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1] for r in con.execute("SELECT subject, status FROM tickets ORDER BY id")}
    finally:
        con.close()


def test_a_failing_message_is_quarantined_alone_within_its_batch(
    ctx: Any, hd: Any, plugin: Any
) -> None:
    from hdcli.mail.ingest import ingest_many

    plugin(Failing("kaputt", RuntimeError("routing broke")))
    messages = [(f"m{i}", mail(i, "kaputt" if i == 2 else "Drucker")) for i in range(5)]
    results = list(ingest_many(ctx, messages, batch=3))

    assert [r.outcome for r in results] == ["new", "new", "quarantined", "new", "new"]
    assert "routing broke" in results[2].reason
    subjects = outcomes(hd.db)
    assert sorted(subjects) == ["Drucker 0", "Drucker 1", "Drucker 3", "Drucker 4"]
    con = sqlite3.connect(hd.db)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
    # one acknowledgement per ticket, none for the quarantined message
    assert con.execute("SELECT count(*) FROM outbound").fetchone()[0] == 4
    con.close()
    # the same folder again: every message a duplicate, nothing new
    again = list(ingest_many(ctx, messages, batch=3))
    assert {r.outcome for r in again} == {"duplicate"}


def test_a_transient_error_rolls_back_the_open_batch_only(ctx: Any, hd: Any, plugin: Any) -> None:
    from hdcli.mail.ingest import ingest_many

    plugin(Failing("gesperrt", BackendUnavailable("store locked")))
    messages = [(f"m{i}", mail(i, "gesperrt" if i == 4 else "Drucker")) for i in range(6)]
    seen = []
    with pytest.raises(BackendUnavailable):
        for result in ingest_many(ctx, messages, batch=3):
            seen.append(result)
    # the first batch (0-2) was committed and reported; of the second nothing
    assert [r.source for r in seen] == ["m0", "m1", "m2"]
    assert sorted(outcomes(hd.db)) == ["Drucker 0", "Drucker 1", "Drucker 2"]
    # run again once the store is back: the committed ones are duplicates, the rest new
    from hdcli.plugins import pm

    for name, p in list(pm.list_name_plugin()):
        if isinstance(p, Failing):
            pm.unregister(name=name)
    again = list(ingest_many(ctx, messages, batch=3))
    assert [r.outcome for r in again] == ["duplicate"] * 3 + ["new"] * 3


def test_contact_created_by_an_undone_message_is_not_reused(ctx: Any, hd: Any, plugin: Any) -> None:
    """A domain member's first message creates their contact and fails after that (rendering
    the acknowledgement): the contact goes with the message, and the member's next message in
    the same batch creates it anew instead of pointing at the undone one."""
    from hdcli.mail.ingest import ingest_many

    class FailsOnce:
        calls = 0

        @hookimpl
        def register_template_dirs(self, register: Any) -> None:
            FailsOnce.calls += 1
            if FailsOnce.calls == 1:
                raise RuntimeError("template folder unreadable")

    plugin(FailsOnce())
    new = "max.neu@muster.example"
    messages = [("a", mail(1, "Hallo", new)), ("b", mail(2, "Hallo", new))]
    results = list(ingest_many(ctx, messages, batch=10))
    assert [r.outcome for r in results] == ["quarantined", "new"]
    con = sqlite3.connect(hd.db)
    try:
        rows = con.execute("SELECT id FROM contacts WHERE email = ?", (new,)).fetchall()
        assert len(rows) == 1
        requester = con.execute(
            "SELECT requester_id FROM tickets WHERE subject = 'Hallo 2'"
        ).fetchone()
        assert requester == rows[0]
    finally:
        con.close()
