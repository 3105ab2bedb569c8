"""Service reports (Serviceberichte): a ticket's hours, sent to the customer for approval.

A ServiceReport holds everything the customer sees; the renderers turn it into plain text, Markdown,
a JSON-safe dict or a PDF to sign and fax back. Labels are German or English by ``language``.

Figures are written for the reader by :mod:`hdcli.formats`: German ``27.11.2026``, ``1,5 Std.``
and ``142,50 €``; English ``2026-11-27``, ``1h30m (1.5 h)`` and ``142.50 EUR``. The JSON form is
for programs: ISO dates, minutes as integers, hours and money as strings with a point.

Notes, names and subjects come from users and are text, never markup: control characters are
dropped everywhere, Markdown punctuation is escaped in Markdown, and the PDF draws them as plain
text. The PDF uses the bundled DejaVu Sans (``hdcli/fonts``), so umlauts, ß, Greek and Cyrillic
print as typed; anything outside the font is transliterated (``ł`` → ``l``) or shown as ``?``.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from hdcli import formats
from hdcli.billing.accounting import CURRENCY, TicketCharge, TimeEntryLine, format_money
from hdcli.durations import format_hours
from hdcli.errors import UsageError
from hdcli.models import LANGUAGES, REPORT_STATUSES

__all__ = [
    "LANGUAGES",
    "STATUSES",
    "ServiceReport",
    "render_json",
    "render_markdown",
    "render_pdf",
    "render_text",
]

STATUSES = REPORT_STATUSES
FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"


@dataclass
class ServiceReport:
    """The service report of one ticket.

    *agents* are display names of the agents who worked on it; *entries* every time entry in date
    order; *charge* the ticket's charge under its contract. *billing_email* is where an approving
    reply goes and *fax_number* (optional) where a signed copy can be faxed. *status* is one of
    STATUSES, *language* one of LANGUAGES; anything else raises UsageError.
    """

    ticket_number: str
    subject: str
    organisation: str
    contract_number: str
    requester_name: str
    requester_email: str
    agents: list[str]
    entries: list[TimeEntryLine]
    charge: TicketCharge
    created: date
    billing_email: str
    fax_number: str | None = None
    status: str = "pending"
    language: str = "de"
    currency: str = CURRENCY
    included_minutes: int = 0
    included_used_minutes: int | None = None
    """For ``included_hours``: how much of the month's allowance this ticket used (None when
    not known, e.g. a report rendered without its month)."""
    letterhead: tuple[str, ...] = ()
    """The provider's name, address, phone and fax lines at the head of the PDF."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise UsageError(
                f"unknown service report status {self.status!r}: use {', '.join(STATUSES)}"
            )
        if self.language not in LANGUAGES:
            raise UsageError(f"unknown report language {self.language!r}: use de or en")


_LABELS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Servicebericht",
        "ticket": "Ticket",
        "subject": "Betreff",
        "organisation": "Organisation",
        "contract": "Vertrag",
        "requester": "Anfrage von",
        "agents": "Bearbeiter",
        "created": "Erstellt am",
        "status": "Status",
        "entries": "Arbeitszeiten",
        "date": "Datum",
        "agent": "Bearbeiter",
        "duration": "Dauer",
        "activity": "Tätigkeit",
        "note": "Notiz",
        "no_charge": "ohne Berechnung",
        "no_entries": "Keine Zeiten erfasst.",
        "worked": "Gesamte Arbeitszeit",
        "billed": "Abgerechnete Zeit nach Rundung",
        "billable": "Abrechnung",
        "included_used": "Davon aus Inklusivstunden",
        "yes": "ja",
        "no": "nein (ohne Berechnung)",
        "free": "nein (Vertrag ohne Berechnung)",
        "rate": "Stundensatz",
        "amount": "Betrag",
        "included": (
            "Die im Vertrag enthaltenen Stunden ({included} je Monat) werden zuerst angerechnet; "
            "darüber hinausgehende Zeit wird mit dem Stundensatz in der Monatsabrechnung berechnet."
        ),
        "approval": "Genehmigung",
        "approve_mail": (
            "Bitte genehmigen Sie die geleisteten Arbeitsstunden: antworten Sie auf diese E-Mail "
            "an {mail} (die Ticketnummer bleibt im Betreff)"
        ),
        "approve_fax": ", oder unterschreiben Sie diesen Bericht und faxen Sie ihn an {fax}",
        "approve_end": ". Einwände teilen Sie uns bitte auf demselben Weg mit.",
        "signature": "Unterschrift",
        "sign_date": "Datum",
        "block_letters": "Name in Druckbuchstaben",
        "page": "Seite {page} von {pages}",
        "status_pending": "Genehmigung ausstehend",
        "phone": "Tel.",
        "fax": "Fax",
        "status_approved": "genehmigt",
        "status_disputed": "beanstandet",
        "status_withdrawn": "zurückgezogen",
        "activity_remote": "Fernwartung",
        "activity_onsite": "vor Ort",
        "activity_phone": "Telefon",
        "activity_mail": "E-Mail",
        "activity_other": "Sonstiges",
    },
    "en": {
        "title": "Service report",
        "ticket": "Ticket",
        "subject": "Subject",
        "organisation": "Organisation",
        "contract": "Contract",
        "requester": "Requested by",
        "agents": "Agents",
        "created": "Created",
        "status": "Status",
        "entries": "Time entries",
        "date": "Date",
        "agent": "Agent",
        "duration": "Duration",
        "activity": "Activity",
        "note": "Note",
        "no_charge": "no charge",
        "no_entries": "No time recorded.",
        "worked": "Total worked",
        "billed": "Billed after rounding",
        "billable": "Billable",
        "included_used": "Of which included hours",
        "yes": "yes",
        "no": "no (free of charge)",
        "free": "no (the contract is free of charge)",
        "rate": "Hourly rate",
        "amount": "Amount",
        "included": (
            "The hours included in the contract ({included} per month) are used first; time "
            "beyond them is charged at the hourly rate in the monthly statement."
        ),
        "approval": "Approval",
        "approve_mail": (
            "Please approve the hours worked: reply to this mail at {mail} (keep the ticket number "
            "in the subject)"
        ),
        "approve_fax": ", or sign this report and fax it to {fax}",
        "approve_end": ". Please tell us the same way if you disagree.",
        "signature": "Signature",
        "sign_date": "Date",
        "block_letters": "Name in block letters",
        "page": "Page {page} of {pages}",
        "status_pending": "approval pending",
        "phone": "Phone",
        "fax": "Fax",
        "status_approved": "approved",
        "status_disputed": "disputed",
        "status_withdrawn": "withdrawn",
        "activity_remote": "remote session",
        "activity_onsite": "on site",
        "activity_phone": "phone",
        "activity_mail": "mail",
        "activity_other": "other",
    },
}

# Everything below U+0020 except newline and tab, DEL, C1 controls, and bidi overrides (which
# could make a note display differently from what it says).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: str) -> str:
    """User text as safe plain text: CRLF normalised, tabs as spaces, control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", value).strip()


def _line(value: str) -> str:
    """User text that must stay on one line (names, subjects)."""
    return " ".join(_text(value).split())


def _duration(r: ServiceReport, minutes: int) -> str:
    return formats.duration(minutes, r.language)


def _money(r: ServiceReport, value: Decimal) -> str:
    return formats.money(value, r.language, r.currency)


def _date(r: ServiceReport, day: date) -> str:
    return formats.date_text(day, r.language)


def _activity(labels: dict[str, str], activity: str) -> str:
    return labels.get(f"activity_{activity}", _line(activity))


def _approval_text(r: ServiceReport, labels: dict[str, str]) -> str:
    text = labels["approve_mail"].format(mail=_line(r.billing_email))
    if r.fax_number:
        text += labels["approve_fax"].format(fax=_line(r.fax_number))
    return text + labels["approve_end"]


def _header_rows(r: ServiceReport, labels: dict[str, str]) -> list[tuple[str, str]]:
    requester = _line(r.requester_name)
    if r.requester_email:
        requester = f"{requester} <{_line(r.requester_email)}>".strip()
    return [
        (labels["ticket"], _line(r.ticket_number)),
        (labels["subject"], _line(r.subject)),
        (labels["organisation"], _line(r.organisation)),
        (labels["contract"], _line(r.contract_number)),
        (labels["requester"], requester),
        (labels["agents"], ", ".join(_line(a) for a in r.agents)),
        (labels["created"], _date(r, r.created)),
        (labels["status"], labels[f"status_{r.status}"]),
    ]


def _total_rows(r: ServiceReport, labels: dict[str, str]) -> list[tuple[str, str]]:
    c = r.charge
    not_billed = labels["free"] if c.billing == "free" else labels["no"]
    rows = [
        (labels["worked"], _duration(r, c.worked_minutes)),
        (labels["billed"], _duration(r, c.billed_minutes)),
        (labels["billable"], labels["yes"] if c.billable else not_billed),
    ]
    if c.billing == "included_hours" and c.billable and r.included_used_minutes is not None:
        rows.append((labels["included_used"], _duration(r, r.included_used_minutes)))
    if c.billable and c.billing != "free":
        rows.append((labels["rate"], _money(r, c.rate)))
    rows.append((labels["amount"], _money(r, c.amount)))
    return rows


def _included_note(r: ServiceReport, labels: dict[str, str]) -> str | None:
    if r.charge.billing == "included_hours" and r.charge.billable:
        return labels["included"].format(included=formats.hours(r.included_minutes, r.language))
    return None


def _entry_cells(r: ServiceReport, labels: dict[str, str], e: TimeEntryLine) -> list[str]:
    duration = (
        formats.hours(e.minutes, "de")
        if r.language == "de"
        else formats.duration(e.minutes, "en").partition(" ")[0]
    )
    if not e.billable:
        duration += f" ({labels['no_charge']})"
    return [
        _date(r, e.date),
        _line(e.agent),
        duration,
        _activity(labels, e.activity),
        _text(e.note),
    ]


def render_text(r: ServiceReport, *, approval: bool = True) -> str:
    """Render *r* as plain text (UTF-8, no markup), ending with a newline; ``approval=False``
    leaves out how to approve it (the mail that carries the report says that itself)."""
    labels = _LABELS[r.language]
    title = f"{labels['title']} {_line(r.ticket_number)}"
    out = [title, "=" * len(title), ""]
    rows = _header_rows(r, labels)
    width = max(len(k) for k, _ in rows) + 2
    out += [f"{k + ':':<{width}}{v}" for k, v in rows]
    out += ["", labels["entries"], "-" * len(labels["entries"])]
    if r.entries:
        head = [labels[k] for k in ("date", "agent", "duration", "activity", "note")]
        body = [_entry_cells(r, labels, e) for e in r.entries]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(4)]
        indent = sum(widths) + 2 * 4

        def fmt(cells: list[str]) -> list[str]:
            first, *rest = cells[4].split("\n") if cells[4] else [""]
            lead = "  ".join(f"{c:<{w}}" for c, w in zip(cells[:4], widths, strict=True))
            return [f"{lead}  {first}".rstrip()] + [" " * indent + more for more in rest]

        out += fmt(head)
        for row in body:
            out += fmt(row)
    else:
        out.append(labels["no_entries"])
    out.append("")
    rows = _total_rows(r, labels)
    width = max(len(k) for k, _ in rows) + 2
    out += [f"{k + ':':<{width}}{v}" for k, v in rows]
    if note := _included_note(r, labels):
        out += ["", *textwrap.wrap(note, 78)]
    if approval:
        out += ["", labels["approval"], "-" * len(labels["approval"])]
        out += textwrap.wrap(_approval_text(r, labels), 78, break_on_hyphens=False)
    return "\n".join(out) + "\n"


# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# emphasis, code, links, HTML, entities, tables or strike-through inside a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!#])")


def _md(value: str) -> str:
    """User text as literal Markdown: punctuation escaped, line breaks as <br> (table-safe)."""
    return "<br>".join(_MD_SPECIAL.sub(r"\\\1", line) for line in _text(value).split("\n"))


def render_markdown(r: ServiceReport) -> str:
    """Render *r* as GitHub-flavoured Markdown; user text is escaped so it shows literally."""
    labels = _LABELS[r.language]
    out = [f"# {labels['title']} {_md(r.ticket_number)}", ""]
    out += [f"- **{k}:** {_md(v)}" for k, v in _header_rows(r, labels)]
    out += ["", f"## {labels['entries']}", ""]
    if r.entries:
        head = [labels[k] for k in ("date", "agent", "duration", "activity", "note")]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] * 5) + "|")
        for e in r.entries:
            out.append("| " + " | ".join(_md(c) for c in _entry_cells(r, labels, e)) + " |")
    else:
        out.append(labels["no_entries"])
    out.append("")
    out += [f"- **{k}:** {_md(v)}" for k, v in _total_rows(r, labels)]
    if note := _included_note(r, labels):
        out += ["", _md(note)]
    out += ["", f"## {labels['approval']}", "", _md(_approval_text(r, labels))]
    return "\n".join(out) + "\n"


def render_json(r: ServiceReport) -> dict[str, Any]:
    """Return *r* as a JSON-safe dict: money as strings (``"142.50"``), minutes as ints, hours as
    strings (``"1.5"``), dates ISO. The keys are a stable interface for scripts."""
    c = r.charge
    return {
        "ticket": r.ticket_number,
        "subject": r.subject,
        "organisation": r.organisation,
        "contract": r.contract_number,
        "requester": {"name": r.requester_name, "email": r.requester_email},
        "agents": list(r.agents),
        "created": r.created.isoformat(),
        "status": r.status,
        "language": r.language,
        "entries": [
            {
                "date": e.date.isoformat(),
                "agent": e.agent,
                "minutes": e.minutes,
                "hours": format_hours(e.minutes),
                "activity": e.activity,
                "note": e.note,
                "billable": e.billable,
            }
            for e in r.entries
        ],
        "billing": c.billing,
        "worked_minutes": c.worked_minutes,
        "worked_hours": format_hours(c.worked_minutes),
        "chargeable_minutes": c.chargeable_minutes,
        "billed_minutes": c.billed_minutes,
        "billed_hours": format_hours(c.billed_minutes),
        "included_minutes": r.included_minutes,
        "included_used_minutes": r.included_used_minutes,
        "billable": c.billable,
        "rate": format_money(c.rate),
        "amount": format_money(c.amount),
        "currency": r.currency,
        "approval": {"billing_email": r.billing_email, "fax_number": r.fax_number},
    }


def _pdf_safe(value: str, cmap: frozenset[int]) -> str:
    """Keep what the font can draw; decompose the rest (ł → l, é → e) or show '?'."""
    out: list[str] = []
    for ch in value:
        if ord(ch) in cmap or ch == "\n":
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        base = base or {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O"}.get(ch, "")
        out.append(base if base and all(ord(c) in cmap for c in base) else "?")
    return "".join(out)


def render_pdf(r: ServiceReport) -> bytes:
    """Render *r* as an A4 PDF to sign and fax back, with signature, date and block-letter lines.

    Needs fpdf2 (imported here, not at start-up) and the fonts bundled in ``hdcli/fonts``.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace, TTFFont

    labels = _LABELS[r.language]

    class _Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("dejavu", size=8)
            self.cell(
                0,
                5,
                safe(f"{labels['title']} {r.ticket_number} · ")
                + labels["page"].format(page=self.page_no(), pages="{nb}"),
                align="C",
            )

    pdf = _Report(format="A4", unit="mm")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    # A glyph missing in either style would print blank: only keep what both can draw.
    regular, bold = pdf.fonts["dejavu"], pdf.fonts["dejavuB"]
    assert isinstance(regular, TTFFont) and isinstance(bold, TTFFont)
    cmap = frozenset(regular.cmap) & frozenset(bold.cmap)

    def safe(value: str) -> str:
        return _pdf_safe(value, cmap)

    pdf.set_title(safe(f"{labels['title']} {r.ticket_number}"))
    pdf.set_subject(safe(r.subject))
    # Deterministic output: the same report gives the same bytes.
    pdf.set_creation_date(datetime.combine(r.created, time(), tzinfo=UTC))
    pdf.add_page()

    if r.letterhead:
        pdf.set_font("dejavu", "B", 10)
        name, *rest = r.letterhead
        pdf.cell(0, 5, safe(_line(name)), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("dejavu", "", 8)
        for text in rest:
            pdf.cell(0, 4, safe(_line(text)), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)
    pdf.set_font("dejavu", "B", 16)
    pdf.cell(
        0,
        10,
        safe(f"{labels['title']} {_line(r.ticket_number)}"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)

    def key_values(rows: list[tuple[str, str]]) -> None:
        pdf.set_font("dejavu", "B", 10)
        key_width = max(pdf.get_string_width(safe(key + ":")) for key, _ in rows) + 4
        for key, value in rows:
            pdf.set_font("dejavu", "B", 10)
            pdf.cell(key_width, 6, safe(key + ":"))
            pdf.set_font("dejavu", "", 10)
            pdf.multi_cell(0, 6, safe(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    key_values(_header_rows(r, labels))
    pdf.ln(4)
    pdf.set_font("dejavu", "B", 12)
    pdf.cell(0, 8, safe(labels["entries"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("dejavu", "", 9)
    if r.entries:
        with pdf.table(
            col_widths=(22, 30, 26, 26, 70),
            text_align="LEFT",
            v_align="TOP",
            line_height=5,
            padding=1,
            headings_style=FontFace(emphasis="BOLD"),
            markdown=False,
        ) as table:
            head = table.row()
            for key in ("date", "agent", "duration", "activity", "note"):
                head.cell(safe(labels[key]))
            for e in r.entries:
                row = table.row()
                for text in _entry_cells(r, labels, e):
                    row.cell(safe(text))
    else:
        pdf.cell(0, 6, safe(labels["no_entries"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    key_values(_total_rows(r, labels))
    if note := _included_note(r, labels):
        pdf.set_font("dejavu", "", 9)
        pdf.multi_cell(0, 5, safe(note), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # Keep the approval text and the signature block together on one page.
    if pdf.will_page_break(90):
        pdf.add_page()
    pdf.ln(6)
    pdf.set_font("dejavu", "B", 12)
    pdf.cell(0, 8, safe(labels["approval"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("dejavu", "", 10)
    pdf.multi_cell(
        0, 5, safe(_approval_text(r, labels)), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )

    pdf.ln(16)
    left, width = pdf.l_margin, pdf.epw
    gap = 10.0
    half = (width - gap) / 2
    y = pdf.get_y()
    pdf.set_font("dejavu", "", 8)
    for x, w, key in ((left, half, "sign_date"), (left + half + gap, half, "signature")):
        pdf.line(x, y, x + w, y)
        pdf.set_xy(x, y + 1)
        pdf.cell(w, 4, safe(labels[key]))
    y += 18
    pdf.line(left, y, left + width, y)
    pdf.set_xy(left, y + 1)
    pdf.cell(width, 4, safe(labels["block_letters"]))
    # The customer ticks one: approved or disputed.
    y += 10
    pdf.set_font("dejavu", "", 10)
    x = left
    for key in ("status_approved", "status_disputed"):
        pdf.rect(x, y, 4, 4)
        pdf.set_xy(x + 6, y - 0.5)
        label = safe(labels[key])
        pdf.cell(pdf.get_string_width(label) + 2, 5, label)
        x += 6 + pdf.get_string_width(label) + 12
    return bytes(pdf.output())
