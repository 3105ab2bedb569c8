"""Service reports: what a closed ticket's time comes to, stored and sent for approval."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound
from hdcli.util import now_iso

if TYPE_CHECKING:
    from hdcli.accounting import ContractTerms, TimeEntryLine
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context
    from hdcli.servicereport import ServiceReport


def contract_terms(contract: Row) -> ContractTerms:
    from hdcli.accounting import ContractTerms

    return ContractTerms(
        billing=contract["billing"], rate=Decimal(str(contract["rate"] or "0")),
        increment=int(contract["increment_minutes"]), minimum=int(contract["minimum_minutes"]),
        included_minutes=int(contract["included_minutes"]),
    )


def time_entries(store: SqlStorage, ticket_id: int) -> list[TimeEntryLine]:
    from datetime import date

    from hdcli.accounting import TimeEntryLine

    rows = store.query(
        "SELECT e.work_date, coalesce(a.name, '') AS agent, e.minutes, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id", (ticket_id,))
    return [TimeEntryLine(date.fromisoformat(r["work_date"]), r["agent"], int(r["minutes"]),
                          r["activity"], r["note"], bool(r["billable"])) for r in rows]


def build_report(ctx: Context, ticket: Row, status: str = "pending",
                 created: str | None = None) -> ServiceReport:
    """The service report of ``ticket`` as it stands now."""
    from hdcli.accounting import ticket_charge
    from hdcli.servicereport import ServiceReport

    store = ctx.store
    contract = store.query_one("SELECT * FROM contracts WHERE id = ?", (ticket["contract_id"],))
    org = store.query_one("SELECT * FROM organisations WHERE id = ?", (ticket["org_id"],))
    requester = store.query_one("SELECT * FROM contacts WHERE id = ?", (ticket["requester_id"],))
    if contract is None or org is None or requester is None:
        raise NotFound(f"ticket {ticket['number']} lacks its contract, organisation or requester")
    entries = time_entries(store, int(ticket["id"]))
    override = ticket.get("billable_override")
    terms = contract_terms(contract)
    charge = ticket_charge(entries, terms,
                           billable_override=None if override is None else bool(override))
    agents = list(dict.fromkeys(e.agent for e in entries if e.agent))
    if not agents and ticket.get("assignee_id"):
        a = store.query_one("SELECT name FROM agents WHERE id = ?", (ticket["assignee_id"],))
        agents = [a["name"]] if a else []
    created_day = (datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(ctx.tz).date()
                   if created else ctx.today())
    return ServiceReport(
        ticket_number=ticket["number"], subject=ticket["subject"], organisation=org["name"],
        contract_number=contract["number"], requester_name=requester["name"],
        requester_email=requester["email"], agents=agents, entries=entries, charge=charge,
        created=created_day,
        billing_email=str(ctx.config.get("mail.billing_address")
                          or ctx.config.get("mail.from_address")),
        fax_number=str(ctx.config.get("mail.fax_number")) or None, status=status,
        language=org["language"] if org["language"] in ("de", "en") else "de",
        included_minutes=int(contract["included_minutes"]) if terms.billing == "included_hours"
        else 0,
    )


def report_recipient(store: SqlStorage, ticket: Row) -> tuple[str, str]:
    """The contract's report address, else the main contact, else the requester."""
    contract = store.query_one("SELECT report_to FROM contracts WHERE id = ?",
                               (ticket["contract_id"],))
    if contract and contract["report_to"]:
        known = store.query_one("SELECT name FROM contacts WHERE email = ?",
                                (contract["report_to"],))
        return (known["name"] if known else ""), contract["report_to"]
    main = store.query_one(
        "SELECT name, email FROM contacts WHERE org_id = ? AND (',' || roles || ',') LIKE ? "
        "ORDER BY id LIMIT 1", (ticket["org_id"], "%,main,%"))
    if main:
        return main["name"], main["email"]
    req = store.query_one("SELECT name, email FROM contacts WHERE id = ?",
                          (ticket["requester_id"],))
    assert req is not None
    return req["name"], req["email"]


def create_service_report(ctx: Context, ticket: Row, notify: bool = True) -> int:
    """Store the service report of a ticket being closed and queue it (with the PDF to sign)."""
    from hdcli.mail.outbound import OutAttachment
    from hdcli.servicereport import render_pdf, render_text
    from hdcli.tickets import record, send_mail

    store = ctx.store
    report = build_report(ctx, ticket)
    name, address = report_recipient(store, ticket)
    month = ctx.today().strftime("%Y-%m")
    report_id = store.insert("service_reports", {
        "ticket_id": ticket["id"], "created_at": now_iso(), "month": month,
        "worked_minutes": report.charge.worked_minutes,
        "billed_minutes": report.charge.billed_minutes, "billable": int(report.charge.billable),
        "amount": str(report.charge.amount), "sent_to": address if notify else None,
        "status": "pending",
    })
    record(ctx, ticket, "service_report_created", report=report_id,
           worked_minutes=report.charge.worked_minutes,
           billed_minutes=report.charge.billed_minutes, amount=str(report.charge.amount))
    if notify:
        pdf = OutAttachment(f"servicebericht-{ticket['number']}.pdf"
                            if report.language == "de" else
                            f"service-report-{ticket['number']}.pdf",
                            "application/pdf", render_pdf(report))
        send_mail(ctx, ticket, "service_report", to_name=name, to_addr=address, automatic=True,
                  attachments=[pdf], report_text=render_text(report), recipient={"name": name})
    return report_id


def latest_report(store: SqlStorage, ticket_id: int) -> Row | None:
    return store.query_one(
        "SELECT * FROM service_reports WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
        (ticket_id,))


def report_json(ctx: Context, number: str) -> dict[str, Any]:
    from hdcli.servicereport import render_json
    from hdcli.tickets import get_ticket

    ticket = get_ticket(ctx.store, number)
    row = latest_report(ctx.store, int(ticket["id"]))
    report = build_report(ctx, ticket, status=row["status"] if row else "pending",
                          created=row["created_at"] if row else None)
    return render_json(report)


def service_report_output(ctx: Context, number: str, fmt: str) -> bytes:
    """The service report of a ticket as text, md, json or pdf bytes."""
    from hdcli.errors import UsageError
    from hdcli.servicereport import render_markdown, render_pdf, render_text
    from hdcli.tickets import get_ticket

    ticket = get_ticket(ctx.store, number)
    row = latest_report(ctx.store, int(ticket["id"]))
    report = build_report(ctx, ticket, status=row["status"] if row else "pending",
                          created=row["created_at"] if row else None)
    if fmt == "text":
        return render_text(report).encode()
    if fmt == "md":
        return render_markdown(report).encode()
    if fmt == "json":
        import json

        from hdcli.servicereport import render_json

        return json.dumps(render_json(report), ensure_ascii=False, indent=2).encode()
    if fmt == "pdf":
        return render_pdf(report)
    raise UsageError(f"bad format {fmt!r} (allowed: text, md, json, pdf)")


def on_billing_mail(ctx: Context, mail: object, ticket: Row | None) -> str | None:
    """Called by mail ingest for mail from a source marked ``billing = true``, inside its
    transaction: match it to the ticket's service report and record approval or dispute.

    Returns a short reason for the result line, or None when nothing matched.
    """
    return None
