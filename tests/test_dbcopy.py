"""``hdcli db copy``: a whole helpdesk moves between backends and reads the same afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hdcli.backends.testing import postgres_schema

ATTACHMENT = bytes(range(256)) * 8 + "Prüfbericht ✓".encode()


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    with postgres_schema(postgres_url) as url:
        yield url


def build_helpdesk(hd) -> list[str]:  # type: ignore[no-untyped-def]
    """Customers, four tickets with replies, time, a close with its report, a follow-up
    link, an attachment, queued mail and a quarantined message, made with the CLI."""
    from hdcli.articles import add_article
    from hdcli.backends import open_storage
    from hdcli.config import Config
    from hdcli.context import Context
    from hdcli.views import get_ticket

    hd.seed()
    numbers = [hd.open(f"Ticket {i} – Drucker") for i in range(3)]
    hd.ok("assign", numbers[0], "--to", "mmueller", "--start")
    hd.ok("reply", numbers[0], "-m", "Bitte neu starten. Grüße", "--time", "30m")
    hd.ok("log", numbers[0], "1h30m", "--note", "vor Ort", "--activity", "onsite")
    hd.ok("note", numbers[1], "-m", "intern")
    hd.ok("close", numbers[0], "--reason", "erledigt")
    queued = hd(
        "open", "--contact", "anna.schmidt@muster.example", "--subject", "Wartet in der Queue",
        "--body", "x", "-q", env={"HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"},
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    numbers.append(queued.stdout.strip())
    config = Config.load(env=hd.env)
    ctx = Context(config, "mmueller")
    store = open_storage(config.storage_url, config)
    ctx.__dict__["store"] = store
    try:
        with store.transaction():
            ticket = get_ticket(store, numbers[1])
            add_article(
                store, ticket, kind="email", direction="in", sender="anna.schmidt@muster.example",
                subject="Bericht", body="anbei", message_id="<att-1@muster.example>",
                attachments=[("bericht.bin", "application/octet-stream", ATTACHMENT)],
            )  # fmt: skip
            store.insert(
                "quarantine",
                {"message_key": "k1", "source": "test", "reason": "no contract",
                 "raw": b"From: x@y\r\n\r\n\xff\xfe", "created_at": "2026-11-27T09:00:00Z"},
            )  # fmt: skip
    finally:
        store.close()
    return numbers


def shows(hd, numbers: list[str], url: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    env = {"HDCLI_STORAGE__URL": url}
    result = {}
    for n in numbers:
        proc = hd("show", n, "--format", "json", env=env)
        assert proc.returncode == 0, proc.stderr
        result[n] = json.loads(proc.stdout)
    return result


def blobs(url: str) -> list[tuple[str, bytes]]:
    from hdcli.backends import open_storage

    store = open_storage(url, None, upgrade=False)
    try:
        rows = store.query("SELECT filename, content FROM attachments ORDER BY id")
        rows += store.query("SELECT message_key AS filename, raw AS content FROM quarantine")
        return [(r["filename"], bytes(r["content"])) for r in rows]
    finally:
        store.close()


def counts(url: str) -> dict[str, int]:
    from hdcli.backends import open_storage
    from hdcli.dbcopy import copy_order

    store = open_storage(url, None, upgrade=False)
    try:
        return {
            t: int(store.query_one(f"SELECT count(*) AS n FROM {t}")["n"])  # type: ignore[index]
            for t in copy_order(store)
            if t != "access_log"  # every `show` of the comparison adds its own trail row
        }
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_sqlite_helpdesk_moves_to_postgres_and_back(hd, pg_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    numbers = build_helpdesk(hd)
    source = f"sqlite:///{hd.db}"
    before = shows(hd, numbers, source)
    assert any(a["attachments"] for a in before[numbers[1]]["articles"])  # type: ignore[index]

    proc = hd("db", "copy", "--from", source, "--to", pg_url)
    assert proc.returncode == 0, proc.stderr
    assert "copy verified" in proc.stderr
    assert "tickets: 4" in proc.stderr
    assert shows(hd, numbers, pg_url) == before
    assert blobs(pg_url) == blobs(source)
    assert counts(pg_url) == counts(source)
    pg = {"HDCLI_STORAGE__URL": pg_url}
    assert hd("list", "--format", "json", env=pg).stdout == hd("list", "--format", "json").stdout
    queue = json.loads(hd("mail", "queue", "--format", "json", env=pg).stdout)
    assert [q["ticket"] for q in queue] == [numbers[3]]
    # the search index is not copied: the target's own is built from the copied rows
    found = hd("search", "Drucker", "-q", env=pg).stdout.split()
    assert sorted(found) == sorted(hd.ok("search", "Drucker", "-q").split()) and found

    # Work goes on in PostgreSQL: new ids follow the copied ones, numbers keep counting.
    new = hd("open", "--contact", "anna.schmidt@muster.example", "--subject", "Neu auf PG",
             "--body", "x", "-q", env=pg)  # fmt: skip
    assert new.returncode == 0, new.stderr
    assert new.stdout.strip() not in numbers
    assert hd("reply", numbers[1], "-m", "weiter", env=pg).returncode == 0

    back = f"sqlite:///{tmp_path / 'back.db'}"
    proc = hd("db", "copy", "--from", pg_url, "--to", back)
    assert proc.returncode == 0, proc.stderr
    assert shows(hd, numbers, back) == shows(hd, numbers, pg_url)
    assert "Neu auf PG" in hd("search", "Neu", env={"HDCLI_STORAGE__URL": back}).stdout
    assert blobs(back) == blobs(pg_url)


def test_copy_between_sqlite_files_keeps_everything(hd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    numbers = build_helpdesk(hd)
    source, target = f"sqlite:///{hd.db}", f"sqlite:///{tmp_path / 'copy' / 'hdcli.db'}"
    proc = hd("db", "copy", "--from", source, "--to", target)
    assert proc.returncode == 0, proc.stderr
    assert shows(hd, numbers, target) == shows(hd, numbers, source)
    assert counts(target) == counts(source)
    assert blobs(target) == blobs(source)


def test_non_empty_target_is_refused_unless_forced(hd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    numbers = build_helpdesk(hd)
    source = f"sqlite:///{hd.db}"
    target = f"sqlite:///{tmp_path / 'other.db'}"
    other = {"HDCLI_STORAGE__URL": target}
    assert hd("org", "add", "Andere AG", "--kind", "company", env=other).returncode == 0

    proc = hd("db", "copy", "--from", source, "--to", target)
    assert proc.returncode == 4
    assert "--force" in proc.stderr
    assert "Andere AG" in hd("org", "list", "--format", "csv", env=other).stdout

    proc = hd("db", "copy", "--from", source, "--to", target, "--force")
    assert proc.returncode == 0, proc.stderr
    orgs = hd("org", "list", "--format", "csv", env=other).stdout
    assert "Andere AG" not in orgs
    assert "Muster GmbH" in orgs
    assert shows(hd, numbers, target) == shows(hd, numbers, source)


def test_copy_onto_itself_and_from_nothing_are_refused(hd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    source = f"sqlite:///{hd.db}"
    proc = hd("db", "copy", "--from", source, "--to", source, "--force")
    assert proc.returncode == 2
    assert "same store" in proc.stderr
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    proc = hd("db", "copy", "--from", empty, "--to", f"sqlite:///{tmp_path / 'x.db'}")
    assert proc.returncode == 4
    assert "no hdcli helpdesk" in proc.stderr
