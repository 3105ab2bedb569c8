"""Service reports: what a closed ticket's time comes to under its contract, and the
customer's answer to it.

A service report is made when a ticket closes (:func:`create_service_report`, called by the
billing plugin's ``ticket_changed``): it is stored with its figures and mailed (text and a PDF
to sign) to the contract's report address, else the main contact. Its status is ``pending``
until the customer approves or disputes it (:func:`decide_report`: by mail, fax or phone; mail
is read by :func:`on_billing_mail` and :func:`report_answer`). An approved report locks the
ticket's time entries (:func:`check_time_change`). Money follows
:mod:`hdcli.billing.accounting`; an ``included_hours`` ticket is priced within its month
(:func:`hdcli.billing.monthly.month_share`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hdcli.articles import add_article, may_write, send_mail
from hdcli.billing.accounting import contract_terms
from hdcli.billing.monthly import local_date, month_share
from hdcli.errors import NotFound, Refused, UsageError
from hdcli.mail.answers import decision_word
from hdcli.models import VIAS, choice
from hdcli.repo import articles as article_repo
from hdcli.repo import billing as billing_repo
from hdcli.repo import customers as customer_repo
from hdcli.repo import history as history_repo
from hdcli.repo import outbound as outbound_repo
from hdcli.repo import time_entries as time_repo
from hdcli.unit import announce, guard, record, touch
from hdcli.unit import change as transaction
from hdcli.util import norm_email, now_iso, one_line
from hdcli.views import get_ticket

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.billing.accounting import TimeEntryLine
    from hdcli.billing.document import ServiceReport
    from hdcli.context import Context
    from hdcli.mail.parse import ParsedMail
    from hdcli.models import Row


def time_entries(store: SqlStorage, ticket_id: int) -> list[TimeEntryLine]:
    """The ticket's time entries as lines of its service report, by work date."""
    from datetime import date

    from hdcli.billing.accounting import TimeEntryLine

    rows = time_repo.report_lines(store, ticket_id)
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


# -- service reports ---------------------------------------------------------------------------
def build_report(
    ctx: Context, ticket: Row, status: str = "pending", created: str | None = None
) -> ServiceReport:
    """The service report of ``ticket`` as it stands now (``included_hours`` priced within its
    month, see :func:`month_share`)."""
    from hdcli.billing.accounting import ticket_charge
    from hdcli.billing.document import ServiceReport

    store = ctx.store
    contract = customer_repo.contract(store, ticket["contract_id"])
    org = customer_repo.org(store, ticket["org_id"])
    requester = customer_repo.contact(store, ticket["requester_id"])
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
        a = customer_repo.agent(store, ticket["assignee_id"])
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
        letterhead=letterhead(ctx, org["language"] if org["language"] in ("de", "en") else "de"),
    )


def letterhead(ctx: Context, language: str) -> tuple[str, ...]:
    """The provider's letterhead from the config: name, address lines, phone, fax."""
    config = ctx.config
    name = str(config.get("provider.name") or config.get("mail.from_name") or "")
    lines = [name, *(str(a) for a in config.get("provider.address") or [])]
    phone, fax = str(config.get("provider.phone") or ""), str(config.get("mail.fax_number") or "")
    words = {"de": ("Tel.", "Fax"), "en": ("Phone", "Fax")}[language]
    contact = [f"{word} {value}" for word, value in zip(words, (phone, fax), strict=True) if value]
    if contact:
        lines.append(" · ".join(contact))
    return tuple(line for line in lines if line.strip())


def report_recipient(store: SqlStorage, ticket: Row) -> tuple[str, str]:
    """The contract's report address, else the main contact, else the requester."""
    report_to = customer_repo.contract_value(store, ticket["contract_id"], "report_to")
    if report_to:
        known = customer_repo.contact_by_email(store, report_to)
        return (known["name"] if known else ""), report_to
    main = customer_repo.first_with_role(store, ticket["org_id"], "main")
    if main:
        return main["name"], main["email"]
    req = customer_repo.contact(store, ticket["requester_id"])
    assert req is not None
    return req["name"], req["email"]


#: The reason recorded (``service_report_skipped``) and said on close when a ticket without
#: time gets no service report.
NO_TIME = "no time logged"


def create_service_report(ctx: Context, ticket: Row, notify: bool = True) -> int | None:
    """Store the service report of a ticket being closed and queue it (with the PDF to sign).

    A ticket without time (0 h worked) under a contract with ``empty_reports = skip`` gets no
    report: nothing is mailed, the history says ``service_report_skipped`` (None is
    returned), and the report of an earlier close, if any, is ``withdrawn`` (its time was
    removed after a reopen): it awaits no answer and counts for nothing."""
    from hdcli.billing.document import render_pdf, render_text
    from hdcli.mail.outbound import OutAttachment

    store = ctx.store
    report = build_report(ctx, ticket)
    if report.charge.worked_minutes == 0 and (
        customer_repo.contract_value(store, ticket["contract_id"], "empty_reports") != "send"
    ):
        earlier = billing_repo.latest_report_status(store, int(ticket["id"]))
        if earlier and earlier["status"] != "withdrawn":
            billing_repo.withdraw_report(store, int(earlier["id"]))
            record(
                ctx,
                ticket,
                "service_report_withdrawn",
                report=earlier["id"],
                previous=earlier["status"],
                reason=NO_TIME,
            )
        record(ctx, ticket, "service_report_skipped", reason=NO_TIME)
        return None
    name, address = report_recipient(store, ticket)
    closed = ticket.get("closed_at")
    month = (local_date(closed, ctx.tz) if closed else ctx.today()).strftime("%Y-%m")
    report_id = billing_repo.insert_report(
        store,
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
            reply_to_customer=True,
            attachments=[pdf],
            report_text=render_text(report, approval=False),
            recipient={"name": name},
            reply_to=report.billing_email,
        )
    return report_id


def skipped_on_close(store: SqlStorage, ticket_id: int) -> bool:
    """Whether the ticket's latest close made no service report (no time logged)."""
    last = history_repo.last_action(
        store, ticket_id, ("service_report_created", "service_report_skipped")
    )
    return last == "service_report_skipped"


def latest_report(store: SqlStorage, ticket_id: int) -> Row | None:
    """The ticket's latest service report, or None."""
    return billing_repo.latest_report(store, ticket_id)


def current_report(ctx: Context, number: str) -> ServiceReport:
    """The service report of a ticket as it stands, with its latest stored status."""
    ticket = get_ticket(ctx.store, number)
    row = latest_report(ctx.store, int(ticket["id"]))
    return build_report(
        ctx,
        ticket,
        status=row["status"] if row else "pending",
        created=row["created_at"] if row else None,
    )


def service_report_output(ctx: Context, number: str, fmt: str) -> bytes:
    """The service report of a ticket as text, md, json or pdf bytes."""
    from hdcli.billing.document import render_markdown, render_pdf, render_text
    from hdcli.errors import UsageError

    report = current_report(ctx, number)
    if fmt == "text":
        return render_text(report).encode()
    if fmt == "md":
        return render_markdown(report).encode()
    if fmt == "json":
        import json

        from hdcli.billing.document import render_json

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

    with transaction(ctx) as store:
        ticket = get_ticket(store, number)
        mode = customer_repo.contract_value(store, ticket["contract_id"], "billing")
        if billable and mode == "free":
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
        guard(ctx, "ticket.billable", ticket, billable=billable)
        value = None if billable is None else int(billable)
        touch(store, ticket, billable_override=value)
        detail: dict[str, Any] = {"billable": billable}
        if report is not None:
            amount = refresh_report(ctx, ticket, report)
            detail.update(report=report["id"], amount=amount)
            if report["status"] == "approved":
                detail["forced"] = True
        record(ctx, ticket, "billable_set", **detail)
        announce(ctx, "ticket.billable_set", ticket, billable=billable)
    return ticket


def refresh_report(ctx: Context, ticket: Row, report: Row | None = None) -> str | None:
    """Write the figures of the ticket's (latest) service report again from its time entries
    and billing as they stand now; returns the new amount, None without a report."""
    report = report or latest_report(ctx.store, int(ticket["id"]))
    if report is None:
        return None
    built = build_report(ctx, ticket, status=report["status"], created=report["created_at"])
    billing_repo.refresh_charge(
        ctx.store,
        report["id"],
        worked_minutes=built.charge.worked_minutes,
        billed_minutes=built.charge.billed_minutes,
        billable=built.charge.billable,
        amount=str(built.charge.amount),
    )
    return str(built.charge.amount)


REPORT_VIAS = VIAS
#: what a customer answers to a report
DECISIONS = ("approved", "disputed")


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

    if status not in DECISIONS:
        raise UsageError(f"bad report status {status!r}")
    choice(via, REPORT_VIAS, "--via")
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

    store = ctx.store
    report = latest_report(store, int(ticket["id"]))
    if report is None:
        raise NotFound(
            f"ticket {ticket['number']} has no service report (one is made when the "
            "ticket is closed)"
        )
    if report["status"] == "withdrawn":
        raise Refused(
            f"the service report of ticket {ticket['number']} was withdrawn: the ticket was "
            "closed again without time"
        )
    guard(ctx, f"report.{status}", ticket, by=by, via=via)
    billing_repo.decide_report(
        store,
        report["id"],
        status=status,
        by=by.strip() or None,
        via=via,
        reason=reason,
        at=now_iso(),
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


def on_billing_mail(ctx: Context, mail: ParsedMail, ticket: Row | None) -> str | None:
    """The answer to a ticket's service report, by mail, inside the message's transaction:
    from the billing mailbox (a source marked ``billing = true``, ``ticket`` the one whose
    number is in the subject) or a reply to the report mail (:func:`report_answer`).

    The sender must be a contact of the ticket's organisation or the contract's report
    address; the ticket must have a service report. Then the mail is kept as an inbound article
    on the ticket (with its PDF or image attachments: a signed scan is evidence), and a body
    starting with a clear yes or no (:func:`hdcli.mail.answers.decision_word`) approves or
    disputes the report, by the sender, via mail. Returns a short reason for the result line,
    or None when nothing matched (nothing is stored then).
    """
    if ticket is None:
        return None
    store = ctx.store
    sender = norm_email(mail.from_addr or "")
    known = customer_repo.in_org(store, ticket["org_id"], sender)
    contract_report_to = customer_repo.contract_value(store, ticket["contract_id"], "report_to")
    report_to = norm_email(contract_report_to) if contract_report_to else ""
    if not known and sender != report_to:
        return None
    report = latest_report(store, int(ticket["id"]))
    if report is None:
        return None
    body = mail.body_text or ""
    kept = [
        (a.filename, a.content_type, a.data)
        for a in mail.attachments
        if a.content_type.startswith(_KEPT_TYPES)
    ]
    add_article(
        store,
        ticket,
        kind="mail",
        direction="in",
        sender=sender,
        recipients=", ".join(mail.to),
        subject=mail.subject or "",
        body=body,
        message_id=mail.message_id,
        created_by=sender,
        attachments=kept,
    )
    answer = decision_word(body)
    name = (mail.from_name or "").strip()
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


def report_answer(ctx: Context, candidates: list[Row], mail: ParsedMail) -> tuple[Row, str] | None:
    """A reply to the service report of a closed ticket, kept and decided by
    :func:`on_billing_mail`; returns the ticket and the reason, or None when the message is no
    such reply.

    A candidate counts when it is closed, its latest service report is pending, and the
    message answers that report's mail: its In-Reply-To/References hold the report mail's
    Message-ID (and the sender may write to the ticket, or is the contract's report address),
    or its subject is the report mail's subject with the number (prefixes such as ``AW:``
    aside) and the sender is whom reports go to: the contract's report address or a contact of
    the organisation with the role main or billing. The subject must be the report's, not just
    carry the number: a main contact's ``Re: [Ticket#N] …`` to the acknowledgement is a new
    request and follows the closed-ticket policy.
    """
    from hdcli.numbers import all_formats, find_numbers

    store = ctx.store
    hooks = subject_hooks(ctx)
    sender = norm_email(mail.from_addr)
    ids = list(dict.fromkeys([*mail.in_reply_to, *reversed(mail.references)]))[:20]
    numbers = set(find_numbers(mail.subject, hooks, all_formats())) if mail.subject else set()
    for ticket in candidates:
        if ticket["status"] != "closed":
            continue
        report = latest_report(store, int(ticket["id"]))
        if report is None or report["status"] != "pending":
            continue
        sent = _report_mails(store, ticket, str(report["created_at"]))
        if not sent:
            continue
        addressee = _report_addressee(store, ticket, sender)
        replies = (
            bool(ids)
            and any(m in ids for m in sent)
            and (addressee or may_write(store, ticket, sender))
        )
        if not replies and not (
            addressee
            and ticket["number"] in numbers
            and _subject_key(hooks, mail.subject)
            in {_subject_key(hooks, subject) for subject in sent.values()}
        ):
            continue
        reason = on_billing_mail(ctx, mail, ticket)
        if reason is None:  # not one of the organisation's contacts: the usual rules apply
            continue
        return ticket, reason
    return None


def subject_hooks(ctx: Context) -> list[str]:
    """The subject hook of ticket numbers and the former ones still recognised."""
    return [
        str(ctx.config.get("tickets.subject_hook")),
        *[str(h) for h in ctx.config.get("tickets.former_hooks") or []],
    ]


def _report_mails(store: SqlStorage, ticket: Row, since: str) -> dict[str, str]:
    """Message-ID → subject of the service report mails of ``ticket`` sent from ``since`` on
    (the latest report's; an older report's mail answers a report already replaced)."""
    # The ticket's outbound articles are few; the queue is looked up by its indexed Message-ID.
    ids = article_repo.sent_since(store, ticket["id"], since)[-50:]
    return outbound_repo.subjects(store, ticket["id"], ids, "service_report")


def _subject_key(hooks: list[str], subject: str | None) -> str:
    """A subject compared without ticket markers, reply prefixes, case and spacing."""
    from hdcli.numbers import strip_numbers, strip_prefixes

    text = strip_prefixes(strip_numbers(one_line(subject or ""), hooks))
    return " ".join(text.split()).casefold()


def _report_addressee(store: SqlStorage, ticket: Row, sender: str) -> bool:
    """Whether ``sender`` is whom service reports of ``ticket`` are for: the contract's
    report address, or a contact of the organisation with the role main or billing."""
    if not sender:
        return False
    return customer_repo.receives_reports(store, ticket["contract_id"], ticket["org_id"], sender)


def check_time_change(
    ctx: Context, ticket: Row, *, force: bool = False, reason: str | None = None
) -> None:
    """Time on a ticket whose service report is approved is locked; ``force`` changes it anyway
    and records that (with ``reason``) in the history."""
    row = billing_repo.latest_report_status(ctx.store, ticket["id"])
    if row and row["status"] == "approved":
        if force:
            extra = {"reason": reason} if reason else {}
            record(ctx, ticket, "locked_time_changed", report=row["id"], **extra)
            return
        raise Refused(
            f"the service report of ticket {ticket['number']} is approved: "
            "its time entries are locked (--force changes them, recorded)"
        )


def check_report_open(ctx: Context, ticket: Row, action: str) -> None:
    """``action`` (a link, say) is refused while the ticket's service report is approved."""
    row = billing_repo.latest_report_status(ctx.store, ticket["id"])
    if row and row["status"] == "approved":
        raise Refused(
            f"the service report of ticket {ticket['number']} is approved: {action} is refused"
        )
