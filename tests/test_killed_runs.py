"""Runs killed with SIGKILL at random points (fixed seeds), as real ``hdcli`` processes.

Nothing is lost and, where the protocol allows it, nothing is delivered twice: the outbox
(Maildir) and the IMAP processed folder hold every message once; over SMTP only the one mail a
killed run was sending can arrive twice (docs/mail.md, "Delivery guarantees").

``HDCLI_KILL_LOOP_MAILS`` and ``HDCLI_KILL_LOOP_KILLS`` scale the SMTP loop up for measuring
(``-s`` prints the figures); the defaults keep this file well under a minute.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from test_fetch import anna_mail, configure_sources, fetch, tickets_per_message
from test_ingest import mail


def spawn(hd: Any, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hdcli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=hd.env,
        cwd=hd.root,
    )


def kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], delay: float, reap: bool = True
) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after ``ready()`` holds; False when it ended first."""
    deadline = time.monotonic() + 60
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    if reap:
        proc.wait(timeout=30)
    return killed


def rows(hd: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(hd.db, timeout=30)
    try:
        with db:
            return db.execute(sql, params).fetchall()
    finally:
        db.close()


def queue_mails(hd: Any, count: int) -> None:
    """``count`` mails straight into the outbound queue of a fresh store, due now."""
    hd.ok("db", "upgrade")
    now = "2026-01-01T00:00:00Z"
    db = sqlite3.connect(hd.db)
    with db:
        db.executemany(
            "INSERT INTO outbound (kind, automatic, sender, recipient, subject, message_id, raw, "
            "status, attempts, next_attempt_at, created_at) VALUES ('reply', 0, "
            "'helpdesk@smartwork.example', 'kunde@example.com', ?, ?, ?, 'queued', 0, ?, ?)",
            [
                (
                    f"Mail {i}",
                    f"<kill-{i}@smartwork.example>",
                    f"Message-ID: <kill-{i}@smartwork.example>\r\nSubject: Mail {i}\r\n\r\n"
                    f"Text {i}\r\n".encode(),
                    now,
                    now,
                )
                for i in range(count)
            ],
        )
    db.close()


@pytest.fixture
def smtp_env(hd: Any, smtp_server: Any) -> Any:
    hd.env.update(
        {
            "HDCLI_MAIL__OUTBOUND__TRANSPORT": "smtp",
            "HDCLI_MAIL__OUTBOUND__HOST": smtp_server.host,
            "HDCLI_MAIL__OUTBOUND__PORT": str(smtp_server.port),
            "HDCLI_MAIL__OUTBOUND__SECURITY": "none",
            "HDCLI_MAIL__OUTBOUND__RETRY_BASE": "0",
        }
    )
    return hd


# -- SMTP ------------------------------------------------------------------------------------


def test_smtp_flush_killed_again_and_again_repeats_at_most_the_mail_in_flight(
    smtp_env: Any, smtp_server: Any
) -> None:
    hd = smtp_env
    count = int(os.environ.get("HDCLI_KILL_LOOP_MAILS", "150"))
    kills_wanted = int(os.environ.get("HDCLI_KILL_LOOP_KILLS", "6"))
    queue_mails(hd, count)
    rnd = random.Random(20261202)
    kills = runs = 0
    while rows(hd, "SELECT count(*) FROM outbound WHERE status <> 'sent'")[0][0]:
        runs += 1
        assert runs <= kills_wanted + 5, "the queue does not empty: claims of killed runs wait"
        proc = spawn(hd, "mail", "flush", "--limit", str(count))
        if kills >= kills_wanted:
            assert proc.wait(timeout=120) == 0
            continue
        before = len(smtp_server.messages)
        if kill_when(proc, lambda b=before: len(smtp_server.messages) > b, rnd.uniform(0, 0.03)):
            kills += 1

    received = Counter(message_from_bytes(m.raw)["Message-ID"] for m in smtp_server.messages)
    twice = sum(n - 1 for n in received.values())
    print(f"\nSMTP kill loop: {count} mails, {kills} kills, {twice} delivered twice")
    assert len(received) == count  # nothing lost
    assert max(received.values()) <= 2
    assert twice <= kills  # at most the one mail in flight per kill
    assert rows(hd, "SELECT status, count(*) FROM outbound GROUP BY status") == [("sent", count)]


def test_claims_of_a_killed_flush_are_released_at_once_another_hosts_wait(
    smtp_env: Any, smtp_server: Any
) -> None:
    hd = smtp_env
    queue_mails(hd, 60)
    proc = spawn(hd, "mail", "flush")
    # killed, and not reaped before the next run: a zombie counts as ended
    assert kill_when(proc, lambda: len(smtp_server.messages) >= 3, 0, reap=False)
    try:
        claims = rows(hd, "SELECT DISTINCT claimed_by FROM outbound WHERE status = 'sending'")
        assert len(claims) == 1, "the run was not killed while it held claims"
        (claimed_by,) = claims[0]
        assert f"pid={proc.pid} " in claimed_by
        assert "host=" in claimed_by and "started=" in claimed_by
        # one of them as if claimed by a process of another host (its pid is dead here)
        (other,) = rows(
            hd, "SELECT min(id) FROM outbound WHERE status = 'sending' AND claimed_by = ?",
            (claimed_by,),
        )[0]  # fmt: skip
        foreign = f"host=elsewhere.example pid={proc.pid} started=- run=0123"
        rows(hd, "UPDATE outbound SET claimed_by = ? WHERE id = ?", (foreign, other))

        hd.ok("mail", "flush")  # no waiting for the ten minutes of a stale claim
    finally:
        proc.wait(timeout=30)
    assert rows(hd, "SELECT id, status FROM outbound WHERE status <> 'sent'") == [
        (other, "sending")
    ]
    rows(hd, "UPDATE outbound SET claimed_at = '2000-01-01T00:00:00Z' WHERE id = ?", (other,))
    hd.ok("mail", "flush")
    received = Counter(message_from_bytes(m.raw)["Message-ID"] for m in smtp_server.messages)
    assert len(received) == 60
    assert rows(hd, "SELECT count(*) FROM outbound WHERE status = 'sent'") == [(60,)]


# -- Maildir outbox --------------------------------------------------------------------------


def outbox_files(hd: Any) -> list[Path]:
    new = hd.outbox / "new"
    return sorted(new.iterdir()) if new.is_dir() else []


def test_fetch_killed_at_random_points_acknowledges_each_mail_once(hd: Any, tmp_path: Path) -> None:
    hd.seed()
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"
    count = 30
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    for i in range(count):
        (box / "new" / f"{1000 + i}.M1P1.host").write_bytes(anna_mail(i, "fetch"))
    configure_sources(hd, {"local": {"type": "maildir", "path": str(box)}})
    rnd = random.Random(4711)
    kills = 0
    for _ in range(6):
        before = len(outbox_files(hd))
        proc = spawn(hd, "mail", "fetch")
        if kill_when(proc, lambda b=before: len(outbox_files(hd)) > b, rnd.uniform(0, 0.05)):
            kills += 1
    assert kills >= 3
    hd.ok("mail", "fetch")
    hd.ok("mail", "flush")

    assert_acknowledged_once(hd, [f"<fetch-{i}@muster.example>" for i in range(count)])
    assert list((box / "new").iterdir()) == []
    assert len(list((box / ".Processed").glob("*/*"))) == count


def test_mta_pipe_killed_at_random_points_acknowledges_each_mail_once(hd: Any) -> None:
    """``hdcli mail ingest -`` killed anywhere (start-up, parsing, commit, delivery of the
    acknowledgement); the MTA then delivers every message again."""
    hd.seed()
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"
    messages = [anna_mail(i, "pipe") for i in range(6)]
    rnd = random.Random(1234)
    for i, raw in enumerate(messages):
        (logged,) = rows(hd, "SELECT count(*) FROM inbound_log")[0]
        proc = subprocess.Popen(
            [sys.executable, "-m", "hdcli", "mail", "ingest", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=hd.env, cwd=hd.root,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(raw)
        proc.stdin.close()
        if i % 2:  # right after the commit: while the acknowledgement is delivered
            committed = lambda n=logged: rows(hd, "SELECT count(*) FROM inbound_log")[0][0] > n  # noqa: E731
            kill_when(proc, committed, rnd.uniform(0, 0.02))
        else:  # anywhere
            kill_when(proc, lambda: True, rnd.uniform(0.1, 1.0))
    for raw in messages:  # the MTA's retry
        assert hd("mail", "ingest", "-", input=raw).returncode == 0
    hd.ok("mail", "flush")
    assert_acknowledged_once(hd, [f"<pipe-{i}@muster.example>" for i in range(6)])


def assert_acknowledged_once(hd: Any, message_ids: list[str]) -> None:
    """One ticket per message, one acknowledgement per ticket in the outbox, no leftovers."""
    per_message = tickets_per_message(hd)
    assert len(per_message) == len(message_ids) and set(per_message.values()) == {1}
    acks = Counter(str(message_from_bytes(p.read_bytes())["In-Reply-To"]) for p in outbox_files(hd))
    assert acks == Counter(dict.fromkeys(message_ids, 1))
    assert list((hd.outbox / "tmp").iterdir()) == []
    assert rows(hd, "SELECT count(*) FROM outbound WHERE status <> 'sent'") == [(0,)]


# -- IMAP without MOVE and UIDPLUS -----------------------------------------------------------


@pytest.fixture
def legacy(imap_server: Any, hd: Any) -> Any:
    """The Dovecot user to whom the server announces only IMAP4rev1 (no MOVE, no UIDPLUS)."""
    server = imap_server.legacy
    server.clear()
    hd.seed()
    settings = server.settings()
    hd.env["HDCLI_TEST_IMAP_PASSWORD"] = settings.pop("password")
    configure_sources(
        hd, {"old": {"type": "imap", **settings, "password_env": "HDCLI_TEST_IMAP_PASSWORD"}}
    )
    with server.connect() as conn:
        _, caps = conn.capability()
    assert b"MOVE" not in caps[0] and b"UIDPLUS" not in caps[0]
    return server


def test_imap_without_move_never_copies_twice_what_a_killed_run_copied(
    legacy: Any, hd: Any
) -> None:
    ours = anna_mail(1, "legacy")
    stranger = mail(sender="fremd@nowhere.example", message_id="<s@nowhere.example>")
    legacy.append(ours)
    legacy.append(stranger)
    # A run committed both, copied them (UID COPY) and was killed before the expunge.
    for raw in (ours, stranger):
        assert hd("mail", "ingest", "-", input=raw).returncode == 0
    with legacy.connect() as conn:
        for folder in ("Processed", "Review"):
            conn.create(folder)
        conn.select("INBOX")
        conn.uid("COPY", "1", "Processed")
        conn.uid("COPY", "2", "Review")

    code, results, err = fetch(hd)
    assert code == 0, err
    assert [r["outcome"] for r in results] == ["duplicate", "duplicate"]
    assert legacy.list_folder("INBOX") == []
    assert legacy.list_folder("Processed") == [ours]
    assert legacy.list_folder("Review") == [stranger]


def test_imap_without_move_fetch_killed_at_random_points_copies_each_message_once(
    legacy: Any, hd: Any
) -> None:
    count = 25
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"
    for i in range(count):
        legacy.append(anna_mail(i, "old"))
    hd.ok("list")  # creates the store
    rnd = random.Random(1977)
    kills = 0
    for _ in range(6):
        (before,) = rows(hd, "SELECT count(*) FROM inbound_log")[0]
        proc = spawn(hd, "mail", "fetch")
        ready = lambda b=before: rows(hd, "SELECT count(*) FROM inbound_log")[0][0] > b  # noqa: E731
        if kill_when(proc, ready, rnd.uniform(0, 0.05)):
            kills += 1
    assert kills >= 3
    code, _, err = fetch(hd)
    assert code == 0, err
    assert legacy.list_folder("INBOX") == []
    processed = Counter(
        message_from_bytes(raw)["Message-ID"] for raw in legacy.list_folder("Processed")
    )
    assert processed == Counter({f"<old-{i}@muster.example>": 1 for i in range(count)})
    per_message = tickets_per_message(hd)
    assert len(per_message) == count and set(per_message.values()) == {1}
