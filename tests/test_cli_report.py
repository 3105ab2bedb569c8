"""Service reports, billing reports and approvals through the real CLI (issue 4)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpdesk import Helpdesk


def billing_csv(hd: Helpdesk, *args: str) -> dict[str, dict[str, str]]:
    """The billing CSV's rows by contract number (the totals row under ``TOTAL``)."""
    text = hd.ok("report", "billing", "--format", "csv", *args)
    rows = list(csv.DictReader(io.StringIO(text)))
    return {r["contract"] or r["organisation"]: r for r in rows if not r.get("ticket")}


def add_included_customer(hd: Helpdesk) -> None:
    hd.ok("org", "add", "Beispiel AG", "--kind", "company", "--domain", "beispiel.example")
    hd.ok(
        "contract",
        "add",
        "Beispiel AG",
        "--number",
        "RV-2",
        "--billing",
        "included_hours",
        "--included",
        "2h",
        "--rate",
        "80",
        "--increment",
        "15m",
    )
    hd.ok(
        "contact",
        "add",
        "Beispiel AG",
        "--name",
        "Bea Beispiel",
        "--email",
        "bea@beispiel.example",
        "--role",
        "main",
        "--role",
        "approver",
    )


def worked(
    hd: Helpdesk,
    *durations: str,
    contact: str = "anna.schmidt@muster.example",
    no_charge: bool = False,
    subject: str = "Drucker druckt nicht",
) -> str:
    number = hd.open(subject, contact)
    for d in durations:
        hd.ok("log", number, d, *(["--no-charge"] if no_charge else []))
    return number


@pytest.fixture
def seeded(hd: Helpdesk) -> Helpdesk:
    hd.seed()
    return hd


def test_worked_example_service_report_and_billing_csv(seeded: Helpdesk) -> None:
    hd = seeded
    add_included_customer(hd)
    first = worked(hd, "10m", "20m", "50m")
    report = hd.ok("report", "service", first)
    assert "1,5 Std." in report
    assert "142,50 €" in report
    goodwill = worked(hd, "30m", no_charge=True, subject="Maus klemmt")
    one = worked(hd, "1h", contact="bea@beispiel.example")
    other = worked(hd, "1h30m", contact="bea@beispiel.example")
    for number in (first, goodwill, one, other):
        hd.ok("close", number)

    rows = billing_csv(hd, "--month", "this")
    assert rows["RV-1"]["amount"] == "142.50"
    assert rows["RV-1"]["tickets"] == "2"
    assert rows["RV-1"]["hours_billed"] == "1.5"
    assert rows["RV-2"]["amount"] == "40.00"
    assert rows["RV-2"]["included_hours_used"] == "2"
    assert rows["RV-2"]["hours_charged"] == "0.5"
    assert rows["TOTAL"]["amount"] == "182.50"
    assert rows["TOTAL"]["pending"] == "4"

    # The ticket that went past the allowance says so on its own report.
    assert json.loads(hd.ok("report", "service", other, "--format", "json"))["amount"] == "40.00"
    assert json.loads(hd.ok("report", "service", one, "--format", "json"))["amount"] == "0.00"

    detail = list(
        csv.DictReader(
            io.StringIO(
                hd.ok("report", "billing", "--month", "this", "--format", "csv", "--detail")
            )
        )
    )
    by_ticket = {r["ticket"]: r for r in detail if r["ticket"]}
    assert by_ticket[goodwill]["amount"] == "0.00"
    assert by_ticket[goodwill]["hours_worked"] == "0.5"
    assert by_ticket[first]["amount"] == "142.50"


def test_billing_json_parses_and_month_last(seeded: Helpdesk) -> None:
    hd = seeded
    number = worked(hd, "1h")
    hd.ok("close", number)
    data = json.loads(hd.ok("report", "billing", "--month", "this", "--format", "json"))
    assert data[-1]["organisation"] == "TOTAL"
    assert data[0]["contract"] == "RV-1" and data[0]["amount"] == "95.00"
    assert json.loads(hd.ok("report", "billing", "--month", "last", "--json"))[-1]["tickets"] == 0

    # Move the close into last month: it counts there, no longer in this one.
    first_of_month = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0)
    last_month = (first_of_month - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(hd.db) as db:
        db.execute("UPDATE tickets SET closed_at = ? WHERE number = ?", (last_month, number))
    assert billing_csv(hd, "--month", "last")["RV-1"]["amount"] == "95.00"
    assert "RV-1" not in billing_csv(hd, "--month", "this")
    label = last_month[:7]
    assert billing_csv(hd, "--month", label)["TOTAL"]["tickets"] == "1"


def test_billing_bad_month_is_a_usage_error(seeded: Helpdesk) -> None:
    proc = seeded("report", "billing", "--month", "November")
    assert proc.returncode == 2
    assert "YYYY-MM" in proc.stderr


def test_start_needs_approval_and_approver_by_phone(seeded: Helpdesk) -> None:
    hd = seeded
    hd.ok("contract", "edit", "RV-1", "--approval", "before_work")
    hd.ok(
        "contact",
        "add",
        "Muster GmbH",
        "--name",
        "Bernd Kurz",
        "--email",
        "bernd.kurz@muster.example",
    )
    number = hd.open()

    proc = hd("--as", "mmueller", "start", number)
    assert proc.returncode == 4
    assert "anna.schmidt@muster.example" in proc.stderr

    refused = hd("approval", "grant", number, "--by", "bernd.kurz@muster.example", "--via", "phone")
    assert refused.returncode == 4
    assert "not an approver" in refused.stderr and "anna.schmidt@muster.example" in refused.stderr

    hd.ok("approval", "grant", number, "--by", "anna.schmidt@muster.example", "--via", "phone")
    hd.ok("--as", "mmueller", "start", number)
    shown = hd.json("show", number)
    assert shown["status"] == "in_progress"
    granted = [h for h in shown["history"] if h["action"] == "approval_granted"]
    assert granted[0]["detail"]["via"] == "phone"
    listed = hd.json("approval", "list")
    assert listed[0]["status"] == "granted"
    assert listed[0]["decided_by"] == "anna.schmidt@muster.example"


def test_approval_request_mails_approvers_and_waits(seeded: Helpdesk) -> None:
    hd = seeded
    hd.ok("contract", "edit", "RV-1", "--approval", "before_work")
    number = hd.open()
    hd.ok("approval", "request", number, "--change", "Neuen Drucker einrichten")
    mail = [m for m in hd.mails() if m["To"] and "anna.schmidt" in m["To"]][-1]
    assert number in mail["Subject"]
    assert "Neuen Drucker einrichten" in mail.get_content()
    shown = hd.json("show", number)
    assert (shown["status"], shown["waiting_for"]) == ("waiting", "approval")
    pending = hd.json("approval", "list", "--pending")
    assert pending[0]["ticket"] == number and pending[0]["kind"] == "before_work"

    hd.ok("approval", "deny", number, "--by", "anna.schmidt@muster.example", "--via", "fax")
    assert hd.json("show", number)["status"] == "new"
    assert hd("--as", "mmueller", "start", number).returncode == 4
    hd.ok("--as", "mmueller", "start", number, "--override", "--reason", "Serverausfall")
    history = hd.json("show", number)["history"]
    assert any(
        h["action"] == "approval_overridden" and h["detail"]["reason"] == "Serverausfall"
        for h in history
    )


def test_important_change_needs_a_granted_change_approval(seeded: Helpdesk) -> None:
    hd = seeded
    hd.ok("contract", "edit", "RV-1", "--approval", "changes")
    number = hd.open()
    hd.ok("--as", "mmueller", "start", number)  # work may start under `changes`

    proc = hd("approval", "apply", number, "-m", "Admin-Rechte für Bernd gesetzt")
    assert proc.returncode == 4
    assert "anna.schmidt@muster.example" in proc.stderr

    hd.ok("approval", "request", number, "--change", "Admin-Rechte für Bernd")
    assert hd.json("approval", "list")[0]["kind"] == "change"
    hd.ok("approval", "grant", number, "--by", "anna.schmidt@muster.example", "--via", "mail")
    assert hd.json("show", number)["status"] == "in_progress"
    hd.ok("approval", "apply", number, "-m", "Admin-Rechte für Bernd gesetzt")
    assert hd.json("approval", "list")[0]["status"] == "applied"
    # The approval is used up: the next important change needs its own.
    assert hd("approval", "apply", number, "-m", "noch mehr Rechte").returncode == 4


def test_service_report_pdf_and_approval_by_fax_locks_time(seeded: Helpdesk) -> None:
    hd = seeded
    number = worked(hd, "45m")
    hd.ok("close", number)
    pdf = hd.root / "f.pdf"
    hd.ok("report", "service", number, "--format", "pdf", "-o", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")

    hd.ok("report", "approve", number, "--by", "A. Schmidt", "--via", "fax")
    rows = billing_csv(hd, "--month", "this")
    assert (rows["RV-1"]["approved"], rows["RV-1"]["pending"]) == ("1", "0")
    history = hd.json("show", number)["history"]
    assert any(
        h["action"] == "service_report_approved" and h["detail"]["via"] == "fax" for h in history
    )
    assert (
        json.loads(hd.ok("report", "service", number, "--format", "json"))["status"] == "approved"
    )

    assert hd("log", number, "15m").returncode == 4  # closed
    hd.ok("reopen", number)
    proc = hd("log", number, "15m")
    assert proc.returncode == 4
    assert "locked" in proc.stderr
    assert hd("report", "billable", number, "--no").returncode == 4


def test_dispute_and_billable_override(seeded: Helpdesk) -> None:
    hd = seeded
    number = worked(hd, "1h")
    hd.ok("close", number)
    hd.ok("report", "billable", number, "--no")
    rows = billing_csv(hd, "--month", "this")
    assert rows["RV-1"]["amount"] == "0.00"
    assert rows["RV-1"]["hours_worked"] == "1"
    hd.ok("report", "billable", number, "--contract")
    assert billing_csv(hd, "--month", "this")["RV-1"]["amount"] == "95.00"

    hd.ok("report", "dispute", number, "--reason", "nur 30 Minuten vereinbart")
    assert billing_csv(hd, "--month", "this")["RV-1"]["disputed"] == "1"
    assert hd("report", "approve", "2026010110000019", "--by", "x", "--via", "fax").returncode == 3
    assert hd("report", "billable", number, "--yes", "--no").returncode == 2


def test_billing_send_to_queues_csv(seeded: Helpdesk) -> None:
    hd = seeded
    hd.ok("close", worked(hd, "10m", "20m", "50m"))
    proc = hd("report", "billing", "--month", "this", "--send-to", "buchhaltung@smartwork.example")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    mail = [m for m in hd.mails() if "buchhaltung" in str(m["To"])][-1]
    attachments = list(mail.iter_attachments())
    assert attachments[0].get_filename().startswith("billing-")
    content: Any = attachments[0].get_content()
    text = content.decode() if isinstance(content, bytes) else content
    assert "142.50" in text  # the CSV stays machine-readable
    body = mail.get_body(("plain",)).get_content()
    # German for a German reader: subject, summary and figures
    month = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin"))
    german = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"
    title = f"Abrechnung {german.split()[month.month - 1]} {month.year}"
    assert mail["Subject"] == title
    assert "142,50 €" in body and "1,5 Std. abgerechnet" in body and "ausstehend 1" in body
    assert "billing" not in body and "tickets closed" not in body
    hd.ok(
        "report",
        "billing",
        "--month",
        "this",
        "--send-to",
        "b@smartwork.example",
        "--language",
        "en",
    )
    english = [m for m in hd.mails() if "b@smartwork" in str(m["To"])][-1]
    assert english["Subject"].startswith("billing 20")
    assert "142.50 EUR" in english.get_body(("plain",)).get_content()


def test_tickets_report_by_status_and_agent(seeded: Helpdesk) -> None:
    hd = seeded
    first = hd.open()
    hd.open("Maus klemmt")
    hd.ok("assign", first, "--to", "mmueller")
    by_status = {r["group"]: r["tickets"] for r in hd.json("report", "tickets")}
    assert by_status == {"new": 1, "assigned": 1}
    by_agent = {r["group"]: r for r in hd.json("report", "tickets", "--by", "agent")}
    assert by_agent["mmueller"]["assigned"] == 1
    assert by_agent["(unassigned)"]["new"] == 1
    assert hd.json("report", "tickets", "--by", "age")[0]["tickets"] == 2
    assert hd("report", "tickets", "--by", "colour").returncode == 2
    names = [r["name"] for r in hd.json("report", "list")]
    assert {"billing", "tickets"} <= set(names)
    assert hd("report", "run", "nosuch").returncode == 2


def test_report_to_an_address_without_a_person_and_the_note_of_reply_time(
    seeded: Helpdesk,
) -> None:
    hd = seeded
    hd.ok("contract", "edit", "RV-1", "--report-to", "buchhaltung@muster.example")
    number = hd.open()
    hd.ok(
        "--as",
        "mmueller",
        "reply",
        number,
        "-m",
        "\nDrucker neu gestartet.\nGrüße",
        "--time",
        "20m",
    )
    assert hd.json("show", number)["time_entries"][0]["note"] == "Drucker neu gestartet."
    hd.ok("close", number)
    sent = [m for m in hd.mails() if m["To"] == "buchhaltung@muster.example"]
    assert len(sent) == 1
    body = sent[0].get_body(("plain",)).get_content()
    assert body.startswith("Guten Tag,\n") and "Guten Tag ," not in body
    # German figures, and how to approve it said once
    assert "0,5 Std." in body and "47,50 €" in body and "95,00 €" in body
    assert body.count("auf diese E-Mail") == 1


def test_pdf_service_report_carries_the_configured_letterhead(
    seeded: Helpdesk, tmp_path: Any
) -> None:
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed")
    hd = seeded
    hd.ok("config", "set", "provider.name", "SmartWork IT GmbH")
    hd.ok("config", "set", "provider.address", "Hauptstraße 1, 10115 Berlin")
    hd.ok("config", "set", "provider.phone", "030 123456")
    hd.ok("config", "set", "mail.fax_number", "030 123456-99")
    number = worked(hd, "1h30m")
    path = tmp_path / "bericht.pdf"
    hd.ok("report", "service", number, "--format", "pdf", "-o", str(path))
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "SmartWork IT GmbH" in text and "Hauptstraße 1" in text and "10115 Berlin" in text
    assert "Tel. 030 123456 · Fax 030 123456-99" in text
    assert "142,50 €" in text and "genehmigt" in text and "beanstandet" in text
