"""Durations and dates as typed on the command line."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdcli.durations import (
    InvalidDate,
    InvalidDuration,
    format_hours,
    format_minutes,
    parse_date,
    parse_duration,
)
from hdcli.errors import UsageError


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90m", 90),
        ("90 min", 90),
        ("1h30m", 90),
        ("1h 30m", 90),
        ("1H30M", 90),
        ("1h30", 90),
        ("1:30", 90),
        ("0:05", 5),
        ("1.5h", 90),
        ("1,5h", 90),
        ("1,5 h", 90),
        ("2h", 120),
        ("45", 45),
        ("  45  ", 45),
        ("0.25h", 15),
        ("1.33h", 80),  # 79.8 minutes round to 80
        ("0.01h", 1),
        ("1.5m", 2),  # fractional minutes round half up  # 0.6 minutes round up to 1
        ("10:00", 600),
        ("1,5 Std", 90),
        ("1,5 Std.", 90),
        ("1,5 Stunden", 90),
        ("1 Stunde", 60),
        ("90 Min.", 90),
        ("1 Std. 30 Min.", 90),
    ],
)
def test_accepted_forms(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    "text",
    [
        "1.5",  # a bare decimal is ambiguous (minutes or hours?): refused
        "1,5",
        "",
        "0",
        "0m",
        "0h",
        "0:00",
        "-5",
        "-1h",
        "1h70m",
        "1:70",
        "1:5",
        "abc",
        "1x",
        "1.5.5h",
        "h",
        "m",
        "1h-30m",
        "0.001h",
        "1 h 30 m 10s",
        "99999999m",
        "Std",
        "1,5 Std..",
        "1,5 Stundenlang",
    ],
)
def test_rejected_forms_say_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidDuration) as info:
        parse_duration(text)
    message = str(info.value)
    assert "1h30m" in message and "1,5h" in message
    # The CLI maps it to exit code 2; callers that only know ValueError catch it too.
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


def test_too_many_minutes_after_hours_is_named() -> None:
    with pytest.raises(ValueError, match="below 60"):
        parse_duration("1h70m")


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(90, "1h30m"), (45, "45m"), (120, "2h"), (0, "0m"), (61, "1h1m"), (600, "10h")],
)
def test_format_minutes(minutes: int, text: str) -> None:
    assert format_minutes(minutes) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (90, "1.5"),
        (80, "1.33"),
        (120, "2"),
        (0, "0"),
        (1, "0.02"),
        (50, "0.83"),
        (15, "0.25"),
        (10, "0.17"),
        (6, "0.1"),
    ],
)
def test_format_hours(minutes: int, text: str) -> None:
    assert format_hours(minutes) == text


def test_format_minutes_refuses_negative() -> None:
    with pytest.raises(ValueError):
        format_minutes(-1)


@given(st.integers(min_value=1, max_value=100_000))
def test_formatted_minutes_parse_back(minutes: int) -> None:
    assert parse_duration(format_minutes(minutes)) == minutes


@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=0, max_value=59))
def test_clock_and_hm_forms_agree(hours: int, minutes: int) -> None:
    expected = hours * 60 + minutes
    assert parse_duration(f"{hours}:{minutes:02d}") == expected
    assert parse_duration(f"{hours}h{minutes}m") == expected
    assert parse_duration(f"{hours}h {minutes}m") == expected


TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-14", date(2026, 2, 14)),
        ("today", TODAY),
        ("Today", TODAY),
        ("yesterday", date(2026, 2, 28)),
        ("heute", TODAY),
        ("gestern", date(2026, 2, 28)),
        ("14.02.2026", date(2026, 2, 14)),
        ("1.2.", date(2026, 2, 1)),
        ("01.12.2025", date(2025, 12, 1)),
        ("letzte Woche", date(2026, 2, 22)),
        ("last  week", date(2026, 2, 22)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text", ["2026-02-30", "30.02.2026", "14.13.", "14.02", "tomorrow", "", "2026-2-14"]
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(InvalidDate) as info:
        parse_date(text, TODAY)
    assert isinstance(info.value, ValueError)
    assert info.value.exit_code == 2
