"""Ticket numbers: pluggable formats and how numbers are found in subjects.

``date_checksum`` (default, Znuny's well-known scheme): ``YYYYMMDD`` + two-digit system id +
a per-day counter of at least five digits + one check digit, so a stray number-like string in a
subject fails its check digit. ``increment``: system id + a counter of at least five digits.
Numbers of every registered format stay recognised when the configured format changes.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Protocol

from hdcli.repo import counters as counter_repo


class NumberFormat(Protocol):
    """What a ticket-number format provides."""

    name: str

    def allocate(self, store: Any, n: int, today: date, system_id: str) -> list[str]:
        """Reserve ``n`` new numbers (atomically, through :func:`hdcli.repo.counters.reserve`
        or ``store.next_value``)."""
        ...

    def valid(self, number: str) -> bool:
        """True when ``number`` could have been made by this format (check digit included)."""
        ...


def check_digit(digits: str) -> int:
    """Znuny's DateChecksum check digit: weights 1,2,1,2… summed, 10 - sum % 10, 10 → 1."""
    total = sum(map(int, digits[::2])) + 2 * sum(map(int, digits[1::2]))
    digit = 10 - total % 10
    return 1 if digit == 10 else digit


class DateChecksum:
    name = "date_checksum"

    def allocate(self, store: Any, n: int, today: date, system_id: str) -> list[str]:
        day = today.strftime("%Y%m%d")
        out = []
        for count in counter_repo.reserve(store, f"ticket:{day}:{system_id}", n):
            base = f"{day}{system_id}{count:05d}"
            out.append(f"{base}{check_digit(base)}")
        return out

    def valid(self, number: str) -> bool:
        if len(number) < 16 or not number.isdigit():
            return False
        try:
            date(int(number[0:4]), int(number[4:6]), int(number[6:8]))
        except ValueError:
            return False
        return check_digit(number[:-1]) == int(number[-1])


class Increment:
    name = "increment"

    def allocate(self, store: Any, n: int, today: date, system_id: str) -> list[str]:
        return [
            f"{system_id}{count:05d}"
            for count in counter_repo.reserve(store, "ticket:increment", n)
        ]

    def valid(self, number: str) -> bool:
        return number.isdigit() and len(number) >= 7


def number_format(name: str) -> NumberFormat:
    from hdcli.plugins import number_formats

    target = number_formats.get(name)
    fmt: NumberFormat = target() if isinstance(target, type) else target
    return fmt


def all_formats() -> list[NumberFormat]:
    from hdcli.plugins import number_formats

    return [number_format(n) for n in number_formats.names()]


def subject_tag(hook: str, number: str) -> str:
    """The subject marker of a ticket, e.g. ``[Ticket#2026112710000127]``."""
    return f"[{hook}{number}]"


def _hook_pattern(hooks: list[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(h) for h in sorted(set(hooks), key=len, reverse=True) if h)
    return re.compile(rf"\[?\s*(?:{alts})\s*:?\s*(\d{{5,24}})\s*\]?", re.IGNORECASE)


def find_numbers(subject: str, hooks: list[str], formats: list[NumberFormat]) -> list[str]:
    """Every ticket number in ``subject`` behind one of the ``hooks`` that some format accepts."""
    found = []
    for m in _hook_pattern(hooks).finditer(subject):
        number = m.group(1)
        if any(f.valid(number) for f in formats) and number not in found:
            found.append(number)
    return found


def strip_numbers(subject: str, hooks: list[str]) -> str:
    """The subject without ticket markers (for a new ticket made from a closed one's reply)."""
    cleaned = _hook_pattern(hooks).sub(" ", subject)
    return re.sub(r"\s{2,}", " ", cleaned).strip()


_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|wg|fw|fwd|sv|vs|antw|antwort|tr|rif|r|ynt|odp|vl|doorst)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE,
)


def strip_prefixes(subject: str) -> str:
    """The subject without reply/forward prefixes (``Re:``, ``AW:``, ``WG:``, ``Fwd:`` … nested)."""
    return _PREFIX.sub("", subject).strip()


# A ticket tag of any system: ``[Ticket#2026…]``, ``[RT #4711]``, ``[Case#00123]``.
_FOREIGN_TAG = re.compile(r"^\s*\[\s*[A-Za-z][\w .-]{0,30}?\s*#\s*:?\s*\d{3,24}\s*\]\s*")


def new_subject(subject: str, hooks: list[str]) -> str:
    """The subject of a ticket opened from a mail: without leading reply/forward prefixes and
    ticket tags, ours or another system's, however they nest
    (``[Ticket#…] AW: [Ticket#…] Bildschirm flackert`` → ``Bildschirm flackert``). Our own
    tags are taken out anywhere in the subject; a subject that is nothing else stays as it
    was."""
    text = strip_numbers(subject, hooks)
    while True:
        shorter = _FOREIGN_TAG.sub("", strip_prefixes(text))
        if shorter == text:
            break
        text = shorter
    return text.strip() or subject.strip()
