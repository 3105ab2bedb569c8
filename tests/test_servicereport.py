"""Service reports as the customer receives them: text, Markdown, JSON and the PDF to sign."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hdcli.billing.accounting import ContractTerms, TimeEntryLine, ticket_charge
from hdcli.billing.document import (
    ServiceReport,
    render_json,
    render_markdown,
    render_pdf,
    render_text,
)
from hdcli.errors import UsageError

NUMBER = "2026112710000127"
HOURLY = ContractTerms("hourly", Decimal("95"), increment=15)
ENTRIES = [
    TimeEntryLine(date(2026, 11, 27), "Jörg Weiß", 10, "remote", "Drucker neu gestartet", True),
    TimeEntryLine(date(2026, 11, 27), "Anna Müller", 20, "phone", "Rückruf beim Kunden", True),
    TimeEntryLine(date(2026, 11, 28), "Anna Müller", 50, "onsite", "Treiber für Ä/Ö/Ü-Büro", True),
]


def report(**changes: object) -> ServiceReport:
    base = ServiceReport(
        ticket_number=NUMBER,
        subject="Drucker druckt nicht",
        organisation="Großhandel Süß GmbH",
        contract_number="RV-2026-001",
        requester_name="Max Müller",
        requester_email="max.mueller@example.de",
        agents=["Anna Müller", "Jörg Weiß"],
        entries=list(ENTRIES),
        charge=ticket_charge(ENTRIES, HOURLY),
        created=date(2026, 11, 28),
        billing_email="abrechnung@provider.example",
        fax_number="+49 30 123456-99",
    )
    return dataclasses.replace(base, **changes)


# --- text and Markdown -----------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_text, render_markdown])
def test_german_report_shows_the_figures(render: object) -> None:
    assert callable(render)
    out = render(report())
    assert "Servicebericht" in out
    assert NUMBER in out
    assert "Max Müller" in out and "Großhandel Süß GmbH" in out
    assert "1,33 Std." in out  # worked
    assert "1,5 Std." in out  # billed after rounding
    assert "142,50 €" in out
    assert "95,00 €" in out
    assert "28.11.2026" in out  # the report's date
    assert "2026-11-2" not in out and "EUR" not in out
    assert "abrechnung@provider.example" in out and "+49 30 123456-99" in out
    assert "Genehmigung" in out
    assert "Fernwartung" in out  # the activity, in German


@pytest.mark.parametrize("render", [render_text, render_markdown])
def test_english_report_labels(render: object) -> None:
    assert callable(render)
    out = render(report(language="en"))
    assert "Service report" in out
    assert "Billed after rounding" in out
    assert "1.5 h" in out and "142.50 EUR" in out
    assert "remote session" in out
    assert "Servicebericht" not in out


def test_text_lists_every_entry_with_its_duration() -> None:
    lines = render_text(report()).splitlines()
    rows = [line for line in lines if line.startswith(("27.11.2026", "28.11.2026"))]
    assert len(rows) == 3
    assert "Jörg Weiß" in rows[0] and "0,17 Std." in rows[0] and "Drucker neu gestartet" in rows[0]
    assert "0,83 Std." in rows[2] and "Treiber für Ä/Ö/Ü-Büro" in rows[2]
    english = render_text(report(language="en")).splitlines()
    rows = [line for line in english if line.startswith("2026-11-2")]
    assert "10m" in rows[0] and "50m" in rows[2]


def test_not_billable_ticket_says_so() -> None:
    charge = ticket_charge(ENTRIES, HOURLY, billable_override=False)
    out = render_text(report(charge=charge))
    assert "Abrechnung:" in out and "nein (ohne Berechnung)" in out
    assert "0,00 €" in out
    assert "Abgerechnete Zeit nach Rundung: 0 Std." in out  # as the month's billing says
    assert "1,33 Std." in out  # the time worked is still shown


def test_free_contract_bills_nothing_and_says_so() -> None:
    charge = ticket_charge(ENTRIES, ContractTerms("free", increment=15))
    out = render_text(report(charge=charge))
    assert "Abgerechnete Zeit nach Rundung: 0 Std." in out
    assert "nein (Vertrag ohne Berechnung)" in out and "0,00 €" in out
    assert render_json(report(charge=charge))["billed_minutes"] == 0


def test_no_charge_entry_is_marked() -> None:
    entries = [*ENTRIES, TimeEntryLine(date(2026, 11, 28), "Anna Müller", 30, "other", "", False)]
    out = render_text(report(entries=entries, charge=ticket_charge(entries, HOURLY)))
    assert "0,5 Std. (ohne Berechnung)" in out
    assert "1,83 Std." in out  # worked includes the goodwill entry
    assert "142,50 €" in out  # the amount does not


def test_included_hours_report_explains_the_allowance() -> None:
    terms = ContractTerms("included_hours", Decimal("80"), increment=15, included_minutes=120)
    out = render_text(report(charge=ticket_charge(ENTRIES, terms), included_minutes=120))
    assert "2 Std. je Monat" in out


def test_without_fax_number_only_mail_is_offered() -> None:
    out = " ".join(render_text(report(fax_number=None, language="en")).split())
    assert "reply to this mail at abrechnung@provider.example" in out
    assert "fax" not in out.lower()


def test_user_text_cannot_inject_terminal_escapes() -> None:
    entries = [TimeEntryLine(date(2026, 11, 27), "anna", 10, "remote", "ok\x1b[2J\x07 done", True)]
    out = render_text(report(entries=entries, charge=ticket_charge(entries, HOURLY)))
    assert "\x1b" not in out and "\x07" not in out
    assert "ok[2J done" in out


def test_markdown_shows_markup_in_notes_literally() -> None:
    note = "<script>alert(1)</script> **fett** | [link](http://x) `code`\nzweite Zeile"
    entries = [TimeEntryLine(date(2026, 11, 27), "anna_b", 10, "remote", note, True)]
    out = render_markdown(report(entries=entries, charge=ticket_charge(entries, HOURLY)))
    row = next(line for line in out.splitlines() if line.startswith("| 27.11.2026"))
    assert "<script>" not in out
    assert r"\<script\>" in row
    assert r"\*\*fett\*\*" in row and r"\[link\]" in row and r"\`code\`" in row
    assert r"anna\_b" in row
    # Still one table row of five cells: every pipe of the note is escaped.
    unescaped_pipes = row.replace("\\|", "").count("|")
    assert unescaped_pipes == 6
    assert "zweite Zeile" in row


# --- JSON ------------------------------------------------------------------------------------


def test_json_round_trips_with_exact_figures() -> None:
    data = render_json(report())
    again = json.loads(json.dumps(data))
    assert again == data
    assert again["ticket"] == NUMBER
    assert again["amount"] == "142.50"
    assert again["rate"] == "95.00"
    assert again["currency"] == "EUR"
    assert again["worked_minutes"] == 80 and again["worked_hours"] == "1.33"
    assert again["billed_minutes"] == 90 and again["billed_hours"] == "1.5"
    assert again["billable"] is True
    assert again["status"] == "pending"
    assert again["requester"] == {"name": "Max Müller", "email": "max.mueller@example.de"}
    assert [e["minutes"] for e in again["entries"]] == [10, 20, 50]
    assert again["entries"][0] == {
        "date": "2026-11-27",
        "agent": "Jörg Weiß",
        "minutes": 10,
        "hours": "0.17",
        "activity": "remote",
        "note": "Drucker neu gestartet",
        "billable": True,
    }
    assert again["approval"] == {
        "billing_email": "abrechnung@provider.example",
        "fax_number": "+49 30 123456-99",
    }


def test_unknown_status_or_language_is_refused() -> None:
    with pytest.raises(UsageError, match="status"):
        report(status="paid")
    with pytest.raises(UsageError, match="language"):
        report(language="fr")


# --- PDF -------------------------------------------------------------------------------------


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext (poppler-utils) extracts it."""
    if shutil.which("pdftotext") is None:
        message = "pdftotext not found: install poppler-utils (apt-get install poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def test_pdf_german(tmp_path: Path) -> None:
    pdf = render_pdf(report())
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    assert NUMBER in text
    assert "Servicebericht" in text
    assert "Max Müller" in text and "Jörg Weiß" in text and "Großhandel Süß GmbH" in text
    assert "Treiber für Ä/Ö/Ü-Büro" in text
    assert "142,50 €" in text
    assert "1,5 Std." in text and "27.11.2026" in text
    assert "Unterschrift" in text and "Datum" in text and "Name in Druckbuchstaben" in text
    assert "+49 30 123456-99" in text


def test_pdf_english(tmp_path: Path) -> None:
    text = pdf_text(render_pdf(report(language="en")), tmp_path)
    assert "Service report" in text
    assert "Signature" in text and "Name in block letters" in text
    assert "Müller" in text and "142.50 EUR" in text


def test_pdf_draws_notes_as_text_and_survives_any_character(tmp_path: Path) -> None:
    note = "<b>**nicht fett**</b> Łódź Dvořák Привет \U0001d400\U0001d401 中文\x00"
    entries = [TimeEntryLine(date(2026, 11, 27), "anna", 10, "remote", note, True)]
    pdf = render_pdf(report(entries=entries, charge=ticket_charge(entries, HOURLY)))
    text = " ".join(pdf_text(pdf, tmp_path).split())  # the cell wraps
    assert "<b>**nicht fett**</b>" in text
    assert "Łódź Dvořák Привет" in text
    assert "AB" in text  # mathematical bold letters are outside the font: transliterated
    assert "??" in text  # so is CJK, without a plain form: shown as "?", never dropped silently
    assert "\x00" not in text


def test_long_pdf_keeps_the_signature_block(tmp_path: Path) -> None:
    entries = ENTRIES * 30
    pdf = render_pdf(report(entries=entries, charge=ticket_charge(entries, HOURLY)))
    text = pdf_text(pdf, tmp_path)
    pages = re.findall(r"Seite (\d+) von (\d+)", text)
    assert len(pages) > 1
    assert all(total == str(len(pages)) for _, total in pages)
    assert text.rindex("Unterschrift") > text.rindex("Treiber")
    assert text.count("Treiber für Ä/Ö/Ü-Büro") == 30
    assert "Unterschrift" in text


def test_pdf_is_reproducible() -> None:
    assert render_pdf(report()) == render_pdf(report())


def test_pdf_has_the_letterhead_and_a_tick_box_approved_or_disputed(tmp_path: Path) -> None:
    head = ("SmartWork IT GmbH", "Hauptstraße 1, 10115 Berlin", "Tel. 030 123456 · Fax 030 99")
    text = pdf_text(render_pdf(report(letterhead=head)), tmp_path)
    assert text.index("SmartWork IT GmbH") < text.index("Servicebericht")
    assert "Hauptstraße 1, 10115 Berlin" in text and "Tel. 030 123456 · Fax 030 99" in text
    assert text.index("genehmigt", text.index("Unterschrift")) < text.index("beanstandet")
    assert "28.11.2026" in text and "0,83 Std." in text
