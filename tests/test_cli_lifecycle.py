"""A whole ticket's life through the real CLI on the embedded default (SQLite + Maildir outbox)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

from helpdesk import Helpdesk


def body_of(msg) -> str:  # type: ignore[no-untyped-def]
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def test_whole_lifecycle_writes_every_promised_mail(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open("Drucker im 2. OG druckt nicht")
    today = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y%m%d")
    assert re.fullmatch(r"\d{16}", number)
    assert number.startswith(today)

    hd.ok("--as", "mmueller", "assign", number, "--to", "mmueller", "--start")
    hd.ok("--as", "mmueller", "reply", number, "-m", "Bitte den Drucker neu starten.")
    hd.ok("--as", "mmueller", "log", number, "1h30m", "--activity", "remote")
    hd.ok("--as", "mmueller", "close", number)

    data = hd.json("show", number)
    assert data["status"] == "closed"
    assert data["assignee"] == "mmueller"
    assert data["time_entries"][0]["minutes"] == 90
    assert data["time_entries"][0]["agent"] == "mmueller"
    assert {a["kind"] for a in data["articles"]} >= {"phone", "mail"}

    mails = hd.mails()
    tag = f"[Ticket#{number}]"
    assert len(mails) >= 4
    assert all(tag in str(m["subject"]) for m in mails)
    assert all(m["to"].addresses[0].addr_spec == "anna.schmidt@muster.example" for m in mails)
    ack, started, reply, report = mails[:4]
    assert "Ticketnummer" in body_of(ack) and "pro Problem" in body_of(ack)
    assert "Max Müller" in body_of(started)
    assert "Bitte den Drucker neu starten." in body_of(reply)
    assert "Servicebericht" in str(report["subject"])
    assert "1,5 Std." in body_of(report)
    assert any(p.get_content_type() == "application/pdf" for p in report.iter_attachments())
    assert report["Reply-To"] == "helpdesk@smartwork.example"  # the billing address (default)
    assert ack["Reply-To"] is None
    # automatic mails say so (RFC 3834); the human reply does not
    assert ack["Auto-Submitted"] == "auto-replied"
    assert reply["Auto-Submitted"] is None
    # replies thread: the reply references what the ticket sent before
    assert reply["In-Reply-To"]


def test_every_change_is_in_the_history_with_its_actor(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "assign", number, "--to", "mmueller")
    hist = hd.json("show", number)["history"]
    assert [h["action"] for h in hist][:2] == ["opened", "assigned"]
    assert hist[1]["actor"] == "mmueller"
    env_actor = hd("note", number, "-m", "intern", env={"HDCLI_USER": "kkraus"})
    assert env_actor.returncode == 0
    assert hd.json("show", number)["history"][-1]["actor"] == "kkraus"


def test_open_for_a_stranger_is_refused_and_leaves_no_trace(hd: Helpdesk) -> None:
    hd.seed()
    proc = hd(
        "open",
        "--contact",
        "privat@gmail.example",
        "--subject",
        "Mein Laptop",
        "--body",
        "geheimer Text 4711",
    )
    assert proc.returncode == 4
    assert proc.stderr.startswith("hdcli: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert hd.json("list") == []
    assert b"geheimer Text 4711" not in hd.db.read_bytes()
    assert b"privat@gmail.example" not in hd.db.read_bytes()
    assert hd.mails() == []


def test_expired_contract_is_refused(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("contract", "edit", "RV-1", "--valid-from", "2020-01-01", "--valid-to", "2021-12-31")
    assert hd("open", "--contact", "anna.schmidt@muster.example", "--subject", "x").returncode == 4


def test_domain_address_of_a_contracted_org_is_served(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open("VPN geht nicht", "neu.kollege@muster.example")
    assert hd.json("show", number)["requester"] == "neu.kollege@muster.example"


def test_invalid_transitions_and_unknown_numbers(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("close", number)
    proc = hd("--as", "mmueller", "start", number)
    assert proc.returncode == 4
    assert "closed" in proc.stderr and "new or assigned or waiting" in proc.stderr
    assert hd("show", "2026112710999999").returncode == 3
    assert hd("log", number, "30m").returncode == 4
    hd.ok("reopen", number)
    assert hd.json("show", number)["status"] == "new"


def test_start_without_assignee_assigns_the_acting_agent(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    assert hd("start", number).returncode == 4  # no assignee and not acting as an agent
    hd.ok("--as", "mmueller", "start", number)
    data = hd.json("show", number)
    assert (data["status"], data["assignee"]) == ("in_progress", "mmueller")


def test_external_id_makes_open_idempotent(hd: Helpdesk) -> None:
    hd.seed()
    first = hd.open(
        "Monitoring: Disk voll", "anna.schmidt@muster.example", "--external-id", "nagios-77"
    )
    again = hd.open(
        "Monitoring: Disk voll", "anna.schmidt@muster.example", "--external-id", "nagios-77"
    )
    assert first == again
    assert len(hd.json("list")) == 1
    assert len(hd.mails()) == 1


def test_no_notify_sends_nothing(hd: Helpdesk) -> None:
    hd.seed()
    hd.open("Still", "anna.schmidt@muster.example", "--no-notify")
    assert hd.mails() == []


def test_subject_with_line_breaks_never_becomes_a_header(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.ok(
        "open",
        "--contact",
        "anna.schmidt@muster.example",
        "--subject",
        "Hallo\r\nBcc: evil@attacker.example\r\nX-Evil: 1",
        "-q",
    ).strip()
    raw = (hd.outbox / "new").iterdir().__next__().read_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers
    assert hd.json("show", number)["subject"] == "Hallo Bcc: evil@attacker.example X-Evil: 1"


def test_umlaut_subject_is_rfc2047_encoded(hd: Helpdesk) -> None:
    hd.seed()
    hd.open("Überweisung hängt – Größe?")
    raw = next((hd.outbox / "new").iterdir()).read_bytes()
    subject_line = next(line for line in raw.split(b"\n") if line.startswith(b"Subject:"))
    assert subject_line.isascii() and b"=?utf-8?" in subject_line.lower()
    assert "Überweisung hängt – Größe?" in str(hd.mails()[0]["subject"])


def test_list_formats_and_quiet(hd: Helpdesk) -> None:
    hd.seed()
    a = hd.open("Eins")
    b = hd.open("Zwei")
    csv_out = hd.ok("list", "--format", "csv").splitlines()
    assert csv_out[0].split(",")[:3] == ["number", "status", "subject"]
    assert len(csv_out) == 3
    assert set(hd.ok("list", "-q").split()) == {a, b}
    rows = [json.loads(line) for line in hd.ok("list", "--format", "jsonl").splitlines()]
    assert {r["number"] for r in rows} == {a, b}
    assert "| number" in hd.ok("list", "--format", "md")
    assert hd.ok("list", "--limit", "1", "-q").strip() == b
    assert hd("list", "--format", "xml").returncode == 2


def test_close_reads_numbers_from_stdin_with_dry_run(hd: Helpdesk) -> None:
    hd.seed()
    numbers = [hd.open(f"Problem {i}") for i in range(3)]
    hd.ok("--as", "mmueller", "assign", numbers[0], "--to", "mmueller")
    hd.ok("--as", "mmueller", "reply", numbers[0], "-m", "Antwort")
    waiting = hd.ok("list", "--status", "waiting", "-q")
    assert waiting.split() == [numbers[0]]
    mails_before = len(hd.mails())
    dry = hd("close", "-", "--dry-run", input=waiting)
    assert dry.returncode == 0 and f"{numbers[0]}: would be closed" in dry.stderr
    assert hd.json("show", numbers[0])["status"] == "waiting"
    assert len(hd.mails()) == mails_before  # nothing was sent either
    # a dry run checks what a real run would: an unknown number, a closed ticket
    assert hd("close", "2026112710999999", "--dry-run").returncode == 3
    hd.ok("close", "-", "--reason", "stale", input=waiting)
    assert hd.json("show", numbers[0])["status"] == "closed"
    # one bad number among good ones: the rest is done, the exit code tells
    proc = hd("close", "-", input=f"{numbers[1]}\n2026112710999999\n{numbers[2]}\n")
    assert proc.returncode == 3
    assert {hd.json("show", n)["status"] for n in numbers[1:]} == {"closed"}


def test_readme_stale_close_pipeline_with_nothing_waiting_does_nothing(hd: Helpdesk) -> None:
    # the cron job of the README, on a quiet day: exit 0, no output, no mail
    hd.seed()
    number = hd.open()
    waiting = hd("list", "--status", "waiting", "-q")
    assert waiting.returncode == 0 and waiting.stdout == ""
    closed = hd("close", "-", "--reason", "stale", input=waiting.stdout)
    assert (closed.returncode, closed.stdout, closed.stderr) == (0, "", "")
    assert hd("close", "-", input="\n\n").returncode == 0  # blank lines are no numbers
    assert hd.json("show", number)["status"] == "new"


def test_numbers_from_stdin_refuse_a_table_and_touch_nothing(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    table = hd.ok("list")  # without -q: a header, a rule, rows
    proc = hd("close", "-", "--reason", "stale", input=table)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "stdin line 1 is not a ticket number" in proc.stderr and "list -q" in proc.stderr
    assert hd.json("show", number)["status"] == "new"  # not even the valid-looking rows
    # the same reader for every command that takes -
    assert (
        hd("assign", "-", "--to", "mmueller", input=hd.ok("list", "--format", "csv")).returncode
        == 2
    )
    assert hd.json("show", number)["assignee"] is None


def test_durations_in_every_accepted_form(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    for text in ("90m", "1h30m", "1:30", "1.5h", "1,5h", "1,5 Std", "1,5 Stunden", "90 Min."):
        hd.ok("--as", "mmueller", "log", number, text)
    entries = hd.json("show", number)["time_entries"]
    assert [e["minutes"] for e in entries] == [90] * 8
    bad = hd("log", number, "lots")
    assert bad.returncode == 2 and "hdcli: error:" in bad.stderr


def test_german_dates_for_date_and_since(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "log", number, "1,5 Std", "--date", "01.12.2026")
    hd.ok("--as", "mmueller", "log", number, "30m", "--date", "1.12.")
    entries = hd.json("show", number)["time_entries"]
    year = entries[1]["date"][:4]
    assert [e["date"] for e in entries] == ["2026-12-01", f"{year}-12-01"]
    assert [r["number"] for r in hd.json("list", "--since", "letzte Woche")] == [number]
    assert hd.json("list", "--since", "01.01.2999") == []
    bad = hd("list", "--since", "31.11.2026")
    assert bad.returncode == 2 and "31.11.2026" in bad.stderr


def test_no_charge_entry_is_not_billable(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "log", number, "30m", "--no-charge", "--note", "Kulanz")
    entry = hd.json("show", number)["time_entries"][0]
    assert entry["billable"] is False and entry["note"] == "Kulanz"


def test_errors_are_one_line_unless_debug(hd: Helpdesk) -> None:
    hd.seed()
    proc = hd("show", "123")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    debug = hd("show", "123", env={"HDCLI_DEBUG": "1"})
    assert "Traceback" in debug.stderr


def test_bulk_open_from_jsonl_prints_one_number_per_row(hd: Helpdesk) -> None:
    hd.seed()
    rows = [
        json.dumps(
            {
                "contact": "anna.schmidt@muster.example",
                "subject": f"Massen {i}",
                "body": "Text",
                "external_id": f"ext-{i}",
            }
        )
        for i in range(10_000)
    ]
    path = hd.root / "tickets.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    numbers = hd.ok("open", "--from-file", str(path), "--no-notify", "-q").split()
    assert len(numbers) == 10_000
    assert len(set(numbers)) == 10_000
    with sqlite3.connect(hd.db) as db:
        assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 10_000
    # a re-run is idempotent through the external ids
    again = hd.ok("open", "--from-file", str(path), "--no-notify", "-q").split()
    assert again == numbers


def test_bulk_open_reports_bad_rows_on_stderr_and_keeps_the_good(hd: Helpdesk) -> None:
    hd.seed()
    path = hd.root / "t.csv"
    path.write_text(
        "contact,subject,impact\nanna.schmidt@muster.example,Gut,everyone\n"
        "fremd@nowhere.example,Fremd,single_user\n",
        encoding="utf-8",
    )
    proc = hd("open", "--from-file", str(path), "--format", "jsonl")
    assert proc.returncode == 4
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout: data only
    assert row["line"] == 2 and row["created"] is True
    [error] = [json.loads(line) for line in proc.stderr.splitlines()]
    assert error["code"] == 4 and error["error"].startswith("line 3: ")
    assert hd.json("list")[0]["subject"] == "Gut"
    # csv carries the same (a second ticket: the rows have no external_id); errors on stderr
    again = hd("open", "--from-file", str(path), "--format", "csv")
    header, line = again.stdout.splitlines()
    assert header == "line,number,created" and re.fullmatch(r"2,\d{16},True", line)
    assert again.stderr.startswith("hdcli: error: line 3: ") and again.stderr.count("\n") == 1


def test_phone_ticket_then_note_and_fax(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open(
        "Fax kommt nicht an",
        "anna.schmidt@muster.example",
        "--channel",
        "fax",
        "--impact",
        "everyone",
    )
    hd.ok("--as", "mmueller", "note", number, "--phone", "-m", "Rückruf erledigt", "--time", "10m")
    data = hd.json("show", number)
    assert (data["channel"], data["impact"]) == ("fax", "everyone")
    assert data["articles"][-1]["kind"] == "phone"
    assert data["time_entries"][0]["activity"] == "phone"
    assert (
        hd(
            "open",
            "--contact",
            "anna.schmidt@muster.example",
            "--subject",
            "x",
            "--impact",
            "galaxy",
        ).returncode
        == 2
    )


def test_time_of_an_approved_report_is_locked_unless_forced(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "log", number, "30m")
    hd.ok("close", number)
    hd.ok("report", "approve", number, "--by", "Anna Schmidt", "--via", "fax")
    hd.ok("reopen", number)
    refused = hd("--as", "mmueller", "log", number, "15m")
    assert refused.returncode == 4 and "approved" in refused.stderr
    hd.ok("--as", "mmueller", "log", number, "15m", "--force")
    data = hd.json("show", number)
    assert [e["minutes"] for e in data["time_entries"]] == [30, 15]
    assert "locked_time_changed" in [h["action"] for h in data["history"]]


def test_outbound_mail_round_trips_through_a_mail_parser(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("agent", "edit", "mmueller", "--name", 'Max "Mäx" Müller, IT')
    number = hd.open("Größe der Überweisung – " + "sehr lang " * 15)
    hd.ok("--as", "mmueller", "assign", number, "--to", "mmueller", "--start")
    text = "Zeile mit = Zeichen\n\tund Tab\n" + "ä" * 300 + "\n.\nEnde"
    hd.ok("--as", "mmueller", "reply", number, "-m", text)
    ack, started, reply = hd.mails()
    assert str(ack["subject"]) == f"[Ticket#{number}] Größe der Überweisung – " + " ".join(
        ["sehr lang"] * 15
    )
    assert str(ack["from"]) == "SmartWork Helpdesk <helpdesk@smartwork.example>"
    assert 'Max "Mäx" Müller, IT' in body_of(started)
    assert body_of(reply).startswith(text)
    assert reply["In-Reply-To"] == ack["Message-ID"] or reply["References"]


def test_close_of_a_ticket_with_an_umlaut_subject_sends_its_report(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("contact", "edit", "anna.schmidt@muster.example", "--name", "Änne Schmidt-Größ")
    number = hd.open("Ticket 0 – Drucker im Büro " + "sehr lang " * 10)
    hd.ok("--as", "mmueller", "log", number, "20m")
    hd.ok("--as", "mmueller", "close", number)
    report = hd.mails()[-1]
    expected = f"[Ticket#{number}] Servicebericht: Ticket 0 – Drucker"
    assert str(report["subject"]).startswith(expected)
    assert report["to"].addresses[0].display_name == "Änne Schmidt-Größ"
    assert any(p.get_content_type() == "application/pdf" for p in report.iter_attachments())
