"""Billing arithmetic: the worked examples of the billing rules, then properties (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdcli.billing.accounting import (
    ContractTerms,
    InvalidAmount,
    TicketCharge,
    TimeEntryLine,
    billed_minutes,
    format_money,
    month_charges,
    parse_amount,
    round_up,
    ticket_charge,
)
from hdcli.errors import Refused

DAY = date(2026, 11, 27)


def entry(minutes: int, *, billable: bool = True, agent: str = "anna") -> TimeEntryLine:
    return TimeEntryLine(DAY, agent, minutes, "remote", "", billable)


HOURLY = ContractTerms("hourly", Decimal("95"), increment=15, minimum=0, included_minutes=0)
INCLUDED = ContractTerms(
    "included_hours", Decimal("80"), increment=15, minimum=0, included_minutes=120
)
FREE = ContractTerms("free", Decimal("0"), increment=15, minimum=0, included_minutes=0)


# --- the worked examples -------------------------------------------------------------------


def test_hourly_worked_example() -> None:
    charge = ticket_charge([entry(10), entry(20), entry(50)], HOURLY)
    assert charge.worked_minutes == 80
    assert charge.chargeable_minutes == 80
    assert charge.billed_minutes == 90
    assert charge.billable is True
    assert charge.amount == Decimal("142.50")
    assert str(charge.amount) == "142.50"


def test_no_charge_entry_on_another_ticket_adds_nothing() -> None:
    first = ticket_charge([entry(10), entry(20), entry(50)], HOURLY)
    goodwill = ticket_charge([entry(30, billable=False)], HOURLY)
    assert goodwill.worked_minutes == 30
    assert goodwill.chargeable_minutes == 0
    assert goodwill.billed_minutes == 0
    assert goodwill.amount == Decimal("0.00")
    month = month_charges([("T1", first), ("T2", goodwill)], HOURLY)
    assert month.amount == Decimal("142.50")
    assert month.worked_minutes == 110
    assert month.billed_minutes == 90
    assert [t.amount for t in month.tickets] == [Decimal("142.50"), Decimal("0.00")]


def test_no_charge_entry_within_a_ticket_is_shown_but_not_billed() -> None:
    charge = ticket_charge([entry(10), entry(20), entry(50), entry(30, billable=False)], HOURLY)
    assert charge.worked_minutes == 110
    assert charge.chargeable_minutes == 80
    assert charge.billed_minutes == 90
    assert charge.amount == Decimal("142.50")


def test_included_hours_worked_example() -> None:
    a = ticket_charge([entry(60)], INCLUDED)
    b = ticket_charge([entry(60), entry(30)], INCLUDED)
    # A single ticket under included hours is priced by the month, not on its own.
    assert a.amount == b.amount == Decimal("0.00")
    month = month_charges([("A", a), ("B", b)], INCLUDED)
    assert month.billed_minutes == 150
    assert month.included_minutes == 120
    assert month.included_used_minutes == 120
    assert month.included_remaining_minutes == 0
    assert month.charged_minutes == 30
    assert month.amount == Decimal("40.00")
    assert [
        (t.key, t.included_used_minutes, t.charged_minutes, t.amount) for t in month.tickets
    ] == [("A", 60, 0, Decimal("0.00")), ("B", 60, 30, Decimal("40.00"))]


def test_included_hours_under_the_allowance_cost_nothing() -> None:
    month = month_charges([("A", ticket_charge([entry(50)], INCLUDED))], INCLUDED)
    assert month.amount == Decimal("0.00")
    assert month.included_used_minutes == 60
    assert month.included_remaining_minutes == 60


def test_free_contract_reports_time_and_never_charges() -> None:
    charge = ticket_charge([entry(80)], FREE)
    assert charge.worked_minutes == 80
    assert charge.billed_minutes == 0  # bills nothing, as the month's billing says
    assert charge.billable is False
    assert charge.amount == Decimal("0.00")
    assert month_charges([("A", charge)], FREE).amount == Decimal("0.00")


def test_free_contract_cannot_be_made_billable() -> None:
    with pytest.raises(Refused, match="free"):
        ticket_charge([entry(80)], FREE, billable_override=True)


def test_ticket_override_to_not_billable() -> None:
    charge = ticket_charge([entry(80)], HOURLY, billable_override=False)
    assert charge.billable is False
    assert charge.amount == Decimal("0.00")
    month = month_charges([("A", charge)], INCLUDED)
    assert month.included_used_minutes == 0


def test_ticket_override_to_billable_on_hourly_is_the_default() -> None:
    assert ticket_charge([entry(80)], HOURLY, billable_override=True).amount == Decimal("142.50")


def test_minimum_per_ticket() -> None:
    terms = ContractTerms("hourly", Decimal("60"), increment=15, minimum=30)
    assert ticket_charge([entry(5)], terms).billed_minutes == 30
    assert ticket_charge([entry(5)], terms).amount == Decimal("30.00")
    assert ticket_charge([entry(35)], terms).billed_minutes == 45
    assert ticket_charge([], terms).billed_minutes == 0


def test_amount_rounds_half_up_once() -> None:
    # 1 minute at 0.30/h = 0.005 exactly: half up gives 0.01 (banker's rounding would give 0.00).
    terms = ContractTerms("hourly", Decimal("0.30"))
    assert ticket_charge([entry(1)], terms).amount == Decimal("0.01")
    # 10 minutes at 80/h = 13.333…: rounded once at the end.
    assert ticket_charge([entry(10)], ContractTerms("hourly", Decimal("80"))).amount == Decimal(
        "13.33"
    )


@pytest.mark.parametrize(
    ("minutes", "increment", "expected"),
    [(80, 15, 90), (90, 15, 90), (1, 15, 15), (0, 15, 0), (7, 0, 7), (7, 1, 7), (61, 60, 120)],
)
def test_round_up(minutes: int, increment: int, expected: int) -> None:
    assert round_up(minutes, increment) == expected


def test_billed_minutes_of_nothing_is_nothing() -> None:
    assert billed_minutes(0, 15, 30) == 0
    assert billed_minutes(1, 15, 30) == 30


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("95", Decimal("95")),
        ("95.50", Decimal("95.50")),
        ("95,5", Decimal("95.5")),
        ("95 EUR", Decimal("95")),
        ("80 €", Decimal("80")),
    ],
)
def test_parse_amount(text: str, value: Decimal) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "-5", "abc", "1.23456", "1e3", "NaN"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text)


def test_terms_are_validated() -> None:
    with pytest.raises(InvalidAmount, match="billing mode"):
        ContractTerms("monthly")
    with pytest.raises(InvalidAmount, match="rate"):
        ContractTerms("hourly", Decimal("-1"))
    with pytest.raises(InvalidAmount, match="increment"):
        ContractTerms("hourly", Decimal("1"), increment=-15)


def test_format_money() -> None:
    assert format_money(Decimal("142.5")) == "142.50"
    assert format_money(Decimal("40")) == "40.00"


# --- properties ----------------------------------------------------------------------------

minutes_st = st.integers(min_value=0, max_value=20_000)
increment_st = st.sampled_from([0, 1, 5, 6, 10, 15, 30, 60])
minimum_st = st.integers(min_value=0, max_value=120)
rate_st = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def terms_st(draw: st.DrawFn) -> ContractTerms:
    return ContractTerms(
        billing=draw(st.sampled_from(["hourly", "included_hours", "free"])),
        rate=draw(rate_st),
        increment=draw(increment_st),
        minimum=draw(minimum_st),
        included_minutes=draw(st.integers(min_value=0, max_value=6000)),
    )


entries_st = st.lists(
    st.builds(entry, st.integers(min_value=1, max_value=600), billable=st.booleans()), max_size=8
)


@given(minutes_st, increment_st, minimum_st)
def test_billed_is_rounded_up_within_one_increment(
    worked: int, increment: int, minimum: int
) -> None:
    billed = billed_minutes(worked, increment, minimum)
    assert billed >= worked
    if worked == 0:
        assert billed == 0
        return
    assert billed >= minimum
    step = max(increment, 1)
    if billed > minimum:
        assert billed - worked < step
    assert billed % step == 0 or billed == minimum


@given(entries_st, terms_st(), st.sampled_from([None, False]))
def test_ticket_charge_properties(
    entries: list[TimeEntryLine], terms: ContractTerms, override: bool | None
) -> None:
    charge = ticket_charge(entries, terms, billable_override=override)
    assert charge.worked_minutes == sum(e.minutes for e in entries)
    assert charge.chargeable_minutes <= charge.worked_minutes
    if charge.billable:
        assert charge.billed_minutes >= charge.chargeable_minutes
    assert charge.amount.as_tuple().exponent == -2
    assert charge.amount >= 0
    if terms.billing == "free" or not charge.billable:
        assert charge.amount == 0
        assert charge.billed_minutes == 0  # what is not billed bills nothing


@given(st.lists(st.tuples(entries_st, st.sampled_from([None, False])), max_size=10), terms_st())
def test_month_properties(
    tickets: list[tuple[list[TimeEntryLine], bool | None]], terms: ContractTerms
) -> None:
    charges = [
        (i, ticket_charge(e, terms, billable_override=o)) for i, (e, o) in enumerate(tickets)
    ]
    month = month_charges(charges, terms)
    assert month.amount.as_tuple().exponent == -2
    assert month.amount == sum((t.amount for t in month.tickets), Decimal("0.00"))
    assert all(t.amount.as_tuple().exponent == -2 for t in month.tickets)
    assert [t.key for t in month.tickets] == list(range(len(tickets)))
    assert month.included_used_minutes >= 0
    assert month.included_remaining_minutes >= 0
    assert month.included_used_minutes + month.included_remaining_minutes == month.included_minutes
    assert month.included_used_minutes <= month.included_minutes
    assert month.charged_minutes == month.billed_minutes - month.included_used_minutes
    assert all(t.charged_minutes >= 0 and t.included_used_minutes >= 0 for t in month.tickets)
    if terms.billing == "free":
        assert month.amount == 0 and month.charged_minutes == 0
    if terms.billing == "hourly":
        # Hourly months agree with the tickets' own amounts (what the service reports showed).
        assert month.amount == sum((c.amount for _, c in charges), Decimal("0.00"))
    if terms.billing == "included_hours" and month.billed_minutes <= terms.included_minutes:
        assert month.amount == 0


@given(
    st.lists(st.integers(min_value=0, max_value=600), max_size=10),
    st.integers(min_value=0, max_value=3000),
    rate_st,
)
def test_included_hours_charge_only_what_exceeds_the_allowance(
    billed: list[int], included: int, rate: Decimal
) -> None:
    terms = ContractTerms("included_hours", rate, included_minutes=included)
    charges = [
        (i, TicketCharge("included_hours", rate, b, b, b, True, Decimal("0.00")))
        for i, b in enumerate(billed)
    ]
    month = month_charges(charges, terms)
    assert month.charged_minutes == max(0, sum(billed) - included)
