"""``hdcli mail fetch`` against a real Dovecot (IMAP) and a Maildir, including a killed run."""

from __future__ import annotations

import fcntl
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_ingest import mail


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def configure_sources(hd: Any, sources: dict[str, dict[str, Any]]) -> None:
    lines = []
    for name, settings in sources.items():
        lines.append(f"[mail.sources.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    hd.config.parent.mkdir(parents=True, exist_ok=True)
    hd.config.write_text("\n".join(lines) + "\n")


def fetch(hd: Any, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = hd("mail", "fetch", "--format", "jsonl", *args)
    return proc.returncode, [json.loads(x) for x in proc.stdout.splitlines()], proc.stderr


def anna_mail(i: int, tag: str) -> bytes:
    return mail(
        subject=f"Anfrage {i}", message_id=f"<{tag}-{i}@muster.example>", body=f"Problem Nummer {i}"
    )


def tickets_per_message(hd: Any) -> dict[str, int]:
    db = sqlite3.connect(hd.db)
    try:
        rows = db.execute(
            "SELECT a.message_id, count(DISTINCT a.ticket_id) FROM articles a "
            "WHERE a.direction = 'in' AND a.message_id IS NOT NULL GROUP BY a.message_id"
        ).fetchall()
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    finally:
        db.close()
    assert tickets == len(rows)
    return dict(rows)


@pytest.fixture
def imap(imap_server: Any, hd: Any) -> Any:
    imap_server.clear()
    hd.seed()
    settings = imap_server.settings()
    password = settings.pop("password")
    hd.env["HDCLI_TEST_IMAP_PASSWORD"] = password
    configure_sources(
        hd, {"inbox": {"type": "imap", **settings, "password_env": "HDCLI_TEST_IMAP_PASSWORD"}}
    )
    return imap_server


def test_imap_fetch_moves_processed_and_rejected_mail(imap: Any, hd: Any) -> None:
    imap.append(anna_mail(1, "imap"))
    imap.append(anna_mail(2, "imap"))
    imap.append(
        mail(
            sender="fremd@nowhere.example",
            message_id="<x@nowhere.example>",
            body="Fremder Inhalt 4711",
        )
    )
    code, results, err = fetch(hd)
    assert code == 0, err
    assert [r["outcome"] for r in results] == ["new", "new", "rejected"]
    assert {r["source"] for r in results} == {"inbox"}
    assert imap.list_folder("INBOX") == []
    assert len(imap.list_folder("Processed")) == 2
    review = imap.list_folder("Review")
    assert len(review) == 1 and b"Fremder Inhalt 4711" in review[0]  # kept there, not in hdcli
    # nothing left: a second run finds nothing
    code, results, err = fetch(hd)
    assert (code, results) == (0, [])


def test_imap_fetch_killed_mid_run_loses_and_duplicates_nothing(imap: Any, hd: Any) -> None:
    count = 60
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"  # one requester, many tickets
    for i in range(count):
        imap.append(anna_mail(i, "kill"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hdcli", "mail", "fetch", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=hd.env,
        cwd=hd.root,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first committed result: the run is in full swing
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    proc.stdout.close()
    assert first, err
    assert imap.list_folder("INBOX"), "the run finished before it could be killed"

    code, _results, err2 = fetch(hd)
    assert code == 0, err2
    assert imap.list_folder("INBOX") == []
    assert len(imap.list_folder("Processed")) == count
    per_message = tickets_per_message(hd)
    assert len(per_message) == count
    assert set(per_message.values()) == {1}
    # every new ticket acknowledged exactly once (the killed run's last one may still wait
    # in the queue: it was committed, then the run died before delivering it)
    hd.ok("mail", "flush")
    acks = [m for m in hd.mails() if "Anfrage" in m["Subject"]]
    assert len(acks) == count


def test_imap_fetch_with_the_server_down_exits_75(hd: Any) -> None:
    hd.seed()
    from servers import free_port

    configure_sources(
        hd,
        {
            "inbox": {
                "type": "imap",
                "host": "127.0.0.1",
                "port": free_port(),
                "security": "none",
                "username": "u",
                "password": "p",
                "timeout": 5,
            }
        },
    )
    code, results, err = fetch(hd)
    assert code == 75
    assert results == []
    assert "Traceback" not in err


def maildir(root: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def test_maildir_fetch(hd: Any, tmp_path: Path) -> None:
    hd.seed()
    box = maildir(tmp_path / "Maildir")
    (box / "new" / "1.host").write_bytes(anna_mail(1, "md"))
    (box / "cur" / "2.host:2,S").write_bytes(anna_mail(2, "md"))
    (box / "new" / "3.host").write_bytes(
        mail(sender="x@nowhere.example", message_id="<y@nowhere.example>")
    )
    (box / "new" / "4.host").write_bytes(b"\x00garbage\xff")
    configure_sources(hd, {"local": {"type": "maildir", "path": str(box)}})
    code, results, err = fetch(hd)
    assert code == 0, err
    assert sorted(r["outcome"] for r in results) == ["new", "new", "quarantined", "rejected"]
    assert list((box / "new").iterdir()) == [] and list((box / "cur").iterdir()) == []
    assert len(list((box / ".Processed").glob("*/*"))) == 2
    assert len(list((box / ".Review").glob("*/*"))) == 1
    assert len(list((box / ".Quarantine").glob("*/*"))) == 1


def test_maildir_done_after_commit_duplicate_is_cleared_away(hd: Any, tmp_path: Path) -> None:
    """A message committed by a run killed before ``done`` comes back as a duplicate and is
    then moved like its first outcome (a rejected one to the review folder)."""
    hd.seed()
    box = maildir(tmp_path / "Maildir")
    ok, stranger = anna_mail(1, "dup"), mail(sender="x@nowhere.example", message_id="<z@n.example>")
    (box / "new" / "1.host").write_bytes(ok)
    (box / "new" / "2.host").write_bytes(stranger)
    for raw in (ok, stranger):  # as if an earlier run committed both and died
        assert hd("mail", "ingest", "-", input=raw).returncode == 0
    configure_sources(hd, {"local": {"type": "maildir", "path": str(box)}})
    code, results, err = fetch(hd)
    assert code == 0, err
    assert [r["outcome"] for r in results] == ["duplicate", "duplicate"]
    assert len(list((box / ".Processed").glob("*/*"))) == 1
    assert len(list((box / ".Review").glob("*/*"))) == 1
    assert len(hd.json("list")) == 1


def test_second_run_skips_a_source_another_run_holds(hd: Any, tmp_path: Path) -> None:
    hd.seed()
    box = maildir(tmp_path / "Maildir")
    (box / "new" / "1.host").write_bytes(anna_mail(1, "lock"))
    configure_sources(hd, {"local": {"type": "maildir", "path": str(box)}})
    hd.ok("list")  # creates the store
    lock_file = hd.db.with_name(f"{hd.db.name}.fetch:local.lock")
    with open(lock_file, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            code, results, err = fetch(hd)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    assert code == 0, err
    assert results == []
    assert "skipped" in err
    assert len(list((box / "new").iterdir())) == 1
    code, results, err = fetch(hd)
    assert [r["outcome"] for r in results] == ["new"]


def test_unknown_source_name_is_a_usage_error(hd: Any, tmp_path: Path) -> None:
    configure_sources(hd, {"local": {"type": "maildir", "path": str(maildir(tmp_path / "M"))}})
    code, _, err = fetch(hd, "--source", "nope")
    assert code == 2
    assert "local" in err


def test_configured_sources_for_doctor(tmp_path: Path) -> None:
    from hdcli.config import Config
    from hdcli.errors import ConfigError
    from hdcli.mail.fetch import configured_sources

    path = tmp_path / "config.toml"
    path.write_text(
        f'[mail.sources.local]\ntype = "maildir"\npath = "{tmp_path}"\n'
        '[mail.sources.off]\ntype = "maildir"\npath = "/x"\nenabled = false\n'
    )
    found = configured_sources(Config.load(path, env={}))
    assert [s.name for s in found] == ["local"]
    path.write_text('[mail.sources.bad]\ntype = "pigeon"\n')
    with pytest.raises(ConfigError, match="pigeon"):
        configured_sources(Config.load(path, env={}))
