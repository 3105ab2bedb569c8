"""Ticket numbers: the date_checksum and increment formats, and finding numbers in subjects."""

from __future__ import annotations

from datetime import date

import pytest

from hdcli.numbers import (
    DateChecksum,
    Increment,
    check_digit,
    find_numbers,
    strip_numbers,
    strip_prefixes,
)


class FakeCounterStore:
    """A counter with the storage interface's semantics (the real stores are tested elsewhere)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def next_value(self, counter: str, n: int = 1, start: int = 0) -> int:
        self.values[counter] = self.values.get(counter, start) + n
        return self.values[counter]


def test_date_checksum_numbers_are_16_digits_and_valid() -> None:
    fmt = DateChecksum()
    numbers = fmt.allocate(FakeCounterStore(), 3, date(2026, 11, 27), "10")
    assert numbers[0].startswith("2026112710000")
    assert all(len(n) == 16 and fmt.valid(n) for n in numbers)
    assert len(set(numbers)) == 3


def test_a_wrong_check_digit_is_rejected() -> None:
    fmt = DateChecksum()
    number = fmt.allocate(FakeCounterStore(), 1, date(2026, 11, 27), "10")[0]
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not fmt.valid(wrong)
    assert not fmt.valid("2026133110000011")  # no such date


def test_znuny_check_digit() -> None:
    # weights 1,2,1,2…: 2026112710 00001 -> sum 2+0+2+12+1+2+2+14+1+0+0+0+0+0+1 = 37 -> 10-7 = 3
    assert check_digit("202611271000001") == 3


def test_increment_format() -> None:
    fmt = Increment()
    store = FakeCounterStore()
    assert fmt.allocate(store, 2, date(2026, 1, 1), "10") == ["1000001", "1000002"]
    assert fmt.valid("1000002")


@pytest.mark.parametrize(
    "subject",
    [
        "AW: WG: [Ticket#{n}] Drucker",
        "re: RE: Aw: [Ticket#{n}] Drucker",
        "Fwd: SV: Antw: [ticket#{n}] Drucker",
        "WG: Ticket#{n} Drucker",
        "Drucker [Ticket# {n}]",
    ],
)
def test_numbers_are_found_behind_any_prefix(subject: str) -> None:
    fmt = DateChecksum()
    number = fmt.allocate(FakeCounterStore(), 1, date(2026, 11, 27), "10")[0]
    assert find_numbers(subject.format(n=number), ["Ticket#"], [fmt]) == [number]


def test_stray_numbers_and_former_hooks() -> None:
    fmt = DateChecksum()
    number = fmt.allocate(FakeCounterStore(), 1, date(2026, 11, 27), "10")[0]
    assert find_numbers(f"Rechnung {number}", ["Ticket#"], [fmt]) == []
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert find_numbers(f"AW: [Ticket#{wrong}] Drucker", ["Ticket#"], [fmt]) == []
    assert find_numbers(f"[Anfrage#{number}]", ["Ticket#", "Anfrage#"], [fmt]) == [number]
    assert strip_numbers(f"Re: [Ticket#{number}] Drucker", ["Ticket#"]) == "Re: Drucker"
    assert strip_prefixes("AW: WG: re: Fwd: Drucker") == "Drucker"
