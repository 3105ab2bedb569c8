"""The MTA pipe: ``hdcli-mailgate`` and ``hdcli mail ingest -``, and their exit codes."""

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
    cli = seeded("mail", "ingest", "-", input=mail())
    assert cli.returncode == 75, cli.stderr


# -- a configuration that cannot work: the MTA retries, nothing is quarantined -----------------
def kept(hd: Any) -> tuple[int, int]:
    """(quarantined messages, inbound log rows) in the store."""
    db = sqlite3.connect(hd.db)
    try:
        quarantined = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        logged = db.execute("SELECT count(*) FROM inbound_log").fetchone()[0]
    finally:
        db.close()
    return int(quarantined), int(logged)


BAD_SETUPS = [
    pytest.param("[billing]\ntimezone = 'Mars/Base'\n", {}, "billing.timezone", id="timezone"),
    pytest.param("[tickets]\nsystem_id = 'abc'\n", {}, "tickets.system_id", id="system-id"),
    pytest.param("", {"HDCLI_TICKETS__SYSTEM_ID": "1"}, "tickets.system_id", id="system-id-env"),
    # passes the load (a plugin might register it) and fails when the ticket gets its number
    pytest.param(
        "[tickets]\nnumber_format = 'pigeon'\n", {}, "tickets.number_format", id="number-format"
    ),
]


@pytest.mark.parametrize(("text", "env", "key"), BAD_SETUPS)
def test_a_bad_configuration_makes_the_mailgate_answer_75(
    seeded: Any, text: str, env: dict[str, str], key: str
) -> None:
    seeded.config.parent.mkdir(parents=True, exist_ok=True)
    seeded.config.write_text(text, encoding="utf-8")
    seeded.env.update(env)
    proc = mailgate(seeded, mail())
    assert proc.returncode == 75, proc.stderr
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("hdcli-mailgate: error: ") and f" {key}: " in err[0]
    assert err[0].endswith("; try again later")
    assert proc.stdout == b""
    assert kept(seeded) == (0, 0)  # neither quarantined nor logged: the retry is a first time
    # fixed, the MTA's next attempt goes through
    seeded.config.unlink()
    for name in env:
        del seeded.env[name]
    proc = mailgate(seeded, mail())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "new"


def cli_in_process(
    hd: Any, args: list[str], raw: bytes, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[int, str, str]:
    """Run ``hdcli ARGS`` in this process with ``raw`` on stdin; (exit code, stdout, stderr)."""
    import io
    import os

    from hdcli import cli

    for name in [k for k in os.environ if k.startswith("HDCLI_")]:
        monkeypatch.delenv(name)
    for name, value in hd.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(hd.root)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    with pytest.raises(SystemExit) as done:
        cli.main(args)
    captured = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.mark.parametrize(("text", "env", "key"), BAD_SETUPS)
def test_a_bad_configuration_makes_mail_ingest_stdin_answer_75(
    seeded: Any,
    text: str,
    env: dict[str, str],
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    seeded.config.parent.mkdir(parents=True, exist_ok=True)
    seeded.config.write_text(text, encoding="utf-8")
    seeded.env.update(env)
    code, stdout, stderr = cli_in_process(
        seeded, ["mail", "ingest", "-"], mail(), monkeypatch, capsys
    )
    assert code == 75, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and f" {key}: " in lines[0] and "try again later" in lines[0]
    assert kept(seeded) == (0, 0)
    # a file is no MTA delivery: the same configuration is a usage error there (exit 2)
    message = seeded.root / "m.eml"
    message.write_bytes(mail())
    code, _, stderr = cli_in_process(
        seeded, ["mail", "ingest", str(message)], b"", monkeypatch, capsys
    )
    assert code == 2 and f" {key}: " in stderr
    assert kept(seeded) == (0, 0)


def test_values_unusable_during_ingest_pass_through(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the load accepted but that fails when used raises ConfigError out of ingest
    (the caller retries) instead of quarantining the message."""
    import zoneinfo

    from hdcli.errors import ConfigError
    from hdcli.mail.ingest import ingest_one

    def missing(key: str) -> Any:
        raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {key}")

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)  # e.g. tzdata removed
    ctx.__dict__.pop("tz", None)  # the fixture's setup read it already
    with pytest.raises(ConfigError, match=r"^billing\.timezone: unknown time zone"):
        ingest_one(ctx, mail(), "test")
    monkeypatch.undo()
    ctx.__dict__.pop("tz", None)
    ctx.config._values["tickets.system_id"] = "x1"  # as a Config built without the load
    with pytest.raises(ConfigError, match=r"^tickets\.system_id: expected two digits"):
        ingest_one(ctx, mail(), "test")
    rows = ctx.store.query_one(
        "SELECT (SELECT count(*) FROM quarantine) AS q, (SELECT count(*) FROM inbound_log) AS l"
    )
    assert (rows["q"], rows["l"]) == (0, 0)
    ctx.config._values["tickets.system_id"] = "10"
    assert ingest_one(ctx, mail(), "test").outcome == "new"
