"""The MTA pipe: ``hdcli-mailgate`` and ``hdcli mail ingest -``, and their exit codes.

The pipes run as real processes here: what an MTA acts on is the exit status of a process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import require_server
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


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bogus"], "unknown argument '--bogus'"),
        (["--config"], "--config needs a value"),
        (["--config", "/nonexistent/hdcli.toml"], "/nonexistent/hdcli.toml does not exist"),
    ],
)
def test_a_wrong_command_line_makes_the_mta_retry(seeded: Any, args: list[str], says: str) -> None:
    """The pipe's arguments are configuration (the alias): 75 and one line, never 64 (a
    bounce), and nothing ingested into a store the admin did not mean."""
    proc = mailgate(seeded, mail(), *args)
    assert proc.returncode == 75, proc.stderr
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1, err
    assert says in err[0] and "usage: hdcli-mailgate" in err[0]
    assert err[0].endswith("; try again later")
    assert proc.stdout == b""
    assert kept(seeded) == (0, 0)


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


# -- a store the MTA's user cannot write: never a bounce -----------------------------------------
def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        require_server(f"{what} needs root", "run the tests as root (CI does)")


def _as_nobody() -> list[str]:
    if not shutil.which("setpriv"):
        require_server("setpriv not found", "apt-get install util-linux")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _pipes(hd: Any, env: dict[str, str], cwd: Path, prefix: list[str]) -> list[Any]:
    """``hdcli-mailgate``, ``hdcli mail ingest -`` and ``hdcli open``, as ``prefix`` says."""
    runs = []
    for cmd in (
        mailgate_cmd(),
        [sys.executable, "-m", "hdcli", "mail", "ingest", "-"],
        [sys.executable, "-m", "hdcli", "open", "--contact", "anna.schmidt@muster.example",
         "--subject", "Telefon", "--body", "x"],
    ):  # fmt: skip
        runs.append(
            subprocess.run(
                [*prefix, *cmd], input=mail(), capture_output=True, env=env, cwd=cwd, timeout=120
            )
        )
    return runs


def _assert_tempfail(runs: list[Any], reason: str) -> None:
    gate, ingest, opened = runs
    assert gate.returncode == 75, gate.stderr
    assert ingest.returncode == 75, ingest.stderr
    assert opened.returncode == 5, opened.stderr
    for proc in runs:
        err = proc.stderr.decode()
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and "unexpected" not in err, err
        assert reason in err, err


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder outside tmp_path (which only root may enter), readable by everyone."""
    path = Path(tempfile.mkdtemp(prefix="hdcli-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("folder", ["read-only folder", "writable folder"])
def test_database_the_mail_user_may_not_write_makes_the_mta_retry(
    seeded: Any, public_dir: Path, folder: str
) -> None:
    """The Postfix alias runs the pipe as ``nobody``: a root-owned 0644 database must give 75
    (the mail stays queued), not 1 (a bounce), whether or not ``nobody`` may write its folder."""
    _require_root("running the mailgate as another user")
    prefix = _as_nobody()
    db = public_dir / "hdcli.db"
    shutil.copy(seeded.db, db)
    db.chmod(0o644)
    if folder == "writable folder":
        os.chown(public_dir, 65534, 65534)
    env = {
        **seeded.env,
        "HDCLI_STORAGE__URL": f"sqlite:///{db}",
        "HDCLI_CONFIG": str(public_dir / "config.toml"),
        "HOME": str(public_dir),
        "XDG_CONFIG_HOME": str(public_dir),
        "XDG_DATA_HOME": str(public_dir),
        "HDCLI_MAIL__OUTBOUND__PATH": str(public_dir / "outbox"),
    }
    # root's own connection (a cron job, an agent) keeps the WAL files open and root's
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("SELECT count(*) FROM tickets").fetchone()
    try:
        runs = _pipes(seeded, env, public_dir, prefix)
    finally:
        holder.close()
    _assert_tempfail(runs, "readonly database")
    assert "may write the database" in runs[0].stderr.decode()
    # once the mail user may write (here: root delivers), the retried delivery works
    proc = subprocess.run(
        mailgate_cmd(), input=mail(), capture_output=True, env=env, cwd=public_dir, timeout=120
    )
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


@pytest.mark.parametrize(
    "args",
    [
        ["mail", "ingest", "-", "--bogus"],
        ["mail", "ingest", "--source", "postfix", "--format", "yaml"],
        ["mail", "ingest", "--source"],
    ],
)
def test_a_wrong_option_of_mail_ingest_stdin_makes_the_mta_retry(
    seeded: Any, args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The pipe's command line is the alias: a mistake there keeps the mail queued (75, one
    line), where it is a usage error (2) for a file as for every other command."""
    code, stdout, stderr = cli_in_process(seeded, args, mail(), monkeypatch, capsys)
    assert code == 75, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("try again later"), lines
    assert kept(seeded) == (0, 0)
    message = seeded.root / "m.eml"
    message.write_bytes(mail())
    code, _, stderr = cli_in_process(
        seeded, ["mail", "ingest", str(message), "--bogus"], b"", monkeypatch, capsys
    )
    assert code == 2, stderr
    assert kept(seeded) == (0, 0)


@pytest.mark.parametrize("error", [RuntimeError("a bug\nover two lines"), MemoryError()])
def test_a_crash_inside_mail_ingest_stdin_makes_the_mta_retry(
    seeded: Any, error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import hdcli.mail.ingest

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(hdcli.mail.ingest, "ingest_many", crash)
    code, stdout, stderr = cli_in_process(
        seeded, ["mail", "ingest", "-"], mail(), monkeypatch, capsys
    )
    assert code == 75, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"hdcli: error: unexpected {type(error).__name__}")
    assert "try again later" in lines[0]
    assert kept(seeded) == (0, 0)
    # the same crash outside the pipe stays what it is for every other command (exit 1)
    message = seeded.root / "m.eml"
    message.write_bytes(mail())
    code, _, stderr = cli_in_process(
        seeded, ["mail", "ingest", str(message)], b"", monkeypatch, capsys
    )
    assert code == 1 and "unexpected" in stderr


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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, mounted for the test and unmounted afterwards."""
    _require_root("mounting a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        require_server(f"cannot mount a tmpfs ({done.stderr.strip()})", "run as root with mount")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_makes_the_mta_retry(seeded: Any, small_disk: Path) -> None:
    db = small_disk / "hdcli.db"
    shutil.copy(seeded.db, db)
    env = {**seeded.env, "HDCLI_STORAGE__URL": f"sqlite:///{db}"}
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("SELECT count(*) FROM tickets").fetchone()
    filler = small_disk / "filler"
    try:
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
        runs = _pipes(seeded, env, seeded.root, [])
        _assert_tempfail(runs, "disk is full")
        filler.unlink()
        proc = subprocess.run(
            mailgate_cmd(), input=mail(), capture_output=True, env=env, cwd=seeded.root, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["outcome"] == "new"
    finally:
        holder.close()
    listed = json.loads(seeded("list", "--format", "json", env=env).stdout)
    assert [t["subject"] for t in listed] == ["Drucker druckt nicht"]


# -- never 1 ---------------------------------------------------------------------------------
CRASH = (
    "import sys\n"
    "import hdcli.mail.ingest\n"
    "from hdcli import mailgate\n"
    "def crash(*args, **kwargs):\n"
    "    raise {error}\n"
    "hdcli.mail.ingest.ingest_one = crash\n"
    "mailgate.main()\n"
)


@pytest.mark.parametrize(
    "error", ["RuntimeError('a bug\\nover two lines')", "KeyboardInterrupt()", "MemoryError()"]
)
def test_a_crash_of_hdcli_makes_the_mta_retry(seeded: Any, error: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASH.format(error=error)],
        input=mail(),
        capture_output=True,
        env=seeded.env,
        cwd=seeded.root,
        timeout=120,
    )
    assert proc.returncode == 75, proc.stderr
    err = proc.stderr.decode()
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"hdcli-mailgate: error: unexpected {error.split('(')[0]}")
    assert "try again later" in err


def test_a_damaged_database_makes_the_mta_retry_and_the_cli_say_so(seeded: Any) -> None:
    seeded.db.write_bytes(b"no database, a letter\n" * 500)
    proc = mailgate(seeded, mail())
    assert proc.returncode == 75, proc.stderr
    assert b"SQLITE_NOTADB" in proc.stderr
    opened = seeded("list")
    assert opened.returncode == 1
    assert opened.stderr.count("\n") == 1
    assert "not a database" in opened.stderr and "unexpected" not in opened.stderr


def test_help_is_not_an_error(seeded: Any) -> None:
    proc = mailgate(seeded, b"", "--help")
    assert proc.returncode == 0
    assert b"usage: hdcli-mailgate" in proc.stdout


# -- PostgreSQL: a lock held by another session ---------------------------------------------------
@pytest.fixture
def on_postgres(hd: Any, postgres_url: str) -> Iterator[Any]:
    from hdcli.backends.testing import postgres_schema

    with postgres_schema(postgres_url) as url:
        hd.env["HDCLI_STORAGE__URL"] = url
        hd.seed()
        yield hd


@pytest.mark.postgres
def test_a_table_lock_makes_the_mta_retry_within_the_lock_timeout(on_postgres: Any) -> None:
    """``LOCK TABLE`` in another session's open transaction (a migration, a stuck script) must
    not make the MTA pipe wait for ever: 75 once ``storage.lock_timeout`` has passed."""
    import psycopg

    hd = on_postgres
    env = {**hd.env, "HDCLI_STORAGE__LOCK_TIMEOUT": "2"}
    with psycopg.connect(hd.env["HDCLI_STORAGE__URL"], autocommit=True) as admin:
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        try:
            started = time.monotonic()
            gate = subprocess.run(
                mailgate_cmd(), input=mail(), capture_output=True, env=env, cwd=hd.root, timeout=60
            )
            took = time.monotonic() - started
            opened = hd("open", "--contact", "anna.schmidt@muster.example", "--subject", "x",
                        "--body", "y", env={"HDCLI_STORAGE__LOCK_TIMEOUT": "2"})  # fmt: skip
        finally:
            admin.execute("ROLLBACK")
    assert gate.returncode == 75, gate.stderr
    assert took < 20
    err = gate.stderr.decode()
    assert len(err.strip().splitlines()) == 1, err
    assert "lock timeout" in err and "55P03" in err and "try again later" in err
    assert opened.returncode == 5, opened.stderr
    # the retried delivery works
    proc = subprocess.run(
        mailgate_cmd(), input=mail(), capture_output=True, env=env, cwd=hd.root, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "new"
