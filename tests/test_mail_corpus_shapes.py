"""tests/corpus: small messages in the shapes real clients and servers produce, each with
its expected reading in tests/corpus/INDEX.tsv; and hostile messages from hypothesis."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hdcli.mail.parse import MailParseError, ParsedMail, parse_message

CORPUS = Path(__file__).parent / "corpus"
ROWS = [
    line.split("\t")
    for line in (CORPUS / "INDEX.tsv").read_text("utf-8").splitlines()[1:]
    if line.strip()
]
_EXPECT = re.compile(r"(\w+)=(.*?)(?= \w+=|$)")


def test_index_lists_every_file() -> None:
    listed = {row[0] for row in ROWS}
    assert listed == {p.name for p in CORPUS.glob("*.eml")}


@pytest.mark.parametrize(("name", "shows", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_shape(name: str, shows: str, expected: str) -> None:
    parsed = parse_message((CORPUS / name).read_bytes())
    if expected.startswith("no sender: "):
        assert parsed.from_addr == ""
        assert parsed.sender_problem is not None
        assert expected.removeprefix("no sender: ") in parsed.sender_problem
        return
    assert parsed.sender_problem is None, parsed.sender_problem
    for key, value in _EXPECT.findall(expected):
        actual = {
            "from": parsed.from_addr,
            "source": parsed.sender_source,
            "subject": parsed.subject,
            "body": parsed.body_text,
            "message_id": parsed.message_id,
            "cc": str(len(parsed.cc)),
            "not_kept": str(sum(parsed.addresses_not_kept.values())),
        }[key]
        assert actual == value, (key, shows)


# ------------------------------------------------------------------ hostile messages

_NAMES = st.one_of(
    st.sampled_from(
        [
            "From",
            "To",
            "Cc",
            "Sender",
            "Reply-To",
            "Return-Path",
            "Subject",
            "Message-ID",
            "In-Reply-To",
            "References",
            "Date",
            "Content-Type",
            "Content-Transfer-Encoding",
            "Content-Disposition",
            "MIME-Version",
            "Auto-Submitted",
        ]
    ),
    st.text(
        st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
        min_size=1,
        max_size=12,
    ),
)
_VALUE_BITS = st.sampled_from(
    [
        b"a@x.example",
        b"<@x.example>",
        b'"Q, x" <q@x.example>',
        b"=?utf-8?B?PT91dGYtOD9RP2E9MEQ9MEFiPz0=?=",
        b"=?gb2312?B?tPLTobv6?=",
        b"=?x-bogus?Q?=FF?=",
        b'multipart/mixed; boundary="b"',
        b"text/plain; charset=undefined",
        b"text/plain; charset=idna",
        b"base64",
        b"quoted-printable",
        b"\xff\xfe\x80",
        b"\n ",
        b"\n",
        b"(comment",
        b"<",
        b",,,,",
        b'"',
        b"\\",
    ]
)
_VALUES = st.lists(st.one_of(_VALUE_BITS, st.binary(max_size=40)), max_size=6).map(b"".join)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"--b\nContent-Type: text/plain\n\nx\n--b--\n",
            b"--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n",
            b"--b\nContent-Type: message/rfc822\n\nFrom: @\n\n",
            b"=?utf-8?q?x?=\n",
        ]
    ),
)


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from([b"From x@y  Mon Jan  5", b"---- Original ----", b""])))
    for _ in range(draw(st.integers(0, 12))):
        lines.append(
            draw(_NAMES).encode() + draw(st.sampled_from([b": ", b":", b" : "])) + draw(_VALUES)
        )
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from([b"garbage line", b" ", b"\t", b"\r"])))
    if draw(st.integers(0, 9)) == 0:
        lines.append(b"Cc: " + b", ".join(b"u%d@x.example" % i for i in range(2000)))
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    return eol.join(lines) + eol + eol + draw(_BODIES)


def check(parsed: ParsedMail) -> None:
    assert isinstance(parsed.key, str) and parsed.key
    assert isinstance(parsed.from_addr, str) and isinstance(parsed.from_name, str)
    if parsed.from_addr:
        parsed.from_addr.encode("ascii")
        assert "@" in parsed.from_addr and not parsed.from_addr.startswith("@")
    else:
        assert parsed.sender_problem
    for text in (parsed.subject, parsed.from_name, *(parsed.sender_problem or "",)):
        assert isinstance(text, str)
        assert not re.search(r"[\x00-\x1f\x7f\x85\u2028\u2029]", text), repr(text)
    for mid in [parsed.message_id or "<x>", *parsed.in_reply_to, *parsed.references]:
        mid.encode("ascii")
    assert all(isinstance(a, str) for a in [*parsed.to, *parsed.cc])
    assert len(parsed.cc) <= 1000 and len(parsed.to) <= 1000
    assert parsed.date is None or isinstance(parsed.date, datetime)
    assert isinstance(parsed.body_text, str)
    assert parsed.body_html is None or isinstance(parsed.body_html, str)
    assert all(isinstance(d, str) and "\n" not in d for d in parsed.defects)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile())
def test_hostile_messages_raise_nothing_but_mail_parse_error(raw: bytes) -> None:
    try:
        parsed = parse_message(raw)
    except MailParseError as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    check(parsed)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1024, 4096), st.integers(1, 50), hostile())
def test_caps_of_any_size_keep_the_parse_sane(count: int, size: int, cap: int, raw: bytes) -> None:
    try:
        parsed = parse_message(
            raw, max_header_count=count, max_header_bytes=size, max_addresses=cap
        )
    except MailParseError:
        return
    check(parsed)
    assert len(parsed.cc) <= cap
