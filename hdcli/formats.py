"""Numbers, money, durations, dates and times as a reader of a language expects them.

The one place where hdcli turns a figure into text for people: mail templates (as the Jinja
filters of :data:`FILTERS`), the service report in text, Markdown and PDF, the billing mail and
the ``list``/``show`` tables. German uses babel's ``de_DE`` conventions (``142,50 €``,
``1,5 Std.``, ``27.11.2026``, ``14:05 Uhr``); English keeps hdcli's English forms
(``142.50 EUR``, ``1h30m (1.5 h)``, ``2026-11-27``, ``14:05``). Machine formats (``--format
json|csv``, the JSON service report) never come here: they stay ISO with a decimal point.

babel is imported on the first German figure, never at start-up. Its non-breaking spaces are
written as plain spaces, so that what a customer reads is what a search for it finds.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

__all__ = [
    "FILTERS",
    "date_text",
    "datetime_text",
    "duration",
    "hours",
    "language_of",
    "money",
    "month_text",
    "number",
    "time_text",
]

_LOCALES = {"de": "de_DE", "en": "en_GB"}


def language_of(language: str | None) -> str:
    """``de`` or ``en``: anything else (an unknown or empty language) is German."""
    return language if language in _LOCALES else "de"


def _plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def number(value: Decimal | int | float, language: str, places: int | None = None) -> str:
    """A number: ``1,5`` in German, ``1.5`` in English (``places`` fixed, else at most two)."""
    value = Decimal(str(value))
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    if language_of(language) == "en":
        return f"{value:f}"
    from babel.numbers import format_decimal

    pattern = "#,##0." + "0" * places if places else "#,##0.##"
    return _plain(format_decimal(value, format=pattern, locale="de_DE"))


def money(value: Decimal, language: str, currency: str = "EUR") -> str:
    """An amount: ``142,50 €`` (``3.230,00 €``) in German, ``142.50 EUR`` in English."""
    from decimal import ROUND_HALF_UP

    cents = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if language_of(language) == "en":
        return f"{cents:f} {currency}"
    from babel.numbers import format_currency

    return _plain(format_currency(cents, currency, locale="de_DE"))


def hours(minutes: int, language: str) -> str:
    """Minutes as decimal hours: ``1,5 Std.`` in German, ``1.5 h`` in English."""
    from hdcli.durations import format_hours

    if language_of(language) == "en":
        return f"{format_hours(minutes)} h"
    value = (Decimal(minutes) / 60).quantize(Decimal("0.01"))
    return f"{number(value, 'de')} Std."


def duration(minutes: int, language: str) -> str:
    """A time worked: ``1,5 Std.`` in German, ``1h30m (1.5 h)`` in English."""
    from hdcli.durations import format_minutes

    if language_of(language) == "en":
        return f"{format_minutes(minutes)} ({hours(minutes, 'en')})"
    return hours(minutes, "de")


def date_text(value: date, language: str) -> str:
    """A day: ``27.11.2026`` in German, ``2026-11-27`` in English."""
    if isinstance(value, datetime):
        value = value.date()
    if language_of(language) == "en":
        return value.isoformat()
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


_MONTHS_DE = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]


def month_text(year: int, month: int, language: str) -> str:
    """A calendar month: ``Dezember 2026`` in German, ``2026-12`` in English."""
    if language_of(language) == "en":
        return f"{year:04d}-{month:02d}"
    return f"{_MONTHS_DE[month - 1]} {year:04d}"


def time_text(value: time | datetime, language: str) -> str:
    """A time of day: ``14:05 Uhr`` in German, ``14:05`` in English."""
    text = f"{value.hour:02d}:{value.minute:02d}"
    return text if language_of(language) == "en" else f"{text} Uhr"


def local(value: datetime | str, tz: tzinfo | None) -> datetime:
    """A stored timestamp (ISO text, ``Z`` for UTC) or datetime in the time zone ``tz``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(tz) if tz is not None else value


def datetime_text(
    value: datetime | str, language: str, tz: tzinfo | None = None, *, suffix: bool = True
) -> str:
    """A moment in ``tz``: ``27.11.2026 14:05 Uhr`` in German, ``2026-11-27 14:05`` in English
    (``suffix=False`` leaves out ``Uhr``, for table columns)."""
    moment = local(value, tz)
    clock = time_text(moment, language)
    if not suffix:
        clock = clock.removesuffix(" Uhr")
    return f"{date_text(moment, language)} {clock}"


def _filter(func: Any) -> Any:
    """A Jinja filter taking the template's ``language`` from its variables."""

    def apply(context: Any, value: Any) -> str:
        return str(func(value, str(context.get("language") or "de")))

    apply.__name__ = func.__name__
    return apply


def _as_date(value: Any, language: str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return date_text(value, language)


def _as_money(value: Any, language: str) -> str:
    return money(Decimal(str(value)), language)


def _as_hours(value: Any, language: str) -> str:
    return hours(int(value), language)


def _as_number(value: Any, language: str) -> str:
    return number(Decimal(str(value)), language)


def _as_datetime(value: Any, language: str) -> str:
    return datetime_text(value, language)


#: The template filters: ``{{ amount | money }}``, ``{{ minutes | hours }}``, ``{{ day | date }}``,
#: ``{{ stamp | datetime }}``, ``{{ value | number }}``, each in the template's language.
FILTERS: dict[str, Any] = {
    "money": _as_money,
    "hours": _as_hours,
    "date": _as_date,
    "datetime": _as_datetime,
    "number": _as_number,
}


def jinja_filters() -> dict[str, Any]:
    """:data:`FILTERS` as Jinja filters that read the template's ``language``."""
    from jinja2 import pass_context

    return {name: pass_context(_filter(func)) for name, func in FILTERS.items()}
