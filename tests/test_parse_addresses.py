"""Inbound addresses: the regular-expression reading of common address headers equals
``email.utils.getaddresses``.

``hdcli.mail.parse`` reads ``Name <a@b>``, ``"Name" <a@b>`` and ``a@b`` (also folded) with
one regular expression and leaves every other shape to ``getaddresses``. Here generated
header values (quoted names with commas and escapes, comments, encoded words, groups, folded
lines, addresses without angle brackets, empty values, raw 8-bit names) are read both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.utils import getaddresses

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from hdcli.mail import parse
from hdcli.mail.parse import parse_message


def raw_value(header_value: bytes) -> str:
    """The value as the ingest parser hands it to ``_addresses``: compat32's raw string
    (folds kept, 8-bit bytes surrogate-escaped)."""
    data, _ = parse._normalise_eol(b"To: " + header_value + b"\n\nx")
    msg = BytesParser().parsebytes(data)
    [(_, value)] = msg.raw_items()
    return value


@contextmanager
def getaddresses_only() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse, "_simple_address", lambda value: None)
        yield


# ------------------------------------------------------------------ strategies

_ATEXT = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"
_ATOMS = st.text(alphabet=_ATEXT, min_size=1, max_size=8)
_DOMAINS = st.lists(
    st.text(alphabet="abcxyz0189-", min_size=1, max_size=8), min_size=1, max_size=3
).map(".".join)
_LOCALS = st.lists(_ATOMS, min_size=1, max_size=3).map(".".join)
_GOOD_ADDR_SPECS = st.builds("{}@{}".format, _LOCALS, _DOMAINS)
ADDR_SPECS = st.one_of(
    _GOOD_ADDR_SPECS,
    _GOOD_ADDR_SPECS,
    _GOOD_ADDR_SPECS,
    st.sampled_from(
        [
            "anna.schmidt@muster.example",
            '"quoted local"@x.example',
            "a@[192.0.2.1]",
            "a@b.",
            "a..b@x.example",
            ".a@x.example",
            "a@",
            "@x.example",
            "no-at-sign",
            "a@b@c.example",
            "",
        ]
    ),
)

_SPECIAL_WORDS = st.sampled_from(
    ["(", ")", "(IT", "IT)", ",", ";", ":", "[x]", "@", "<", ">", '"', "\\", "a;b", "x,y"]
)
_NAME_WORDS = st.one_of(
    st.text(alphabet=_ATEXT + "äöüßÄ€😀中", min_size=1, max_size=8),
    st.sampled_from(
        [
            "Anna",
            "Schmidt",
            "J.",
            ".",
            "Dr.",
            "Müller",
            "O'Brien",
            "=?utf-8?q?J=C3=B6rg?=",
            "=?utf-8?Q?M=C3=BCller=2C_Hans?=",
            "=?iso-8859-1?q?J=F6rg?=",
            "=?utf-8?b?SsO2cmc=?=",
            "=?utf-8?q?broken",
            "\x01",
            "\x7f",
            "\u00a0",
            "\u2028",
        ]
    ),
    _SPECIAL_WORDS,
    _SPECIAL_WORDS,
)
_GAPS = st.sampled_from([" "] * 8 + ["  ", "\t", " \t", "\n ", "\n ", "\n\t", "\r\n "])


@st.composite
def phrases(draw: st.DrawFn) -> str:
    words = draw(st.lists(_NAME_WORDS, min_size=1, max_size=4))
    out = words[0]
    for word in words[1:]:
        out += draw(_GAPS) + word
    return out


_QUOTED_INNER = st.lists(
    st.one_of(
        _NAME_WORDS,
        st.sampled_from([" ", ",", ", ", "<", ">", "@", "(", ")", ";", ":", "\t"]),
        st.sampled_from(['\\"', "\\\\", "\\", "\\x"]),  # quoted pairs
        st.sampled_from(["\n ", "\n\t"]),
    ),
    max_size=5,
).map("".join)
QUOTED = _QUOTED_INNER.map('"{}"'.format)
COMMENTS = st.builds("({})".format, _QUOTED_INNER.filter(lambda t: "(" not in t and ")" not in t))


_BEFORE_ANGLE = st.sampled_from([" ", " ", "", "  ", "\t", "\n "])


@st.composite
def mailboxes(draw: st.DrawFn) -> str:
    addr = draw(ADDR_SPECS)
    before, after = draw(st.just("") | st.just("") | _GAPS), draw(st.just("") | _GAPS)
    shape = draw(st.sampled_from([0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 4, 5, 6]))
    if shape == 0:  # a@b
        box = addr
    elif shape == 1:  # <a@b>
        box = f"<{addr}>"
    elif shape == 2:  # Name <a@b>
        box = f"{draw(phrases())}{draw(_BEFORE_ANGLE)}<{addr}>"
    elif shape == 3:  # "Name" <a@b>
        box = f"{draw(QUOTED)}{draw(_BEFORE_ANGLE)}<{addr}>"
    elif shape == 4:  # a@b (Name)
        box = f"{addr} {draw(COMMENTS)}"
    elif shape == 5:  # Name (comment) <a@b>, or a comment anywhere
        box = f"{draw(phrases())} {draw(COMMENTS)} <{addr}>"
    else:  # route address or an unbalanced leftover
        box = draw(st.sampled_from([f"<@relay.example:{addr}>", f'"open <{addr}>', f"<{addr}"]))
    return before + box + after


@st.composite
def near_common(draw: st.DrawFn) -> str:
    """A common shape with at most one thing out of place: where a reading that is almost
    right would show."""
    name = " ".join(draw(st.lists(_SIMPLE_WORDS, min_size=1, max_size=3)))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(name)))
        name = name[:at] + draw(_OUT_OF_PLACE) + name[at:]
    addr = draw(_GOOD_ADDR_SPECS)
    if draw(st.booleans()):
        return f'"{name}" <{addr}>'
    return f"{name} <{addr}>"


_SIMPLE_WORDS = st.text(alphabet=_ATEXT + "äöüß.", min_size=1, max_size=6)
_OUT_OF_PLACE = st.sampled_from(
    [*"()<>@,;:[]\\\".'", "  ", "\t", "\n ", "\n\t", "\u00a0", "=?", "\\\\", '\\"']
)


@st.composite
def header_values(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 7))
    if kind >= 6:
        return draw(near_common())
    if kind == 0:
        return draw(st.sampled_from(["", " ", "\t", "undisclosed-recipients:;", ",", "<>"]))
    if kind == 1:  # a group
        members = draw(st.lists(mailboxes(), max_size=2))
        return f"{draw(phrases())}: {', '.join(members)};"
    if kind == 2:  # a list, maybe with empty elements
        boxes = draw(st.lists(st.one_of(mailboxes(), st.just("")), min_size=2, max_size=4))
        return draw(st.sampled_from([",", ", ", ",\n "])).join(boxes)
    return draw(mailboxes())


def header_bytes(value: str, eight_bit: str) -> bytes:
    """The value as bytes on the wire: UTF-8, or raw latin-1 where it can be."""
    if eight_bit == "latin-1":
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return value.encode("utf-8")


# ------------------------------------------------------------------ the properties


@settings(max_examples=1000, deadline=None)
@given(value=header_values(), eight_bit=st.sampled_from(["utf-8", "latin-1"]))
@example(value='"Müller, Hans" <hans@x.example>', eight_bit="utf-8")
@example(value="Anna  Schmidt <a@x.example>", eight_bit="utf-8")
@example(value="Anna\n\tSchmidt <a@x.example>", eight_bit="utf-8")
@example(value='"Anna\n Schmidt" <a@x.example>', eight_bit="utf-8")
@example(value='"a\\"b" <a@x.example>', eight_bit="utf-8")
@example(value="J. Smith <a@x.example>", eight_bit="utf-8")
@example(value="Jörg <a@x.example>", eight_bit="latin-1")
@example(value="a@x.example (Anna)", eight_bit="utf-8")
@example(value="undisclosed-recipients:;", eight_bit="utf-8")
@example(value="An;na <a@x.example>", eight_bit="utf-8")
@example(value="Anna (IT <a@x.example>", eight_bit="utf-8")
@example(value='"a\\\\b" <a@x.example>', eight_bit="utf-8")
def test_the_fast_reading_is_getaddresses_or_declines(value: str, eight_bit: str) -> None:
    text = parse._unsurrogate(raw_value(header_bytes(value, eight_bit)))
    fast = parse._simple_address(text)
    event("read by the regular expression" if fast is not None else "left to getaddresses")
    if fast is None:
        return  # getaddresses reads it
    assert getaddresses([text]) == [fast]


@settings(max_examples=150, deadline=None)
@given(
    author=header_values(),
    sender=st.one_of(st.none(), header_values()),
    to=st.lists(header_values(), min_size=1, max_size=2),
    cc=st.lists(header_values(), max_size=2),
    return_path=st.one_of(st.none(), st.sampled_from(["<>", "<Bounce@X.example>"]), mailboxes()),
    eight_bit=st.sampled_from(["utf-8", "latin-1"]),
)
def test_parsed_addresses_are_the_same_without_the_fast_reading(
    author: str,
    sender: str | None,
    to: list[str],
    cc: list[str],
    return_path: str | None,
    eight_bit: str,
) -> None:
    lines = [b"From: " + header_bytes(author, eight_bit)]
    if sender is not None:  # read when From gives no address
        lines.append(b"Sender: " + header_bytes(sender, eight_bit))
    lines += [b"To: " + header_bytes(v, eight_bit) for v in to]
    lines += [b"Cc: " + header_bytes(v, eight_bit) for v in cc]
    if return_path is not None:
        lines.append(b"Return-Path: " + header_bytes(return_path, eight_bit))
    raw = b"\n".join(lines) + b"\nSubject: x\n\nHallo\n"
    fields = ("from_name", "from_addr", "to", "cc", "has_return_path", "return_path")
    parsed = parse_message(raw)
    with getaddresses_only():
        reference = parse_message(raw)
    assert [getattr(parsed, f) for f in fields] == [getattr(reference, f) for f in fields]


def test_common_shapes_take_the_fast_reading() -> None:
    for value, pair in [
        ("Anna Schmidt <anna@x.example>", ("Anna Schmidt", "anna@x.example")),
        ('"Schmidt, Anna" <anna@x.example>', ("Schmidt, Anna", "anna@x.example")),
        ("anna@x.example", ("", "anna@x.example")),
        ("=?utf-8?q?J=C3=B6rg?= <j@x.example>", ("=?utf-8?q?J=C3=B6rg?=", "j@x.example")),
        ("Anna\n Schmidt <anna@x.example>", ("Anna Schmidt", "anna@x.example")),
    ]:
        assert parse._simple_address(value) == pair
    for value in ["a@x.example (Anna)", "Team: a@x.example;", "a@x.example, b@x.example", ""]:
        assert parse._simple_address(value) is None


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("anna.schmidt@muster.example", True),
        ("root@localhost", True),
        ("anna.schmidt@muster.example\n", False),  # a line break would end a header line
        ("root@localhost\n", False),
        ("anna@muster.example\r\nBcc: x@evil.example", False),
        ("Anna <anna@muster.example>", False),
        ("anna@muster", False),
    ],
)
def test_a_valid_address_is_the_whole_string(address: str, valid: bool) -> None:
    from hdcli.util import valid_email

    assert valid_email(address) is valid
