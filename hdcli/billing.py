"""Service reports and monthly billing: what a ticket's time comes to, under its contract.

A service report is made when a ticket closes (:func:`create_service_report`): it is stored with
its figures and mailed (text and a PDF to sign) to the contract's report address, else the main
contact. Its status is ``pending`` until the customer approves or disputes it
(:func:`decide_report`: by mail, fax or phone; mail into the billing mailbox goes through
:func:`on_billing_mail`). An approved report locks the ticket's time entries.

Money follows :mod:`hdcli.accounting`. ``included_hours`` contracts are priced per calendar month
in the configured time zone (``billing.timezone``): the month's tickets of the contract use up
the allowance in the order they were closed, so a ticket's amount depends on what was closed
before it in the same month. :func:`billing_rows` recomputes a month from the time entries,
summed per ticket in SQL, and streams the result.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound, Refused, UsageError
from hdcli.util import now_iso

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hdcli.accounting import ContractTerms, TicketCharge, TimeEntryLine
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context
    from hdcli.servicereport import ServiceReport


def contract_terms(contract: Row) -> ContractTerms:
    from hdcli.accounting import ContractTerms

    return ContractTerms(
        billing=contract["billing"],
        rate=Decimal(str(contract["rate"] or "0")),
        increment=int(contract["increment_minutes"]),
        minimum=int(contract["minimum_minutes"]),
        included_minutes=int(contract["included_minutes"]),
    )


def time_entries(store: SqlStorage, ticket_id: int) -> list[TimeEntryLine]:
    from datetime import date

    from hdcli.accounting import TimeEntryLine

    rows = store.query(
        "SELECT e.work_date, coalesce(a.name, '') AS agent, e.minutes, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id",
        (ticket_id,),
    )
    return [
        TimeEntryLine(
            date.fromisoformat(r["work_date"]),
            r["agent"],
            int(r["minutes"]),
            r["activity"],
            r["note"],
            bool(r["billable"]),
        )
        for r in rows
    ]


# -- months ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Month:
    """A calendar month in the configured time zone, as a half-open UTC range of ISO texts
    comparable with the stored timestamps."""

    label: str
    start: str
    end: str


def _utc_text(day: date, tz: ZoneInfo) -> str:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_range(spec: str, today: date, tz: ZoneInfo) -> Month:
    """The month named by ``YYYY-MM``, ``this`` or ``last`` (relative to ``today``)."""
    text = spec.strip().lower()
    if text == "this":
        year, mon = today.year, today.month
    elif text == "last":
        year, mon = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    else:
        try:
            first = datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise UsageError(f"bad month {spec!r} (use YYYY-MM, this or last)") from None
        year, mon = first.year, first.month
    start = date(year, mon, 1)
    end = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return Month(f"{year:04d}-{mon:02d}", _utc_text(start, tz), _utc_text(end, tz))


def local_date(stamp: str, tz: ZoneInfo) -> date:
    """A stored UTC timestamp's date in the configured time zone."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(tz).date()


# Per-ticket sums in SQL: a month's report reads one row per ticket, never every time entry.
_TICKET_SUMS = (
    "SELECT t.id, t.number, t.subject, t.closed_at, t.billable_override, "
    "coalesce(sum(e.minutes), 0) AS worked, "
    "coalesce(sum(CASE WHEN e.billable = 1 THEN e.minutes ELSE 0 END), 0) AS chargeable"
)


def _charge_of(row: Row, terms: ContractTerms) -> TicketCharge:
    from hdcli.accounting import charge_from_minutes

    override = row["billable_override"]
    # A free contract never charges; an override left over from another contract is moot.
    flag = None if override is None or terms.billing == "free" else bool(override)
    return charge_from_minutes(
        int(row["worked"]), int(row["chargeable"]), terms, billable_override=flag
    )


def month_share(
    ctx: Context, ticket: Row, contract: Row, charge: TicketCharge
) -> tuple[Decimal, int]:
    """An ``included_hours`` ticket's amount and the included minutes it used: its place among
    the contract's tickets closed in its month (an open ticket counts as closed now)."""
    from hdcli.accounting import month_charges

    store = ctx.store
    terms = contract_terms(contract)
    closed = ticket.get("closed_at")
    day = local_date(closed, ctx.tz) if closed else ctx.today()
    month = month_range(day.strftime("%Y-%m"), day, ctx.tz)
    rows = store.query(
        _TICKET_SUMS + " FROM tickets t LEFT JOIN time_entries e ON e.ticket_id = t.id "
        "WHERE t.contract_id = ? AND t.closed_at >= ? AND t.closed_at < ? AND t.id <> ? "
        "GROUP BY t.id ORDER BY t.closed_at, t.id",
        (contract["id"], month.start, month.end, ticket["id"]),
    )
    pairs: list[tuple[int, TicketCharge]] = []
    placed = False
    for row in rows:
        if closed and not placed and (row["closed_at"], row["id"]) > (closed, ticket["id"]):
            pairs.append((int(ticket["id"]), charge))
            placed = True
        pairs.append((int(row["id"]), _charge_of(row, terms)))
    if not placed:
        pairs.append((int(ticket["id"]), charge))
    mc = month_charges(pairs, terms)
    line = next(x for x in mc.tickets if x.key == int(ticket["id"]))
    return line.amount, line.included_used_minutes


# -- service reports ---------------------------------------------------------------------------
def build_report(
    ctx: Context, ticket: Row, status: str = "pending", created: str | None = None
) -> ServiceReport:
    """The service report of ``ticket`` as it stands now (``included_hours`` priced within its
    month, see :func:`month_share`)."""
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
    charge = ticket_charge(
        entries,
        terms,
        billable_override=None if override is None or terms.billing == "free" else bool(override),
    )
    included_used: int | None = None
    if terms.billing == "included_hours" and charge.billable:
        amount, included_used = month_share(ctx, ticket, contract, charge)
        charge = replace(charge, amount=amount)
    agents = list(dict.fromkeys(e.agent for e in entries if e.agent))
    if not agents and ticket.get("assignee_id"):
        a = store.query_one("SELECT name FROM agents WHERE id = ?", (ticket["assignee_id"],))
        agents = [a["name"]] if a else []
    created_day = local_date(created, ctx.tz) if created else ctx.today()
    return ServiceReport(
        ticket_number=ticket["number"],
        subject=ticket["subject"],
        organisation=org["name"],
        contract_number=contract["number"],
        requester_name=requester["name"],
        requester_email=requester["email"],
        agents=agents,
        entries=entries,
        charge=charge,
        created=created_day,
        billing_email=str(
            ctx.config.get("mail.billing_address") or ctx.config.get("mail.from_address")
        ),
        fax_number=str(ctx.config.get("mail.fax_number") or "") or None,
        status=status,
        language=org["language"] if org["language"] in ("de", "en") else "de",
        included_minutes=int(contract["included_minutes"])
        if terms.billing == "included_hours"
        else 0,
        included_used_minutes=included_used,
    )


def report_recipient(store: SqlStorage, ticket: Row) -> tuple[str, str]:
    """The contract's report address, else the main contact, else the requester."""
    contract = store.query_one(
        "SELECT report_to FROM contracts WHERE id = ?", (ticket["contract_id"],)
    )
    if contract and contract["report_to"]:
        known = store.query_one(
            "SELECT name FROM contacts WHERE email = ?", (contract["report_to"],)
        )
        return (known["name"] if known else ""), contract["report_to"]
    main = store.query_one(
        "SELECT name, email FROM contacts WHERE org_id = ? AND (',' || roles || ',') LIKE ? "
        "ORDER BY id LIMIT 1",
        (ticket["org_id"], "%,main,%"),
    )
    if main:
        return main["name"], main["email"]
    req = store.query_one(
        "SELECT name, email FROM contacts WHERE id = ?", (ticket["requester_id"],)
    )
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
    closed = ticket.get("closed_at")
    month = (local_date(closed, ctx.tz) if closed else ctx.today()).strftime("%Y-%m")
    report_id = store.insert(
        "service_reports",
        {
            "ticket_id": ticket["id"],
            "created_at": now_iso(),
            "month": month,
            "worked_minutes": report.charge.worked_minutes,
            "billed_minutes": report.charge.billed_minutes,
            "billable": int(report.charge.billable),
            "amount": str(report.charge.amount),
            "sent_to": address if notify else None,
            "status": "pending",
        },
    )
    record(
        ctx,
        ticket,
        "service_report_created",
        report=report_id,
        worked_minutes=report.charge.worked_minutes,
        billed_minutes=report.charge.billed_minutes,
        amount=str(report.charge.amount),
    )
    if notify:
        pdf = OutAttachment(
            f"servicebericht-{ticket['number']}.pdf"
            if report.language == "de"
            else f"service-report-{ticket['number']}.pdf",
            "application/pdf",
            render_pdf(report),
        )
        send_mail(
            ctx,
            ticket,
            "service_report",
            to_name=name,
            to_addr=address,
            automatic=True,
            attachments=[pdf],
            report_text=render_text(report),
            recipient={"name": name},
            reply_to=report.billing_email,
        )
    return report_id


def latest_report(store: SqlStorage, ticket_id: int) -> Row | None:
    return store.query_one(
        "SELECT * FROM service_reports WHERE ticket_id = ? ORDER BY id DESC LIMIT 1", (ticket_id,)
    )


def report_json(ctx: Context, number: str) -> dict[str, Any]:
    from hdcli.servicereport import render_json
    from hdcli.tickets import get_ticket

    ticket = get_ticket(ctx.store, number)
    row = latest_report(ctx.store, int(ticket["id"]))
    report = build_report(
        ctx,
        ticket,
        status=row["status"] if row else "pending",
        created=row["created_at"] if row else None,
    )
    return render_json(report)


def service_report_output(ctx: Context, number: str, fmt: str) -> bytes:
    """The service report of a ticket as text, md, json or pdf bytes."""
    from hdcli.errors import UsageError
    from hdcli.servicereport import render_markdown, render_pdf, render_text
    from hdcli.tickets import get_ticket

    ticket = get_ticket(ctx.store, number)
    row = latest_report(ctx.store, int(ticket["id"]))
    report = build_report(
        ctx,
        ticket,
        status=row["status"] if row else "pending",
        created=row["created_at"] if row else None,
    )
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


def set_billable(ctx: Context, number: str, billable: bool | None, *, force: bool = False) -> Row:
    """Override whether a ticket is billable (None: follow the contract again).

    A pending or disputed service report of the ticket is refreshed to match; an approved one
    is locked unless ``force`` (recorded). A ``free`` contract cannot be made billable.
    Returns the ticket.
    """
    from hdcli.tickets import announce, get_ticket, guard, record
    from hdcli.tickets import change as transaction

    with transaction(ctx) as store:
        ticket = get_ticket(store, number)
        contract = store.query_one(
            "SELECT billing FROM contracts WHERE id = ?", (ticket["contract_id"],)
        )
        if billable and contract and contract["billing"] == "free":
            raise Refused(
                f"ticket {number}: the contract is free of charge, its tickets cannot "
                "be made billable"
            )
        report = latest_report(store, int(ticket["id"]))
        if report and report["status"] == "approved" and not force:
            raise Refused(
                f"the service report of ticket {number} is approved: billing is "
                "locked (--force changes it, recorded)"
            )
        guard(ctx, "ticket.billable", number, billable=billable)
        value = None if billable is None else int(billable)
        store.execute(
            "UPDATE tickets SET billable_override = ?, updated_at = ? WHERE id = ?",
            (value, now_iso(), ticket["id"]),
        )
        ticket["billable_override"] = value
        detail: dict[str, Any] = {"billable": billable}
        if report is not None:
            built = build_report(ctx, ticket, status=report["status"], created=report["created_at"])
            store.execute(
                "UPDATE service_reports SET billed_minutes = ?, billable = ?, amount = ? "
                "WHERE id = ?",
                (
                    built.charge.billed_minutes,
                    int(built.charge.billable),
                    str(built.charge.amount),
                    report["id"],
                ),
            )
            detail.update(report=report["id"], amount=str(built.charge.amount))
            if report["status"] == "approved":
                detail["forced"] = True
        record(ctx, ticket, "billable_set", **detail)
        announce(ctx, "ticket.billable_set", ticket, billable=billable)
    return ticket


REPORT_VIAS = ("mail", "fax", "phone")


def decide_report(
    ctx: Context,
    number: str,
    status: str,
    *,
    by: str = "",
    via: str = "mail",
    reason: str | None = None,
) -> Row:
    """Record the customer's answer to a ticket's (latest) service report: ``approved`` or
    ``disputed``, by whom and how. Returns the report row."""
    from hdcli.tickets import change as transaction
    from hdcli.tickets import get_ticket

    if status not in ("approved", "disputed"):
        raise UsageError(f"bad report status {status!r}")
    if via not in REPORT_VIAS:
        raise UsageError(f"bad --via {via!r} (allowed: {', '.join(REPORT_VIAS)})")
    if status == "approved" and not by.strip():
        raise UsageError("say who approved it (--by NAME)")
    if status == "disputed" and not (reason or "").strip():
        raise UsageError("say why it is disputed (--reason TEXT)")
    with transaction(ctx) as store:
        ticket = get_ticket(store, number)
        return decide_report_in_tx(ctx, ticket, status, by=by, via=via, reason=reason)


def decide_report_in_tx(
    ctx: Context, ticket: Row, status: str, *, by: str, via: str, reason: str | None = None
) -> Row:
    """:func:`decide_report` inside the caller's transaction."""
    from hdcli.tickets import announce, guard, record

    store = ctx.store
    report = latest_report(store, int(ticket["id"]))
    if report is None:
        raise NotFound(
            f"ticket {ticket['number']} has no service report (one is made when the "
            "ticket is closed)"
        )
    guard(ctx, f"report.{status}", ticket["number"], by=by, via=via)
    store.execute(
        "UPDATE service_reports SET status = ?, decided_by = ?, via = ?, reason = ?, "
        "decided_at = ? WHERE id = ?",
        (status, by.strip() or None, via, reason, now_iso(), report["id"]),
    )
    record(
        ctx,
        ticket,
        f"service_report_{status}",
        report=report["id"],
        by=by or None,
        via=via,
        reason=reason,
        previous=report["status"],
    )
    announce(ctx, f"ticket.report_{status}", ticket, by=by, via=via)
    row = latest_report(store, int(ticket["id"]))
    assert row is not None
    return row


_KEPT_TYPES = ("application/pdf", "image/")


def on_billing_mail(ctx: Context, mail: Any, ticket: Row | None) -> str | None:
    """Called by mail ingest for mail from a source marked ``billing = true``, inside its
    transaction: match it to the ticket's service report and record approval or dispute.

    ``mail`` is a :class:`hdcli.mail.parse.ParsedMail`, ``ticket`` the ticket whose number is in
    its subject (None when there is none). The sender must be a contact of the ticket's
    organisation or the contract's report address; the ticket must have a service report.
    Then the mail is kept as an inbound article on the ticket (with its PDF or image
    attachments: a signed scan is evidence), and a body starting with a clear yes or no
    (:func:`hdcli.approvals.decision_word`) approves or disputes the report, by the sender, via
    mail. Returns a short reason for the result line, or None when nothing matched (nothing is
    stored then).
    """
    from hdcli.approvals import decision_word
    from hdcli.tickets import add_article, record
    from hdcli.util import norm_email

    if ticket is None:
        return None
    store = ctx.store
    sender = norm_email(str(getattr(mail, "from_addr", "") or ""))
    known = store.query_one(
        "SELECT id FROM contacts WHERE org_id = ? AND email = ?", (ticket["org_id"], sender)
    )
    contract = store.query_one(
        "SELECT report_to FROM contracts WHERE id = ?", (ticket["contract_id"],)
    )
    report_to = norm_email(contract["report_to"]) if contract and contract["report_to"] else ""
    if known is None and sender != report_to:
        return None
    report = latest_report(store, int(ticket["id"]))
    if report is None:
        return None
    body = str(getattr(mail, "body_text", "") or "")
    kept = [
        (a.filename, a.content_type, a.data)
        for a in getattr(mail, "attachments", [])
        if a.content_type.startswith(_KEPT_TYPES)
    ]
    add_article(
        store,
        ticket,
        kind="mail",
        direction="in",
        sender=sender,
        recipients=", ".join(getattr(mail, "to", []) or []),
        subject=str(getattr(mail, "subject", "") or ""),
        body=body,
        message_id=getattr(mail, "message_id", None),
        created_by=sender,
        attachments=kept,
    )
    answer = decision_word(body)
    name = str(getattr(mail, "from_name", "") or "").strip()
    by = f"{name} <{sender}>" if name else sender
    if answer is True:
        decide_report_in_tx(ctx, ticket, "approved", by=by, via="mail")
        return f"service report approved by {sender}"
    if answer is False:
        first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
        decide_report_in_tx(ctx, ticket, "disputed", by=by, via="mail", reason=first[:200])
        return f"service report disputed by {sender}"
    record(
        ctx,
        ticket,
        "billing_mail_kept",
        report=report["id"],
        sender=sender,
        attachments=[k[0] for k in kept],
    )
    if kept:
        return "signed copy kept on the ticket for review"
    return "kept on the ticket for review: no clear yes or no"


# -- monthly billing ---------------------------------------------------------------------------
BILLING_COLUMNS = [
    "organisation",
    "contract",
    "billing",
    "tickets",
    "hours_worked",
    "hours_billed",
    "included_hours",
    "included_hours_used",
    "hours_charged",
    "amount",
    "currency",
    "approved",
    "pending",
    "disputed",
]
DETAIL_COLUMNS = [
    "organisation",
    "contract",
    "billing",
    "ticket",
    "closed",
    "report",
    *BILLING_COLUMNS[3:],
]


@dataclass
class _Sums:
    tickets: int = 0
    worked: int = 0
    billed: int = 0
    included: int = 0
    included_used: int = 0
    charged: int = 0
    amount: Decimal = Decimal("0.00")
    approved: int = 0
    pending: int = 0
    disputed: int = 0

    def add(self, other: _Sums) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, currency: str) -> dict[str, Any]:
        from hdcli.accounting import format_money
        from hdcli.durations import format_hours

        return {
            "tickets": self.tickets,
            "hours_worked": format_hours(self.worked),
            "hours_billed": format_hours(self.billed),
            "included_hours": format_hours(self.included),
            "included_hours_used": format_hours(self.included_used),
            "hours_charged": format_hours(self.charged),
            "amount": format_money(self.amount),
            "currency": currency,
            "approved": self.approved,
            "pending": self.pending,
            "disputed": self.disputed,
        }


def _status_counts(sums: _Sums, status: str | None) -> None:
    if status == "approved":
        sums.approved += 1
    elif status == "disputed":
        sums.disputed += 1
    else:  # pending, or closed before service reports existed
        sums.pending += 1


def billing_rows(
    ctx: Context, month: Month, *, org: str | None = None, detail: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream the month's billing: one row per organisation and contract (preceded by one row
    per ticket with ``detail``), then a ``TOTAL`` row.

    Tickets count in the month they were closed in (configured time zone); their time is
    summed per ticket in SQL (covering indexes, see migration 0002) and priced one by one with
    :func:`hdcli.accounting.month_lines`; report counts are by the ticket's latest service
    report. Memory stays constant whatever the number of tickets.
    """
    from hdcli.accounting import month_lines
    from hdcli.customers import get_org

    store = ctx.store
    currency = str(ctx.config.get("billing.currency") or "EUR")
    params: list[Any] = [month.start, month.end]
    where = "t.closed_at >= ? AND t.closed_at < ?"
    if org:
        where += " AND t.org_id = ?"
        params.append(get_org(store, org)["id"])
    # Correlated sums rather than JOIN … GROUP BY: each is a range of the covering index
    # time_entries(ticket_id, billable, minutes), and no wide intermediate rows are sorted.
    sql = (
        "SELECT t.id, t.closed_at, t.billable_override, "
        + ("t.number, " if detail else "")
        + "(SELECT coalesce(sum(e.minutes), 0) FROM time_entries e "
        "WHERE e.ticket_id = t.id) AS worked, "
        "(SELECT coalesce(sum(e.minutes), 0) FROM time_entries e "
        "WHERE e.ticket_id = t.id AND e.billable = 1) AS chargeable, "
        "(SELECT s.status FROM service_reports s WHERE s.ticket_id = t.id "
        "ORDER BY s.id DESC LIMIT 1) AS report_status, "
        "o.name AS organisation, c.id AS contract_id, c.number AS contract, c.billing, c.rate, "
        "c.increment_minutes, c.minimum_minutes, c.included_minutes "
        "FROM tickets t JOIN organisations o ON o.id = t.org_id "
        "JOIN contracts c ON c.id = t.contract_id "
        f"WHERE {where} ORDER BY o.name, c.number, t.closed_at, t.id"
    )
    total = _Sums()
    for _, group in itertools.groupby(store.iterate(sql, params), key=lambda r: r["contract_id"]):
        first = next(group)
        terms = contract_terms(first)
        head = {
            "organisation": first["organisation"],
            "contract": first["contract"],
            "billing": first["billing"],
        }
        sums = _Sums(included=terms.included_minutes if terms.billing == "included_hours" else 0)
        current: list[Row] = []

        def charges(
            rows: Iterator[Row], terms: ContractTerms = terms, current: list[Row] = current
        ) -> Iterator[tuple[int, TicketCharge]]:
            # month_lines prices each pair as soon as it gets it: ``current`` holds its row.
            # A charge depends only on the summed minutes and the override under one
            # contract's terms, and few combinations repeat over thousands of tickets.
            known: dict[tuple[Any, Any, Any], TicketCharge] = {}
            for row in rows:
                current[:] = [row]
                sig = (row["worked"], row["chargeable"], row["billable_override"])
                charge = known.get(sig)
                if charge is None:
                    charge = known[sig] = _charge_of(row, terms)
                yield int(row["id"]), charge

        for line in month_lines(charges(itertools.chain([first], group)), terms):
            row = current[0]
            # Summed field by field: this loop runs once per ticket of the month.
            sums.tickets += 1
            sums.worked += int(row["worked"])
            sums.billed += line.billed_minutes
            sums.included_used += line.included_used_minutes
            sums.charged += line.charged_minutes
            sums.amount += line.amount
            _status_counts(sums, row["report_status"])
            if detail:
                one = _Sums(
                    tickets=1,
                    worked=int(row["worked"]),
                    billed=line.billed_minutes,
                    included_used=line.included_used_minutes,
                    charged=line.charged_minutes,
                    amount=line.amount,
                )
                _status_counts(one, row["report_status"])
                yield {
                    **head,
                    "ticket": row["number"],
                    "closed": local_date(row["closed_at"], ctx.tz).isoformat(),
                    "report": row["report_status"] or "none",
                    **one.row(currency),
                }
        total.add(sums)
        yield {**head, "ticket": "", "closed": "", "report": "", **sums.row(currency)}
    yield {
        "organisation": "TOTAL",
        "contract": "",
        "billing": "",
        "ticket": "",
        "closed": "",
        "report": "",
        **total.row(currency),
    }
