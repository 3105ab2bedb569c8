"""Outbound MIME: the plain-text mail written directly equals the one EmailMessage builds.

``hdcli.mail.outbound.compose`` writes a plain-text mail itself when no plugin prepares it
(``render_plain``) and has the stdlib build it otherwise (``build_message``). Here every
generated mail is composed both ways, with the same Message-ID and Date, and both results
are read back with the stdlib's modern parser: the headers, the addresses and the body text
must be the same, and an input one way refuses must be refused the other way too. Both ways
write the header fields ``header_fields`` encodes, so the decoded values are also checked
against what was given: the stdlib is the reader here, not the writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdcli import hookimpl
from hdcli.config import Config
from hdcli.context import Context
from hdcli.errors import Refused
from hdcli.mail import outbound

FIXED_NOW = datetime(2026, 11, 27, 9, 30, 5, tzinfo=UTC)


class _PassThrough:
    """A prepare_outbound plugin that changes nothing: its presence sends compose down the
    EmailMessage path."""

    @hookimpl
    def prepare_outbound(self, message: EmailMessage, context: dict[str, Any]) -> None:
        return None


@contextmanager
def library_path() -> Iterator[None]:
    from hdcli.plugins import load_plugins, pm

    load_plugins()
    name = "test-outbound-mime-pass-through"
    pm.register(_PassThrough(), name)
    try:
        yield
    finally:
        pm.unregister(name=name)


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _FixedDatetime:
        return cls.fromtimestamp(FIXED_NOW.timestamp(), tz)


def make_ctx(tmp: Path, from_name: str, from_address: str, domain: str = "") -> Context:
    """A context whose sender settings are set after loading: the writers must stay safe
    even for values the configuration's checks would refuse (a plugin may pass anything)."""
    env = {"HDCLI_STORAGE__URL": f"sqlite:///{tmp / 'unused.db'}"}
    config = Config.load(tmp / "absent.toml", env=env)
    config._values.update(
        {"mail.from_name": from_name, "mail.from_address": from_address, "mail.domain": domain}
    )
    return Context(config, "mmueller")


def compose_both(ctx: Context, **kwargs: Any) -> tuple[bytes | Exception, bytes | Exception]:
    """compose() on the direct path and on the EmailMessage path, same Message-ID and Date;
    each result is the bytes or the exception raised."""
    results: list[bytes | Exception] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(outbound, "datetime", _FixedDatetime)
        mp.setattr(outbound, "make_message_id", lambda domain: f"<20261127093005.1a2b@{domain}>")
        for slow in (False, True):
            try:
                if slow:
                    with library_path():
                        _, raw = outbound.compose(ctx, **kwargs)
                else:
                    _, raw = outbound.compose(ctx, **kwargs)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(raw)
    return results[0], results[1]


ADDRESS_HEADERS = ("from", "to", "reply-to")


def read_back(raw: bytes) -> dict[str, Any]:
    """What a reader gets from the mail: decoded headers, addresses, content type, body."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    headers: dict[str, list[str]] = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
    addresses = {
        h: [(a.display_name, a.addr_spec) for a in msg[h].addresses]
        for h in ADDRESS_HEADERS
        if h in msg
    }
    headers.pop("content-type", None)  # compared through its parts below
    part = msg.get_body(("plain",))
    assert part is not None
    return {
        "headers": headers,
        "addresses": addresses,
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "defects": [type(d).__name__ for d in msg.defects],
        "body": part.get_content(),
    }


def display_name(raw: bytes, header: str) -> str:
    """The display name of the one address in ``header``, decoded as RFC 2047 6.2 says:
    without the blanks between adjacent encoded words. (The modern parser keeps them in
    display names before gh-128110, so a name the stdlib split into several words would come
    back with spaces it does not have.)"""
    from email.header import decode_header, make_header
    from email.utils import getaddresses

    value = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)[header]
    [(name, _)] = getaddresses([str(value)])
    return str(make_header(decode_header(name)))


def longest_line(raw: bytes) -> int:
    return max(len(line) for line in raw.split(b"\n"))


def assert_same_mail(fast: bytes | Exception, slow: bytes | Exception) -> dict[str, Any] | None:
    if isinstance(fast, Exception) or isinstance(slow, Exception):
        assert type(fast) is type(slow), (fast, slow)
        return None
    assert fast.isascii()
    assert slow.isascii()
    # RFC 5322 2.1.1: at most 998 characters a line; never longer than the stdlib writes
    assert longest_line(fast) <= max(998, longest_line(slow))
    mine, theirs = read_back(fast), read_back(slow)
    assert mine == theirs
    return mine


# ------------------------------------------------------------------ strategies

_PIECES = st.sampled_from(
    [
        "Drucker",
        " druckt nicht",
        "Müller",
        "Jörg",
        "Grüße",
        "ÄÖÜäöüß",
        "😀",
        "🖨️",
        "中文",
        "日本語のテキスト",
        "한국어",
        "Ελληνικά",
        "עברית",
        "€",
        "–",
        "„Zitat“",
        "J.",
        ".",
        ",",
        ";",
        ":",
        "@",
        "<",
        ">",
        "(",
        ")",
        "[",
        "]",
        '"',
        "\\",
        "'",
        "=",
        "?",
        "_",
        "=?",
        "?=",
        "=?utf-8?q?x=2C_y?=",
        "  ",
        " ",
        "\t",
        "\r",
        "\n",
        "\r\n",
        "\r\nBcc: evil@attacker.example",
        "\x00",
        "\x0b",
        "\x0c",
        "\x1b[31m",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
        "\u200b",
        "\ufeff",
        "From ",
        "Re: ",
        "AW: ",
        "[Ticket#2026112710000127] ",
    ]
)
_CHUNK = st.one_of(_PIECES, st.text(max_size=6), st.text(st.characters(max_codepoint=0x7F)))


# Whole values that went wrong one way or the other, or nearly did.
_AWKWARD = st.sampled_from(
    [
        ".",
        ".x",
        "J.",
        "J. Smith",
        "Smith, J.",
        "Dr. Jörg Müller",
        "ü <evil@attacker.example>",
        "Müller (IT)",
        'Jörg "Jockel" Müller',
        'a"b\\c',
        "=?utf-8?q?x=2C_y?=",
        "=?utf-8?q?x?=",
        "Re: =?utf-8?q?Drucker?= kaputt",
        "Anna  Schmidt",
        "Drucker\u2028kaputt",
        "x\r\nBcc: evil@attacker.example",
        "Universitätsklinikum Hamburg-Eppendorf, Zentrale IT-Dienste",
        "株式会社サンプル　情報システム部　ヘルプデスク担当",
    ]
)


@st.composite
def texts(draw: st.DrawFn, max_pieces: int = 10) -> str:
    if draw(st.integers(0, 2)) == 0:
        return draw(_AWKWARD)
    text = "".join(draw(st.lists(_CHUNK, max_size=max_pieces)))
    if draw(st.integers(0, 7)) == 0:  # now and then about as long as a header line may be
        piece, shortest, longest = draw(st.sampled_from(_LONG_RUNS))
        text += (piece * longest)[: draw(st.integers(shortest, longest))]
    return text


# Runs that make a header line of about 998 characters, written directly or encoded.
_LONG_RUNS = [("x", 900, 1050), ("ab ", 900, 1050), ("Wort ", 900, 1050)]
_LONG_RUNS += [("ü", 330, 400), ("😀", 170, 200), ("中", 220, 260)]


_LOCAL = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/?^_`{|}~-]{1,10}(\.[A-Za-z0-9_-]{1,6})?", fullmatch=True
)
_DOMAIN = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,4})?\.[a-z]{2,6}", fullmatch=True)
ADDRESSES = st.builds("{}@{}".format, _LOCAL, _DOMAIN)
MSGIDS = st.one_of(
    st.builds("<{}@{}>".format, _LOCAL, _DOMAIN),
    st.sampled_from(["<ä@kunde.example>", "<a b@x.example>", "no-brackets@x.example", "<>", " "]),
)

_BODY_PIECES = st.sampled_from(
    [
        "Hallo Frau Schmidt,\n",
        "\n",
        "\r\n",
        "\r",
        "From here on\n",
        "From ",
        ".\n",
        ". not the end\n",
        "..\n",
        "trailing spaces   \n",
        "trailing tab\t\n",
        " \n",
        "\t",
        "=\n",
        "=3D",
        "=?utf-8?q?x?=",
        "a=b\n",
        "Grüße aus Köln 😀 中文\n",
        "\x00\x0b\x0c\x1b[0m\x7f",
        "\x85\u2028\u2029",
        "x" * 1100,
        "ü" * 600,
        "Wort " * 220,
        "-- \n",
    ]
)
BODIES = st.lists(st.one_of(_BODY_PIECES, st.text(max_size=20)), max_size=10).map("".join)


def expected_body(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def compose_kwargs(**changes: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "kind": "reply",
        "to_name": "Anna Schmidt",
        "to_addr": "anna.schmidt@muster.example",
        "subject": "[Ticket#2026112710000127] Drucker druckt nicht",
        "body": "Hallo Frau Schmidt,\n\nder Drucker geht wieder.\n",
        "automatic": False,
    }
    kwargs.update(changes)
    return kwargs


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbound-mime")


# ------------------------------------------------------------------ the properties


@settings(max_examples=60, deadline=None)
@given(
    from_name=texts(4),
    from_address=ADDRESSES,
    to_name=texts(),
    to_addr=ADDRESSES,
    subject=texts(),
    automatic=st.booleans(),
    ticket_number=st.one_of(st.none(), st.from_regex(r"20[0-9]{14}", fullmatch=True)),
    in_reply_to=st.one_of(st.none(), MSGIDS),
    references=st.lists(MSGIDS, max_size=12),
    reply_to=st.one_of(
        st.none(),
        ADDRESSES,
        st.builds("Abrechnung <{}>".format, ADDRESSES),
        st.just("Büro <buero@x.example>"),
    ),
)
def test_headers_are_the_same_both_ways(
    tmp: Path,
    from_name: str,
    from_address: str,
    to_name: str,
    to_addr: str,
    subject: str,
    automatic: bool,
    ticket_number: str | None,
    in_reply_to: str | None,
    references: list[str],
    reply_to: str | None,
) -> None:
    ctx = make_ctx(tmp, from_name, from_address)
    fast, slow = compose_both(
        ctx,
        **compose_kwargs(
            to_name=to_name,
            to_addr=to_addr,
            subject=subject,
            automatic=automatic,
            ticket_number=ticket_number,
            in_reply_to=in_reply_to,
            references=references,
            reply_to=reply_to,
        ),
    )
    seen = assert_same_mail(fast, slow)
    assert seen is not None
    headers = seen["headers"]
    assert "bcc" not in headers
    assert headers["date"] == ["Fri, 27 Nov 2026 09:30:05 +0000"]
    assert headers["message-id"] == [f"<20261127093005.1a2b@{from_address.rpartition('@')[2]}>"]
    assert headers.get("auto-submitted", []) == (["auto-replied"] if automatic else [])
    assert headers["x-hdcli-loop"] == [from_address]
    assert headers.get("x-hdcli-ticket", []) == ([ticket_number] if ticket_number else [])
    assert [a for _, a in seen["addresses"]["from"]] == [from_address]
    assert [a for _, a in seen["addresses"]["to"]] == [to_addr]
    # no value reads back with a line break in it
    for values in headers.values():
        assert not any(c in value for value in values for c in "\r\n\x85\u2028\u2029")
    # and what both give is what was asked for (a run of blanks in a display name written
    # as atoms reads as one blank: RFC 5322 3.2.2)
    raw = fast if isinstance(fast, bytes) else b""
    [read] = headers["subject"]
    if re.search(rb"(?m)^Subject:\r?\n ", raw):
        # a word too long for the first line goes on the next: unfolded, the value begins
        # with the folding blank (RFC 5322 2.2.3), which the stdlib reader keeps
        read = read.removeprefix(" ")
    assert read == outbound.one_line(subject)
    for given_name, header in ((from_name, "from"), (to_name, "to")):
        want = outbound.one_line(given_name)
        [(got, _)] = seen["addresses"][header]
        if len(want.encode()) + want.count('"') + want.count("\\") > 600 or "\xa0" in want:
            # it may not fit on one line: several encoded words; and the modern parser reads
            # a blank before a no-break space as one blank (" \xa0" as " "), which the
            # encoded word does not say
            got = display_name(raw, header)
        assert got in (want, re.sub(" +", " ", want))


@settings(max_examples=60, deadline=None)
@given(body=BODIES, subject=st.sampled_from(["Drucker", "Grüße aus Köln", "x" * 1000]))
def test_bodies_are_the_same_both_ways(tmp: Path, body: str, subject: str) -> None:
    ctx = make_ctx(tmp, "Smartwork Helpdesk", "helpdesk@smartwork.example")
    fast, slow = compose_both(ctx, **compose_kwargs(body=body, subject=subject))
    seen = assert_same_mail(fast, slow)
    assert seen is not None
    assert seen["body"] == expected_body(body)
    assert (seen["content_type"], seen["charset"]) == ("text/plain", "utf-8")


def both_ways(tmp: Path, **changes: Any) -> dict[str, Any]:
    ctx = make_ctx(tmp, "Smartwork Helpdesk", "helpdesk@smartwork.example")
    fast, slow = compose_both(ctx, **compose_kwargs(**changes))
    seen = assert_same_mail(fast, slow)
    assert seen is not None
    return seen


_EW_LIKE = st.builds(
    "{}=?{}?{}?{}?={}".format,
    st.sampled_from(["", "Re: ", "ü ", "x", "[Ticket#2026112710000127] "]),
    st.sampled_from(["utf-8", "iso-8859-1", "x-unknown"]),
    st.sampled_from(["q", "Q", "b", "B"]),
    st.sampled_from(["x", "x=2C_y", "evil=40attacker.example=3E", "w7w=", "", "=?"]),
    st.sampled_from(["", " kaputt", "ü", "?=", ", Hans"]),
)
SHORT_TEXTS = st.lists(st.one_of(_PIECES, _EW_LIKE), min_size=1, max_size=8).map("".join)


@settings(max_examples=60, deadline=None)
@given(name=SHORT_TEXTS, subject=st.one_of(_EW_LIKE, SHORT_TEXTS))
def test_names_and_subjects_come_back_as_they_were(tmp: Path, name: str, subject: str) -> None:
    seen = both_ways(tmp, to_name=name, subject=subject)
    assert seen["headers"]["subject"] == [outbound.one_line(subject)]
    want = outbound.one_line(name)
    [(got, address)] = seen["addresses"]["to"]
    assert got in (want, re.sub(" +", " ", want))
    assert address == "anna.schmidt@muster.example"


# ------------------------------------------------------------------ cases found on the way


def test_a_line_separator_in_a_subject_is_folded_like_a_line_break(tmp: Path) -> None:
    # EmailMessage refuses a header value holding U+2028 (ValueError): closing a ticket
    # whose subject had one failed when its service report was built
    for separator in ("\u2028", "\u2029", "\x85"):
        seen = both_ways(tmp, subject=f"Drucker{separator}kaputt", to_name=f"Anna{separator}S.")
        assert seen["headers"]["subject"] == ["Drucker kaputt"]
        assert seen["addresses"]["to"] == [("Anna S.", "anna.schmidt@muster.example")]


def test_a_message_id_that_is_not_ascii_is_left_out(tmp: Path) -> None:
    # the direct writer raised UnicodeEncodeError on a reply to a mail with an 8-bit
    # Message-ID; EmailMessage sent it as an encoded word that no reader matches
    seen = both_ways(
        tmp, in_reply_to="<ä@kunde.example>", references=["<a@x.example>", "<ä@kunde.example>"]
    )
    assert "in-reply-to" not in seen["headers"]
    assert seen["headers"]["references"] == ["<a@x.example>"]


@pytest.mark.parametrize(
    "name",
    [
        "ü <evil@attacker.example>",
        "Müller, Hans",
        'Jörg "Jockel" Müller',
        "Müller (IT)",
        "=?utf-8?q?evil=40attacker.example=2C?=",
        "=?utf-8?q?x?=",
        ".",
        "J. Smith",
        "Smith, J.",
        'a"b\\c',
    ],
)
def test_a_display_name_is_one_name_of_one_address(tmp: Path, name: str) -> None:
    # gh-121284: EmailMessage wrote the encoded name "ü <evil@attacker.example>" back as
    # "=?utf-8?q?=C3=BC?= <evil@attacker.example> <anna…>" and decoded a name that looks
    # like an encoded word; the direct writer left "." and "J." unquoted, which the stdlib
    # parser cannot read (AttributeError)
    seen = both_ways(tmp, to_name=name)
    assert seen["addresses"]["to"] == [(name, "anna.schmidt@muster.example")]


def test_a_header_too_long_for_one_line_is_folded_both_ways(tmp: Path) -> None:
    subject = "Drucker " * 200
    seen = both_ways(tmp, subject=subject)
    assert seen["headers"]["subject"] == [subject.strip()]


def test_line_breaks_in_values_never_make_a_header(tmp: Path) -> None:
    seen = both_ways(
        tmp,
        to_name="Anna\r\nBcc: evil@attacker.example",
        to_addr="anna.schmidt@muster.example\nBcc: evil@attacker.example",
        subject="Hallo\r\nBcc: evil@attacker.example\r\n\r\nbody",
        in_reply_to="<a@x.example>\r\nBcc: evil@attacker.example",
        references=["<b@x.example>\nBcc: evil@attacker.example"],
        reply_to="billing@smartwork.example\nBcc: evil@attacker.example",
    )
    assert "bcc" not in seen["headers"]
    assert seen["headers"]["subject"] == ["Hallo Bcc: evil@attacker.example body"]


def test_what_one_way_refuses_the_other_refuses_too(tmp: Path) -> None:
    ctx = make_ctx(tmp, "Smartwork Helpdesk", "helpdesk@smartwork.example")
    for changes in ({"to_addr": "jörg@kunde.example"}, {"to_addr": " \r\n"}):
        fast, slow = compose_both(ctx, **compose_kwargs(**changes))
        assert isinstance(fast, Refused) and isinstance(slow, Refused)
    idn = make_ctx(tmp, "Helpdesk", "helpdesk@smartwork.example", domain="müller.example")
    fast, slow = compose_both(idn, **compose_kwargs())
    assert type(fast) is type(slow) is UnicodeEncodeError


def _words_by_character(text: str) -> list[bytes]:
    """The rule the encoder follows, spelled out one character at a time: as many whole
    characters as fit in 45 bytes, then the next word."""
    words: list[bytes] = []
    chunk = b""
    for ch in text:
        enc = ch.encode("utf-8")
        if len(chunk) + len(enc) > 45:
            words.append(chunk)
            chunk = b""
        chunk += enc
    if chunk:
        words.append(chunk)
    return words


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_encoded_words_hold_whole_characters_of_at_most_45_bytes(text: str) -> None:
    import base64

    encoded = outbound._encoded_words(text)
    words = [
        base64.b64decode(w.removeprefix("=?utf-8?b?").removesuffix("?="))
        for w in encoded.split("\n ")
    ]
    assert words == _words_by_character(text)
    assert b"".join(words).decode("utf-8") == text
    assert all(w.decode("utf-8") and len(w) <= 45 for w in words)
