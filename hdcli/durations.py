"""Durations and dates as people type them on the command line.

Imported when the CLI starts, so it uses only the standard library and the package's errors.

Accepted duration forms (case-insensitive, spaces around the parts allowed):

- minutes: ``90m``, ``90 min``, or a bare whole number ``45`` (a bare number is always minutes;
  a bare ``1,5`` is refused because it reads as hours to many people);
- hours and minutes: ``1h30m``, ``1h 30m``, ``1h30``, ``2h``;
- clock form: ``1:30``, ``0:05`` (minutes are two digits, below 60);
- decimal hours with a point or a comma: ``1.5h``, ``1,5h``;
- German units: ``1,5 Std``, ``1,5 Std.``, ``1,5 Stunden``, ``1 Stunde``, ``90 Min.``,
  ``1 Std. 30 Min.``.

Minutes after hours (``1h70m``, ``1:70``) must be below 60, so a typo is not silently taken as
more time. Fractional minutes (``1.33h`` = 79.8 min) round half up to the nearest whole minute.
A duration must come to at least one minute.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hdcli.errors import UsageError

__all__ = [
    "DURATION_FORMS",
    "InvalidDate",
    "InvalidDuration",
    "format_hours",
    "format_minutes",
    "parse_date",
    "parse_duration",
]

DURATION_FORMS = "90m, 90 Min., 45 (minutes), 1h30m, 1h 30m, 2h, 1:30, 0:05, 1.5h, 1,5h or 1,5 Std."


class InvalidDuration(UsageError, ValueError):
    """A duration that is not one of the accepted forms, or not positive (exit 2)."""


class InvalidDate(UsageError, ValueError):
    """A date that is none of the forms :func:`parse_date` accepts (exit 2)."""


# At most 5 digits per part: nobody logs 100,000 hours, and it keeps the arithmetic small.
_NUM = r"\d{1,5}(?:[.,]\d{1,4})?"
_INT = r"\d{1,5}"
_MINUTES = re.compile(rf"(?P<m>{_NUM})\s*(?:m|min|mins|minutes?)")
_BARE = re.compile(rf"(?P<m>{_INT})")
_HOURS = re.compile(rf"(?P<h>{_NUM})\s*h")
_HOURS_MINUTES = re.compile(rf"(?P<h>{_INT})\s*h\s*(?P<m>{_INT})\s*(?:m|min)?")
_CLOCK = re.compile(rf"(?P<h>{_INT}):(?P<m>\d\d)")


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _whole_minutes(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# German units, read as the English ones: "1,5 Std." is 1,5h, "90 Min." is 90min.
_GERMAN_UNITS = re.compile(r"(?<=[\d\s])(stunden|stunde|std)\.?|(?<=[\d\s])(min)\.")


def _english_units(raw: str) -> str:
    return _GERMAN_UNITS.sub(lambda m: "h" if m.group(1) else "min", raw).strip()


def parse_duration(text: str) -> int:
    """Return the duration *text* in whole minutes (at least 1).

    Raises InvalidDuration (a ValueError and a UsageError) naming the accepted forms when *text* is
    none of them, when minutes after hours are 60 or more, or when it comes to zero minutes.
    """
    raw = _english_units(text.strip().lower())
    minutes: Decimal | None = None
    if match := _HOURS_MINUTES.fullmatch(raw):
        hours, mins = int(match["h"]), int(match["m"])
        if mins >= 60:
            raise InvalidDuration(
                f"invalid duration {text!r}: minutes after hours must be below 60 "
                f"(accepted: {DURATION_FORMS})"
            )
        minutes = Decimal(hours * 60 + mins)
    elif match := _CLOCK.fullmatch(raw):
        hours, mins = int(match["h"]), int(match["m"])
        if mins >= 60:
            raise InvalidDuration(
                f"invalid duration {text!r}: minutes after the colon must be below 60 "
                f"(accepted: {DURATION_FORMS})"
            )
        minutes = Decimal(hours * 60 + mins)
    elif match := _HOURS.fullmatch(raw):
        minutes = _decimal(match["h"]) * 60
    elif match := _MINUTES.fullmatch(raw) or _BARE.fullmatch(raw):
        minutes = _decimal(match["m"])
    if minutes is None:
        raise InvalidDuration(f"invalid duration {text!r}: use one of {DURATION_FORMS}")
    whole = _whole_minutes(minutes)
    if whole < 1:
        raise InvalidDuration(
            f"invalid duration {text!r}: must be at least one minute (accepted: {DURATION_FORMS})"
        )
    return whole


def format_minutes(minutes: int) -> str:
    """Return *minutes* (≥ 0) as ``1h30m``, ``45m``, ``2h`` or ``0m``; ValueError if negative."""
    if minutes < 0:
        raise ValueError(f"negative duration: {minutes} minutes")
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours}h{mins}m"
    if hours:
        return f"{hours}h"
    return f"{mins}m"


def format_hours(minutes: int) -> str:
    """Return *minutes* as decimal hours with a point and at most two places, half up.

    90 → ``1.5``, 80 → ``1.33``, 120 → ``2``, 1 → ``0.02``, 0 → ``0``. Negative minutes keep their
    sign. The decimal point is used in every language so that figures stay machine-readable.
    """
    value = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{value:f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_GERMAN_DATE = re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})?")
_RELATIVE = {
    "today": 0,
    "heute": 0,
    "yesterday": 1,
    "gestern": 1,
    "last week": 7,
    "letzte woche": 7,
}
DATE_FORMS = "YYYY-MM-DD, 01.12.2026, 1.12., today/heute, yesterday/gestern or letzte Woche"


def parse_date(text: str, today: date) -> date:
    """Return the date *text* names: ISO ``2026-12-01``, German ``01.12.2026`` or ``1.12.`` (this
    year), ``today``/``heute``, ``yesterday``/``gestern``, ``last week``/``letzte Woche`` (seven
    days ago). The one parser of every ``--date`` and ``--since``.

    *today* is the current date in the configured time zone (the caller knows it). Raises
    InvalidDate (a ValueError and a UsageError) for anything else, including impossible dates
    like 2026-02-30 or 31.11.2026.
    """
    raw = " ".join(text.strip().lower().split())
    if raw in _RELATIVE:
        return today - timedelta(days=_RELATIVE[raw])
    try:
        if _DATE.fullmatch(raw):
            return date.fromisoformat(raw)
        if match := _GERMAN_DATE.fullmatch(raw):
            year = int(match["y"]) if match["y"] else today.year
            return date(year, int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise InvalidDate(f"invalid date {text!r}: {exc}") from None
    raise InvalidDate(f"invalid date {text!r}: use {DATE_FORMS}")
