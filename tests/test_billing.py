"""Billing in the workflow: months in the configured time zone, included hours per month in
close order, the billing report against a brute-force recount, the billing mailbox."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdcli import customers, tickets, views
from hdcli.billing.accounting import (
    ContractTerms,
    TimeEntryLine,
    charge_from_minutes,
    month_charges,
    ticket_charge,
)
from hdcli.billing.monthly import billing_rows, local_date, month_range
from hdcli.billing.servicereports import (
    build_report,
    check_time_change,
    decide_report,
    latest_report,
    on_billing_mail,
)
from hdcli.config import Config
from hdcli.context import Context
from hdcli.errors import Refused, UsageError
from hdcli.mail.parse import parse_message

BERLIN = ZoneInfo("Europe/Berlin")


def test_month_range_in_the_configured_time_zone() -> None:
    month = month_range("2026-11", date(2026, 12, 5), BERLIN)
    assert (month.label, month.start, month.end) == (
        "2026-11",
        "2026-10-31T23:00:00Z",
        "2026-11-30T23:00:00Z",
    )
    summer = month_range("2026-07", date(2026, 12, 5), BERLIN)
    assert (summer.start, summer.end) == ("2026-06-30T22:00:00Z", "2026-07-31T22:00:00Z")
    assert month_range("last", date(2026, 1, 15), BERLIN).label == "2025-12"
    assert month_range("this", date(2026, 1, 15), BERLIN).label == "2026-01"
    assert month_range("last", date(2026, 12, 1), BERLIN).label == "2026-11"
    # A ticket closed at 23:30 UTC on the last of October is November's in Berlin.
    assert local_date("2026-10-31T23:30:00Z", BERLIN) == date(2026, 11, 1)
    for bad in ("2026-13", "Nov", "", "2026-11-01"):
        with pytest.raises(UsageError):
            month_range(bad, date(2026, 1, 1), BERLIN)


entries = st.lists(st.tuples(st.integers(1, 600), st.booleans()), max_size=8)
terms = st.builds(
    ContractTerms,
    billing=st.sampled_from(["hourly", "included_hours", "free"]),
    rate=st.decimals(0, 300, places=2),
    increment=st.sampled_from([0, 1, 5, 15, 30]),
    minimum=st.sampled_from([0, 15, 30]),
    included_minutes=st.integers(0, 600),
)


@given(entries, terms, st.sampled_from([None, False, True]))
def test_sums_in_sql_price_like_the_entries(
    rows: list[tuple[int, bool]], t: ContractTerms, override: bool | None
) -> None:
    if t.billing == "free" and override:
        override = None
    lines = [TimeEntryLine(date(2026, 1, 1), "", m, "other", "", b) for m, b in rows]
    worked = sum(m for m, _ in rows)
    chargeable = sum(m for m, b in rows if b)
    assert charge_from_minutes(worked, chargeable, t, billable_override=override) == ticket_charge(
        lines, t, billable_override=override
    )


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    env = {
        "HDCLI_STORAGE__URL": f"sqlite:///{tmp_path / 'hd.db'}",
        "HDCLI_MAIL__OUTBOUND__PATH": str(tmp_path / "outbox"),
        "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
        "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false",
    }
    context = Context(Config.load(tmp_path / "config.toml", env=env), "mmueller")
    customers.add_org(context, "Muster GmbH", "company", ["muster.example"])
    customers.add_contract(
        context,
        "Muster GmbH",
        "RV-1",
        customers.ContractFields(billing="hourly", rate="95", increment="15m"),
    )
    customers.add_contact(
        context,
        "Muster GmbH",
        "Anna Schmidt",
        "anna.schmidt@muster.example",
        roles=["main", "approver"],
    )
    customers.add_org(context, "Beispiel AG", "company", ["beispiel.example"])
    customers.add_contract(
        context,
        "Beispiel AG",
        "RV-2",
        customers.ContractFields(
            billing="included_hours", rate="80", increment="15m", included="2h"
        ),
    )
    customers.add_contact(context, "Beispiel AG", "Bea", "bea@beispiel.example", roles=["main"])
    customers.add_agent(context, "mmueller", "Max Müller", "max@smartwork.example")
    try:
        yield context
    finally:
        context.close()


def ticket_with(
    ctx: Context, contact: str, *minutes: int, close: bool = True, no_charge: bool = False
) -> str:
    opened = tickets.open_ticket(ctx, tickets.OpenRequest(contact, "Drucker", "x", notify=False))
    number = str(opened.ticket["number"])
    for m in minutes:
        tickets.log_time(ctx, number, m, billable=not no_charge)
    if close:
        tickets.close(ctx, number, notify=False)
    return number


def report_amount(ctx: Context, number: str) -> Decimal:
    return build_report(ctx, views.get_ticket(ctx.store, number)).charge.amount


def test_included_hours_are_used_up_in_close_order(ctx: Context) -> None:
    a = ticket_with(ctx, "bea@beispiel.example", 60)
    b = ticket_with(ctx, "bea@beispiel.example", 90)
    c = ticket_with(ctx, "bea@beispiel.example", 20)
    assert [report_amount(ctx, n) for n in (a, b, c)] == [
        Decimal("0.00"),
        Decimal("40.00"),
        Decimal("40.00"),
    ]  # 20m billed as 30m
    stored = latest_report(ctx.store, int(views.get_ticket(ctx.store, b)["id"]))
    assert stored is not None and stored["amount"] == "40.00"
    # An open ticket's report is a preview as if it were closed now, after the others.
    d = ticket_with(ctx, "bea@beispiel.example", 15, close=False)
    assert report_amount(ctx, d) == Decimal("20.00")
    report = build_report(ctx, views.get_ticket(ctx.store, a))
    assert report.included_used_minutes == 60

    month = month_range("this", ctx.today(), ctx.tz)
    rows = list(billing_rows(ctx, month))
    rv2 = next(r for r in rows if r["contract"] == "RV-2")
    assert (rv2["tickets"], rv2["amount"], rv2["included_hours_used"]) == (3, "80.00", "2")


def test_billing_rows_match_a_recount(ctx: Context) -> None:
    rng = random.Random(4)
    expected: dict[str, list[Decimal]] = {"RV-1": [], "RV-2": []}
    for _ in range(40):
        contact = rng.choice(["anna.schmidt@muster.example", "bea@beispiel.example"])
        minutes = [rng.randint(1, 120) for _ in range(rng.randint(0, 4))]
        ticket_with(ctx, contact, *minutes, no_charge=rng.random() < 0.1)
    month = month_range("this", ctx.today(), ctx.tz)
    for contract in ("RV-1", "RV-2"):
        c = customers.get_contract(ctx.store, contract)
        t = ContractTerms(
            c["billing"],
            Decimal(c["rate"]),
            c["increment_minutes"],
            c["minimum_minutes"],
            c["included_minutes"],
        )
        closed = ctx.store.query(
            "SELECT * FROM tickets WHERE contract_id = ? ORDER BY closed_at, id", (c["id"],)
        )
        charges = []
        for row in closed:
            lines = [
                TimeEntryLine(date(2026, 1, 1), "", e["minutes"], "other", "", bool(e["billable"]))
                for e in ctx.store.query(
                    "SELECT minutes, billable FROM time_entries WHERE ticket_id = ?", (row["id"],)
                )
            ]
            charges.append((row["id"], ticket_charge(lines, t)))
        expected[contract] = [month_charges(charges, t).amount]
    rows = {
        r["contract"] or r["organisation"]: r
        for r in billing_rows(ctx, month, detail=True)
        if not r["ticket"]
    }
    for contract, (amount,) in expected.items():
        assert rows[contract]["amount"] == f"{amount:.2f}"
    assert rows["TOTAL"]["tickets"] == 40
    assert Decimal(rows["TOTAL"]["amount"]) == sum(a for (a,) in expected.values())
    detail = [r for r in billing_rows(ctx, month, detail=True) if r["ticket"]]
    assert len(detail) == 40
    assert sum(Decimal(r["amount"]) for r in detail) == Decimal(rows["TOTAL"]["amount"])
    only = list(billing_rows(ctx, month, org="Beispiel AG"))
    assert [r["contract"] for r in only] == ["RV-2", ""]


def test_approved_report_locks_time_unless_forced(ctx: Context) -> None:
    number = ticket_with(ctx, "anna.schmidt@muster.example", 30)
    decide_report(ctx, number, "approved", by="A. Schmidt", via="phone")
    tickets.reopen(ctx, number)
    with pytest.raises(Refused, match="locked"):
        tickets.log_time(ctx, number, 15)
    ticket = views.get_ticket(ctx.store, number)
    with ctx.store.transaction():
        check_time_change(ctx, ticket, force=True)
    history = views.show(ctx.store, number)["history"]
    assert history[-1]["action"] == "locked_time_changed"


def billing_mail(number: str, sender: str, body: str, pdf: bool = False) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "abrechnung@smartwork.example"
    msg["Subject"] = f"WG: [Ticket#{number}] Servicebericht"
    msg["Message-ID"] = f"<{number}.{len(body)}@muster.example>"
    msg.set_content(body)
    if pdf:
        msg.add_attachment(
            b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="scan.pdf"
        )
    return bytes(msg)


def test_billing_mailbox(ctx: Context) -> None:
    number = ticket_with(ctx, "anna.schmidt@muster.example", 30)
    ticket = views.get_ticket(ctx.store, number)
    stranger = parse_message(billing_mail(number, "eve@evil.example", "Genehmigt"))
    with ctx.store.transaction():
        assert on_billing_mail(ctx, stranger, ticket) is None
        assert on_billing_mail(ctx, stranger, None) is None

    scan = parse_message(billing_mail(number, "anna.schmidt@muster.example", "Anbei.", pdf=True))
    with ctx.store.transaction():
        reason = on_billing_mail(ctx, scan, ticket)
    assert reason is not None and "kept" in reason
    row = latest_report(ctx.store, int(ticket["id"]))
    assert row is not None and row["status"] == "pending"
    shown = views.show(ctx.store, number)
    assert shown["articles"][-1]["attachments"][0]["filename"] == "scan.pdf"

    yes = parse_message(
        billing_mail(number, "Anna Schmidt <anna.schmidt@muster.example>", "Genehmigt.\n\nGruß")
    )
    with ctx.store.transaction():
        assert "approved" in str(on_billing_mail(ctx, yes, ticket))
    row = latest_report(ctx.store, int(ticket["id"]))
    assert row is not None
    assert (row["status"], row["via"]) == ("approved", "mail")
    assert "anna.schmidt@muster.example" in row["decided_by"]

    no = parse_message(
        billing_mail(number, "anna.schmidt@muster.example", "Nein, es waren nur 15 Minuten.")
    )
    with ctx.store.transaction():
        assert "disputed" in str(on_billing_mail(ctx, no, ticket))
    row = latest_report(ctx.store, int(ticket["id"]))
    assert row is not None
    assert (row["status"], row["reason"]) == ("disputed", "Nein, es waren nur 15 Minuten.")

    open_one = ticket_with(ctx, "anna.schmidt@muster.example", 10, close=False)
    with ctx.store.transaction():
        assert on_billing_mail(ctx, yes, views.get_ticket(ctx.store, open_one)) is None
