"""The MTA pipe: ``hdcli-mailgate`` and ``hdcli mail ingest -``, and their exit codes.

The pipes run as real processes here: what an MTA acts on is the exit status of a process.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_ingest import mail


def mailgate_cmd() -> list[str]:
    script = Path(sys.executable).with_name("hdcli-mailgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hdcli.mailgate"]


def mailgate(hd: Any, raw: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*mailgate_cmd(), *args],
        input=raw,
        capture_output=True,
        env=hd.env,
        cwd=hd.root,
        timeout=120,
    )


@pytest.fixture
def seeded(hd: Any) -> Any:
    hd.seed()
    return hd


def test_mailgate_handles_new_rejected_duplicate_and_quarantined_with_exit_0(seeded: Any) -> None:
    cases = [
        (mail(), "new"),
        (mail(), "duplicate"),
        (mail(sender="fremd@nowhere.example", message_id="<f@nowhere.example>"), "rejected"),
        (b"\x00\x01 not a mail at all \xff", "quarantined"),
        (
            mail(message_id="<ooo@muster.example>", headers={"Auto-Submitted": "auto-replied"}),
            "ignored",
        ),
    ]
    for raw, outcome in cases:
        proc = mailgate(seeded, raw)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["outcome"] == outcome
        assert result["source"] == "mailgate"
    assert len(seeded.json("list")) == 1


def test_mailgate_does_not_load_the_command_line(seeded: Any) -> None:
    code = (
        "import io, sys\n"
        "from hdcli import mailgate\n"
        "raw = sys.stdin.buffer.read()\n"
        "rc = mailgate.run(['--source', 'postfix'], io.BytesIO(raw), sys.stdout, sys.stderr)\n"
        "heavy = [m for m in ('typer', 'click', 'hdcli.cli', 'hdcli.commands', 'tabulate')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=mail(),
        capture_output=True,
        env=seeded.env,
        cwd=seeded.root,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["source"] == "postfix"


def test_bad_arguments_are_a_usage_error(seeded: Any) -> None:
    proc = mailgate(seeded, mail(), "--bogus")
    assert proc.returncode == 64
    assert b"usage" in proc.stderr


@pytest.mark.slow  # waits out the store's busy timeout
def test_locked_store_makes_both_pipes_exit_75_and_keeps_nothing(seeded: Any) -> None:
    """While another process holds the database, the MTA must retry later (EX_TEMPFAIL)."""
    holder = sqlite3.connect(seeded.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # both at once: each waits the store's busy timeout before giving up
        gate = subprocess.Popen(
            [*mailgate_cmd()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=seeded.env,
            cwd=seeded.root,
        )
        cli = subprocess.Popen(
            [sys.executable, "-m", "hdcli", "mail", "ingest", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=seeded.env,
            cwd=seeded.root,
        )
        _gate_out, gate_err = gate.communicate(mail(), timeout=120)
        _cli_out, cli_err = cli.communicate(mail(), timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert gate.returncode == 75, gate_err
    assert cli.returncode == 75, cli_err
    for err in (gate_err, cli_err):
        assert len(err.decode().strip().splitlines()) == 1, err
        assert b"Traceback" not in err
    # the retried delivery then works, once
    proc = mailgate(seeded, mail())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "new"
    assert len(seeded.json("list")) == 1


def test_store_that_needs_an_upgrade_makes_the_mta_retry(seeded: Any) -> None:
    db = sqlite3.connect(seeded.db)
    with db:
        db.execute("DELETE FROM schema_migrations WHERE version > 1")
    db.close()
    proc = mailgate(seeded, mail())
    assert proc.returncode == 75, proc.stderr
    assert b"db upgrade" in proc.stderr
    cli = seeded.spawn("mail", "ingest", "-", input=mail())  # the exit status the MTA sees
    assert cli.returncode == 75, cli.stderr
