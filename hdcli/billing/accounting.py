"""Time accounting and money: what a ticket and a month of tickets cost under a contract.

Pure arithmetic, no storage. Money is Decimal in EUR; minutes are ints. Rounding rules:

- time: a ticket's chargeable minutes are rounded *up* to the contract's increment, then raised to
  the contract's minimum (a ticket with no chargeable time bills nothing);
- money: an amount is computed exactly from billed minutes × rate / 60 and rounded half up to two
  places once, as the last step. A month's amount is the sum of its tickets' amounts, so the monthly
  statement always agrees with the service reports the customer approved.

Billing modes: ``hourly`` (every billed minute at the rate), ``included_hours`` (a monthly allowance
of minutes is consumed by the month's tickets in the order given; the rest is charged at the rate),
``free`` (reported, never charged).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Generic, TypeVar

from hdcli.errors import Refused, UsageError
from hdcli.models import BILLING_MODES

if TYPE_CHECKING:
    from hdcli.models import Row

__all__ = [
    "BILLING_MODES",
    "CURRENCY",
    "ContractTerms",
    "InvalidAmount",
    "MonthCharge",
    "MonthTicketCharge",
    "TicketCharge",
    "TimeEntryLine",
    "billed_minutes",
    "charge_from_minutes",
    "contract_terms",
    "format_money",
    "minutes_amount",
    "money",
    "month_charges",
    "month_lines",
    "parse_amount",
    "round_up",
    "ticket_charge",
]

CURRENCY = "EUR"
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


class InvalidAmount(UsageError, ValueError):
    """A money amount or contract term that is malformed or negative (exit 2)."""


def money(value: Decimal) -> Decimal:
    """Return *value* rounded half up to exactly two places (the only rounding money gets)."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """Return *value* as a plain two-place figure with a point, e.g. ``142.50``."""
    return f"{money(value):f}"


def minutes_amount(minutes: int, rate: Decimal) -> Decimal:
    """Return the price of *minutes* at *rate* per hour: exact, then rounded half up to cents."""
    return money(Decimal(minutes) * rate / 60)


_AMOUNT = re.compile(r"\d{1,9}(?:[.,]\d{1,4})?")


def parse_amount(text: str) -> Decimal:
    """Parse a non-negative amount such as ``95``, ``95.50`` or ``95,50`` (up to four places).

    A trailing ``EUR`` or ``€`` is allowed. Raises InvalidAmount for anything else.
    """
    raw = text.strip().removesuffix("€").strip()
    if raw[-3:].upper() == "EUR":
        raw = raw[:-3].strip()
    if not _AMOUNT.fullmatch(raw):
        raise InvalidAmount(f"invalid amount {text!r}: use a number like 95, 95.50 or 95,50")
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise InvalidAmount(f"invalid amount {text!r}") from None


def round_up(minutes: int, increment: int) -> int:
    """Round *minutes* (≥ 0) up to a multiple of *increment*; an increment of 0 or 1 keeps them."""
    if minutes < 0 or increment < 0:
        raise ValueError(f"negative minutes or increment: {minutes}, {increment}")
    if increment <= 1:
        return minutes
    return -(-minutes // increment) * increment


def billed_minutes(worked: int, increment: int, minimum: int) -> int:
    """Return the minutes billed for *worked* chargeable minutes of one ticket.

    0 worked bills 0; otherwise the worked time rounded up to *increment*, at least *minimum*.
    """
    if minimum < 0:
        raise ValueError(f"negative minimum: {minimum}")
    if worked == 0:
        return 0
    return max(minimum, round_up(worked, increment))


@dataclass(frozen=True)
class TimeEntryLine:
    """One time entry as reports show it; *billable* False is a no-charge (goodwill) entry."""

    date: date
    agent: str
    minutes: int
    activity: str
    note: str
    billable: bool = True


@dataclass(frozen=True)
class ContractTerms:
    """The billing terms of a contract.

    *billing* is one of BILLING_MODES; *rate* EUR per hour (ignored by ``free``); *increment* and
    *minimum* in minutes per ticket; *included_minutes* per calendar month (``included_hours``
    only).
    Raises InvalidAmount when a term is negative or the mode unknown.
    """

    billing: str
    rate: Decimal = _ZERO
    increment: int = 0
    minimum: int = 0
    included_minutes: int = 0

    def __post_init__(self) -> None:
        if self.billing not in BILLING_MODES:
            raise InvalidAmount(
                f"unknown billing mode {self.billing!r}: use one of {', '.join(BILLING_MODES)}"
            )
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate < 0:
            raise InvalidAmount(f"invalid hourly rate {self.rate!r}: must be a Decimal ≥ 0")
        for name in ("increment", "minimum", "included_minutes"):
            if getattr(self, name) < 0:
                raise InvalidAmount(f"invalid {name.replace('_', ' ')}: must not be negative")


@dataclass(frozen=True)
class TicketCharge:
    """What one ticket's time comes to.

    worked_minutes: every entry; chargeable_minutes: entries not marked no-charge; billed_minutes:
    chargeable rounded by the contract, 0 when the ticket is not billable; billable: the
    contract's mode or the ticket's override; amount: for ``hourly`` and billable the billed time at
    the rate, otherwise 0.00 — ``included_hours`` tickets are priced per month by month_charges.
    """

    billing: str
    rate: Decimal
    worked_minutes: int
    chargeable_minutes: int
    billed_minutes: int
    billable: bool
    amount: Decimal
    currency: str = CURRENCY


def ticket_charge(
    entries: Sequence[TimeEntryLine],
    terms: ContractTerms,
    *,
    billable_override: bool | None = None,
) -> TicketCharge:
    """Return the charge for one ticket's *entries* under *terms*.

    *billable_override* None follows the contract (billable unless ``free``); True/False is the
    ticket's override. A ``free`` contract never charges: overriding it to billable raises Refused.
    """
    return charge_from_minutes(
        sum(e.minutes for e in entries),
        sum(e.minutes for e in entries if e.billable),
        terms,
        billable_override=billable_override,
    )


def charge_from_minutes(
    worked: int,
    chargeable: int,
    terms: ContractTerms,
    *,
    billable_override: bool | None = None,
) -> TicketCharge:
    """Return the charge for one ticket from its summed minutes (*worked*: every entry,
    *chargeable*: the entries not marked no-charge), as :func:`ticket_charge` does from the
    entries. Lets reports sum minutes in the database instead of loading every entry."""
    if terms.billing == "free" and billable_override:
        raise Refused("the contract is free of charge: its tickets cannot be made billable")
    if worked < 0 or chargeable < 0 or chargeable > worked:
        raise ValueError(f"bad minutes: worked {worked}, chargeable {chargeable}")
    billable = terms.billing != "free" if billable_override is None else billable_override
    # Time that is not billed bills nothing: the report says 0, as the month's billing does.
    billed = billed_minutes(chargeable, terms.increment, terms.minimum) if billable else 0
    amount = minutes_amount(billed, terms.rate) if billable and terms.billing == "hourly" else _ZERO
    return TicketCharge(
        billing=terms.billing,
        rate=terms.rate,
        worked_minutes=worked,
        chargeable_minutes=chargeable,
        billed_minutes=billed,
        billable=billable,
        amount=amount,
    )


K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class MonthTicketCharge(Generic[K]):
    """One ticket's share of a month: its billed minutes, how many the allowance covered, the rest
    charged at the rate, and the amount for that rest."""

    key: K
    billable: bool
    billed_minutes: int
    included_used_minutes: int
    charged_minutes: int
    amount: Decimal


@dataclass(frozen=True)
class MonthCharge(Generic[K]):
    """One contract's calendar month.

    billed_minutes counts billable tickets only; charged_minutes = billed − included_used;
    amount is exactly the sum of the tickets' amounts.
    """

    billing: str
    rate: Decimal
    worked_minutes: int
    billed_minutes: int
    included_minutes: int
    included_used_minutes: int
    included_remaining_minutes: int
    charged_minutes: int
    amount: Decimal
    tickets: list[MonthTicketCharge[K]] = field(default_factory=list)
    currency: str = CURRENCY


def month_lines(
    tickets: Iterable[tuple[K, TicketCharge]], terms: ContractTerms
) -> Iterator[MonthTicketCharge[K]]:
    """Price one contract's tickets of one month one by one, as :func:`month_charges` does.

    Lazy: each line is yielded as soon as its ticket was read, so a month of any size is priced
    in constant memory; the sum of the lines' amounts is the month's amount.
    """
    remaining = terms.included_minutes if terms.billing == "included_hours" else 0
    # Billed minutes come in increments, so a month repeats few distinct figures: each is
    # priced once (the same minutes_amount, not a second rounding rule).
    amounts: dict[int, Decimal] = {}
    for key, charge in tickets:
        billable = charge.billable and terms.billing != "free"
        billed = charge.billed_minutes if billable else 0
        used = min(remaining, billed)
        remaining -= used
        charged = billed - used
        if billable:
            amount = amounts.get(charged)
            if amount is None:
                amount = amounts[charged] = minutes_amount(charged, terms.rate)
        else:
            amount = _ZERO
        yield MonthTicketCharge(key, billable, billed, used, charged, amount)


def month_charges(
    tickets: Sequence[tuple[K, TicketCharge]], terms: ContractTerms
) -> MonthCharge[K]:
    """Price one contract's tickets of one calendar month.

    *tickets* are (key, charge) pairs in the order the allowance is consumed (the caller passes
    them by close time). Non-billable tickets consume nothing and cost nothing. Under
    ``included_hours`` each billable ticket's billed minutes first use what is left of
    *terms.included_minutes*; the rest is charged at the rate. ``hourly`` charges every billed
    minute; ``free`` charges nothing.
    """
    lines = list(month_lines(tickets, terms))
    used_total = sum(line.included_used_minutes for line in lines)
    remaining = (terms.included_minutes - used_total) if terms.billing == "included_hours" else 0
    return MonthCharge(
        billing=terms.billing,
        rate=terms.rate,
        worked_minutes=sum(c.worked_minutes for _, c in tickets),
        billed_minutes=sum(line.billed_minutes for line in lines),
        included_minutes=terms.included_minutes if terms.billing == "included_hours" else 0,
        included_used_minutes=sum(line.included_used_minutes for line in lines),
        included_remaining_minutes=remaining,
        charged_minutes=sum(line.charged_minutes for line in lines),
        amount=money(sum((line.amount for line in lines), _ZERO)),
        tickets=lines,
    )


def contract_terms(contract: Row) -> ContractTerms:
    """The terms of a contract row (or a row holding a contract's columns)."""
    return ContractTerms(
        billing=contract["billing"],
        rate=Decimal(str(contract["rate"] or "0")),
        increment=int(contract["increment_minutes"]),
        minimum=int(contract["minimum_minutes"]),
        included_minutes=int(contract["included_minutes"]),
    )
