"""Monthly billing: calendar months in the configured time zone, a month's share of an
``included_hours`` contract, and the ``billing`` report (one row per organisation and contract,
streamed in constant memory).

``included_hours`` contracts are priced per calendar month in the configured time zone
(``billing.timezone``): the month's tickets of the contract use up the allowance in the order
they were closed, so a ticket's amount depends on what was closed before it in the same month.
:func:`billing_rows` recomputes a month from the time entries, summed per ticket in SQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hdcli.billing.accounting import contract_terms
from hdcli.errors import UsageError
from hdcli.repo import billing as billing_repo
from hdcli.reports import ReportContext, ReportResult, flag

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hdcli.backends.base import Row
    from hdcli.billing.accounting import ContractTerms, TicketCharge
    from hdcli.context import Context


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


def _charge_of(row: Row, terms: ContractTerms) -> TicketCharge:
    from hdcli.billing.accounting import charge_from_minutes

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
    from hdcli.billing.accounting import month_charges

    terms = contract_terms(contract)
    closed = ticket.get("closed_at")
    day = local_date(closed, ctx.tz) if closed else ctx.today()
    month = month_range(day.strftime("%Y-%m"), day, ctx.tz)
    # Per-ticket sums in SQL: one row per ticket, never every time entry.
    rows = billing_repo.contract_month(
        ctx.store, contract["id"], month.start, month.end, ticket["id"]
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
        from hdcli.billing.accounting import format_money
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


def _status_counts(sums: _Sums, status: str | None, worked: int) -> None:
    if status == "approved":
        sums.approved += 1
    elif status == "disputed":
        sums.disputed += 1
    elif status not in (None, "withdrawn") or worked:
        sums.pending += 1  # pending, or closed before service reports existed
    # no report (or a withdrawn one) and no time: closed without one (``empty_reports =
    # skip``), awaits nothing


def billing_rows(
    ctx: Context, month: Month, *, org: str | None = None, detail: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream the month's billing: one row per organisation and contract (preceded by one row
    per ticket with ``detail``), then a ``TOTAL`` row.

    Tickets count in the month they were closed in (configured time zone); their time is
    summed per ticket in SQL (covering indexes, see migration 0002) and priced one by one with
    :func:`hdcli.billing.accounting.month_lines`; report counts are by the ticket's latest service
    report. Memory stays constant whatever the number of tickets.
    """
    from hdcli.billing.accounting import month_lines
    from hdcli.customers import get_org

    store = ctx.store
    currency = str(ctx.config.get("billing.currency") or "EUR")
    org_id = int(get_org(store, org)["id"]) if org else None
    tickets = billing_repo.month_tickets(
        store, month.start, month.end, org_id=org_id, numbers=detail
    )
    total = _Sums()
    for _, group in itertools.groupby(tickets, key=lambda r: r["contract_id"]):
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
            _status_counts(sums, row["report_status"], int(row["worked"]))
            if detail:
                one = _Sums(
                    tickets=1,
                    worked=int(row["worked"]),
                    billed=line.billed_minutes,
                    included_used=line.included_used_minutes,
                    charged=line.charged_minutes,
                    amount=line.amount,
                )
                _status_counts(one, row["report_status"], int(row["worked"]))
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


def billing_report(rctx: ReportContext, options: Mapping[str, Any]) -> ReportResult:
    """A month's billing per organisation and contract. Options: ``month`` (YYYY-MM, this,
    last; default last), ``org``, ``detail`` (one row per ticket too), ``language`` of the
    title and summary (``de``: ``Abrechnung Dezember 2026``, German figures; default English,
    as on a terminal)."""
    from hdcli import formats

    month = month_range(str(options.get("month") or "last"), rctx.today(), rctx.tz)
    detail = flag(options.get("detail", False))
    org = options.get("org") or None
    language = str(options.get("language") or "en")
    year, mon = (int(part) for part in month.label.split("-"))
    word = "Abrechnung" if language == "de" else "billing"
    result = ReportResult(
        title=f"{word} {formats.month_text(year, mon, language)}" + (f" {org}" if org else ""),
        columns=DETAIL_COLUMNS if detail else BILLING_COLUMNS,
        rows=(),
        filename=f"billing-{month.label}",
        meta={"month": month.label},
    )

    def rows() -> Iterable[Mapping[str, Any]]:
        for row in billing_rows(rctx.ctx, month, org=str(org) if org else None, detail=detail):
            if row["organisation"] == "TOTAL":
                result.meta["totals"] = row
                result.summary = f"{result.title}: {billing_summary(row, language)}"
            yield row

    result.rows = rows()
    return result


def billing_summary(t: Mapping[str, Any], language: str = "en") -> str:
    """One line of a billing report's totals row (German figures and words for ``de``)."""
    if language == "de":
        from hdcli import formats

        def hours(key: str) -> str:
            return f"{formats.number(Decimal(t[key]), 'de')} Std."

        return (
            f"{t['tickets']} Tickets abgeschlossen, {hours('hours_worked')} gearbeitet, "
            f"{hours('hours_billed')} abgerechnet, "
            f"{formats.money(Decimal(t['amount']), 'de', t['currency'])}; Serviceberichte "
            f"genehmigt {t['approved']}, ausstehend {t['pending']}, "
            f"beanstandet {t['disputed']}"
        )
    return (
        f"{t['tickets']} tickets closed, {t['hours_worked']} h worked, {t['hours_billed']} h "
        f"billed, {t['amount']} {t['currency']}; service reports approved {t['approved']}, "
        f"pending {t['pending']}, disputed {t['disputed']}"
    )
