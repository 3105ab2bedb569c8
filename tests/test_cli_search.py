"""hdcli search and hdcli list --search through the CLI: ranking, excerpts, the trail,
usage errors, and the index a store gets from ``hdcli db upgrade``."""

from __future__ import annotations

import json
import sqlite3
from email.message import EmailMessage
from email.utils import make_msgid

from helpdesk import Helpdesk

ANNA = "anna.schmidt@muster.example"


def _ingest(hd: Helpdesk, subject: str, body: str) -> str:
    msg = EmailMessage()
    msg["From"] = f"Anna Schmidt <{ANNA}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="muster.example")
    msg.set_content(body)
    rows = json.loads(hd.ok("mail", "ingest", "-", "--format", "json", input=bytes(msg)))
    return str(rows[0]["ticket"])


def test_search_ranks_shows_an_excerpt_and_records_the_trail(hd: Helpdesk) -> None:
    hd.seed()
    once = _ingest(hd, "Frage", "Der Drucker im Flur ist langsam.\x1b[31m")
    twice = _ingest(hd, "Drucker", "Der Drucker druckt nicht, der Drucker piept.")
    _ingest(hd, "Scanner", "Der Scanner piept.")
    rows = hd.json("search", "drucker", "--json")
    assert [r["number"] for r in rows] == [twice, once]  # the better match first
    assert "[Drucker]" in rows[0]["snippet"]
    table = hd.ok("search", "Flur")
    assert once in table and "[Flur]" in table and "\x1b" not in table  # escaped for the terminal
    picked = hd.json("search", "piept", "--status", "open", "--fields", "number,snippet", "--json")
    assert {r["number"] for r in picked} == {twice, hd.json("list", "--json")[0]["number"]}
    assert set(picked[0]) == {"number", "snippet"}
    trail = hd.json("privacy", "trail", once)
    assert [r["action"] for r in trail] == ["search", "search"]
    # hdcli list --search: the same search, newest first, recorded nowhere
    listed = hd.ok("list", "--search", "Drucker", "-q").split()
    assert listed == [twice, once]
    assert hd.ok("list", "--search", "Drucker", "--limit", "1", "-q").split() == [twice]
    assert hd.ok("list", "--search", "Drucker", "--status", "closed", "-q") == ""
    assert len(hd.json("privacy", "trail", once)) == 2


def test_a_search_without_words_is_a_usage_error(hd: Helpdesk) -> None:
    hd.seed()
    for args in (
        ("search", '"( * )'),
        ("list", "--search", "--"),
        ("search", "x", "--limit", "-1"),
    ):
        proc = hd(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_db_upgrade_indexes_the_tickets_a_store_holds(hd: Helpdesk) -> None:
    hd.seed()
    number = _ingest(hd, "Drucker", "Die Tonerkartusche ist leer.")
    with sqlite3.connect(hd.db) as db:  # the store as the version before the search index left it
        db.execute("DROP TABLE search_index")
        db.execute("DELETE FROM schema_migrations WHERE version = 8")
    assert hd("search", "Tonerkartusche").returncode == 4  # refused: upgrade first
    assert "applied migrations: 8" in hd("db", "upgrade", check=True).stderr
    assert hd.ok("search", "Tonerkartusche", "-q").split() == [number]
