"""hdcli privacy through the CLI: file modes, exit codes, the trail of show; purge killed with
kill -9 at random points and resumed (a real process: the kill is the point)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from workflow import ANNA, make_context

from hdcli import tickets


def test_export_file_is_private_and_show_is_in_the_trail(hd) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    number = hd.open()
    hd.ok("show", number)
    hd.ok("privacy", "export", ANNA, "-o", "anna.json")
    path = hd.root / "anna.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ANNA in path.read_text(encoding="utf-8")
    trail = hd.json("privacy", "trail", ANNA)
    assert [r["action"] for r in trail] == ["show", "privacy.export"]
    refused = hd("privacy", "erase", ANNA, "--yes")
    assert refused.returncode == 4
    removed = hd("contact", "remove", ANNA)
    assert removed.returncode == 4 and "hdcli privacy erase" in removed.stderr


def test_the_trail_holds_only_reads_that_succeeded(hd) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    number = hd.open()
    assert hd("show", "2099010199999999").returncode == 3  # no such ticket: nothing was read
    assert hd("privacy", "export", "niemand@nowhere.example").returncode == 3
    db = sqlite3.connect(hd.db)
    try:
        assert db.execute("SELECT count(*) FROM access_log").fetchone()[0] == 0
    finally:
        db.close()
    hd.ok("show", number, "--json")
    trail = hd.json("privacy", "trail", number)
    assert [r["action"] for r in trail] == ["show"]


def _purge(root: Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys\n"
        "from hdcli.config import Config\n"
        "from hdcli.context import Context\n"
        "from hdcli import privacy\n"
        "root = sys.argv[1]\n"
        "env = {'HDCLI_STORAGE__URL': f'sqlite:///{root}/hd.db',\n"
        "       'HDCLI_MAIL__OUTBOUND__PATH': f'{root}/outbox'}\n"
        "from pathlib import Path\n"
        "ctx = Context(Config.load(Path(root) / 'config.toml', env=env), 'cron')\n"
        "privacy.purge(ctx, batch=3)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(root)])


def _state(db: Path) -> list[object]:
    con = sqlite3.connect(db)
    try:
        out: list[object] = []
        for table in (
            "tickets",
            "articles",
            "attachments",
            "ticket_participants",
            "contacts",
            "time_entries",
            "service_reports",
            "outbound",
        ):
            out.append(con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall())
        out.append(
            con.execute(
                "SELECT entity, entity_key, action, detail FROM history ORDER BY id"
            ).fetchall()
        )
        return out
    finally:
        con.close()


def test_purge_killed_and_resumed_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    ctx = make_context(a)
    try:
        for i in range(120):
            opened = tickets.open_ticket(ctx, tickets.OpenRequest(ANNA, f"Drucker {i}", "Hilfe"))
            number = str(opened.ticket["number"])
            tickets.log_time(ctx, number, 30)
            tickets.close(ctx, number, notify=False)
        with ctx.store.transaction():
            ctx.store.execute("UPDATE tickets SET closed_at = '2010-01-01T00:00:00Z'")
    finally:
        ctx.close()
    shutil.copytree(a, b)
    pristine = tmp_path / "pristine"
    shutil.copytree(a, pristine)
    started = time.monotonic()
    assert _purge(b).wait(120) == 0
    took = time.monotonic() - started
    rng = random.Random(7)
    kills = 0
    for _ in range(30):
        proc = _purge(a)
        time.sleep(rng.uniform(0.1, 0.9) * took)
        if proc.poll() is not None:
            if kills:
                break
            # done before the first kill (a faster run than the timed one): start over
            shutil.rmtree(a)
            shutil.copytree(pristine, a)
            continue
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert kills  # at least one run died on the way
    assert _purge(a).wait(120) == 0
    assert _state(a / "hd.db") == _state(b / "hd.db")


def test_billing_report_prints_the_same_totals_after_erase(hd) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    number = hd.open()
    hd.ok("log", number, "1h40m", "--note", "Anna Schmidt angerufen")
    hd.ok("close", number)
    before = hd.ok("report", "billing", "--month", "this", "--format", "csv")
    hd.ok("privacy", "erase", ANNA, "--yes")
    after = hd.ok("report", "billing", "--month", "this", "--format", "csv")
    assert after == before
    assert "166.25" in before  # 1h40m billed as 1h45m at 95 EUR


def test_export_and_erase_of_an_address_leave_a_longer_one_alone(hd) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    carl, xcarl = "carl@muster.example", "xcarl@muster.example"
    for name, addr in (("Carl", carl), ("Xaver Muster", xcarl)):
        hd.ok("contact", "add", "Muster GmbH", "--name", name, "--email", addr)
    for n, (sender, subject) in enumerate(((carl, "Carls Drucker"), (xcarl, "Xavers Scanner"))):
        raw = (
            f"From: {sender}\r\nTo: helpdesk@smartwork.example\r\nCc: {carl}.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <cli-{n}@muster.example>\r\n\r\n"
            f"Gruss\r\n{sender}\r\n"
        ).encode()
        hd.ok("mail", "ingest", "-", input=raw)
    hd.ok("privacy", "export", carl, "-o", "carl.json")
    text = (hd.root / "carl.json").read_text(encoding="utf-8")
    assert "Carls Drucker" in text and "Xavers Scanner" not in text and xcarl not in text
    db = sqlite3.connect(hd.db)
    query = "SELECT a.* FROM articles a JOIN tickets t ON t.id = a.ticket_id WHERE t.subject = ?"
    try:
        before = db.execute(query, ("Xavers Scanner",)).fetchall()
        hd.ok("privacy", "erase", carl, "--yes", "--force")
        assert db.execute(query, ("Xavers Scanner",)).fetchall() == before
        assert db.execute("SELECT count(*) FROM contacts WHERE email = ?", (xcarl,)).fetchone()[0]
    finally:
        db.close()


def test_export_with_attachments_is_a_private_zip_of_the_document_and_her_files(
    hd,  # type: ignore[no-untyped-def]
) -> None:
    """The zip holds the JSON document (the export's own) and the bytes of the files of her
    mails, under sanitised names, and nothing of another person's mail."""
    import json
    import zipfile

    from test_attachments import PDF, ingest, mail_with

    hd.seed()
    hd.ok("contact", "add", "Muster GmbH", "--name", "Bert Berg", "--email", "bert@muster.example")
    number = ingest(hd, mail_with("../Rechnung\u202e11.pdf", PDF))
    other = mail_with("bert.pdf", b"%PDF bert").replace(ANNA.encode(), b"bert@muster.example")
    ingest(hd, other)
    plain = json.loads(hd.ok("privacy", "export", ANNA))
    done = hd("privacy", "export", ANNA, "--with-attachments", "-o", "anna.zip")
    assert done.returncode == 0, done.stderr
    assert "1 attachment(s)" in done.stderr
    path = hd.root / "anna.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        document = json.loads(archive.read("export.json"))
        files = [n for n in names if n.startswith("attachments/")]
        assert len(files) == 1 and files[0].startswith(f"attachments/{number}/")
        assert "/" not in files[0].removeprefix(f"attachments/{number}/")
        assert "\u202e" not in files[0] and ".." not in files[0]
        assert archive.read(files[0]) == PDF
    assert names == ["export.json", *files]
    assert document["articles"] == plain["articles"]
    assert document["tickets"] == plain["tickets"]
    assert "bert" not in json.dumps(document).lower()
    refused = hd("privacy", "export", ANNA, "--with-attachments")
    assert refused.returncode == 2 and "-o FILE" in refused.stderr
