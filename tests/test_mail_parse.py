"""Parsing of inbound mail: hdcli.mail.parse, on messages built inside the tests."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdcli.mail.parse import (
    MailParseError,
    extract_msgids,
    normalise_msgid,
    parse_message,
    sanitize_filename,
)


def mail(*headers: str, body: str = "Hallo,\n\nder Drucker druckt nicht.\n") -> bytes:
    """A small LF message from header lines and a body."""
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8")


BASIC = (
    "From: =?iso-8859-1?Q?J=F6rg_M=FCller?= <Joerg.Mueller@Kunde.Example>",
    "To: Support <Support@Helpdesk.Example>, b@x.example",
    "Cc: c@x.example",
    "Subject: Drucker",
    "Date: Mon, 05 Jan 2026 10:00:00 +0100",
    "Message-ID: <abc@kunde.example>",
)


# ------------------------------------------------------------------ not a mail at all


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"  \r\n\n \n", "empty"),
        (b"\x00\x01\x02\xff\xfe binary \x00 junk\n\nmore", "not an RFC 5322"),
        (b"just a line of text without any header\n", "no headers"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "no headers"),
        (b"X-Whatever: 1\n\nonly an unknown header", "no mail headers"),
    ],
)
def test_input_that_is_not_a_mail_is_refused_with_a_reason(raw: bytes, words: str) -> None:
    with pytest.raises(MailParseError) as info:
        parse_message(raw)
    assert words in info.value.reason
    assert "\n" not in info.value.reason


def test_text_instead_of_bytes_is_refused() -> None:
    with pytest.raises(MailParseError, match="expected bytes"):
        parse_message("From: a@b.example\n\nhi")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_mail_parse_error(data: bytes) -> None:
    for raw in (data, b"From: a@b.example\nSubject: " + data):
        try:
            parsed = parse_message(raw)
        except MailParseError as exc:
            assert exc.reason
        else:
            assert "\n" not in parsed.subject
            assert parsed.key


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_header_text_never_leaks_line_breaks(text: str) -> None:
    raw = b"From: a@b.example\nSubject: =?utf-8?b?" + base64.b64encode(text.encode()) + b"?=\n\nx"
    parsed = parse_message(raw)
    assert "\n" not in parsed.subject and "\r" not in parsed.subject


# ------------------------------------------------------------------ headers


def test_basic_headers_are_decoded_and_addresses_lower_cased() -> None:
    parsed = parse_message(mail(*BASIC))
    assert parsed.key == parsed.message_id == "<abc@kunde.example>"
    assert parsed.from_addr == "joerg.mueller@kunde.example"
    assert parsed.from_name == "Jörg Müller"
    assert parsed.to == ["support@helpdesk.example", "b@x.example"]
    assert parsed.cc == ["c@x.example"]
    assert parsed.subject == "Drucker"
    assert parsed.date == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert parsed.body_text == "Hallo,\n\nder Drucker druckt nicht."
    assert parsed.body_html is None
    assert parsed.attachments == []


def test_display_name_with_comma_in_an_encoded_word_stays_one_address() -> None:
    parsed = parse_message(
        mail(
            "From: =?utf-8?Q?M=C3=BCller=2C_Hans?= <hans@x.example>", "To: a@x.example, b@x.example"
        )
    )
    assert parsed.from_name == "Müller, Hans"
    assert parsed.from_addr == "hans@x.example"
    assert parsed.to == ["a@x.example", "b@x.example"]


def test_subject_with_line_breaks_and_tabs_becomes_one_line() -> None:
    raw = mail(
        "From: a@x.example",
        "Subject: =?utf-8?Q?Zeile_1=0D=0ABcc:_evil@x.example?=\n\tund\t\tmehr",
    )
    assert parse_message(raw).subject == "Zeile 1 Bcc: evil@x.example und mehr"


def test_multibyte_character_split_across_encoded_words_is_joined() -> None:
    # "Ü" (C3 9C) split between two encoded words, as some senders do
    raw = mail("From: a@x.example", "Subject: =?utf-8?Q?Gr=C3?= =?utf-8?Q?=9C=C3=9Fe?= aus Köln")
    assert parse_message(raw).subject == "GrÜße aus Köln"


def test_raw_8bit_headers_in_utf8_and_latin1_are_readable() -> None:
    utf8 = b"From: J\xc3\xb6rg <j@x.example>\nSubject: Gr\xc3\xbc\xc3\x9fe\n\nx"
    latin1 = b"From: J\xf6rg <j@x.example>\nSubject: Gr\xfc\xdfe\n\nx"
    for raw in (utf8, latin1):
        parsed = parse_message(raw)
        assert parsed.subject == "Grüße"
        assert parsed.from_name == "Jörg"


def test_unknown_charset_falls_back_instead_of_failing() -> None:
    raw = (
        b"From: a@x.example\nSubject: =?x-klingon?Q?Stra=DFe?=\n"
        b"Content-Type: text/plain; charset=x-klingon\n\nStra\xdfe"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Straße"
    assert parsed.body_text == "Straße"


def test_missing_or_broken_date_is_none_and_naive_date_is_utc() -> None:
    assert parse_message(mail("From: a@x.example")).date is None
    assert parse_message(mail("From: a@x.example", "Date: yesterday-ish")).date is None
    minus0 = parse_message(mail("From: a@x.example", "Date: Mon, 05 Jan 2026 10:00:00 -0000"))
    assert minus0.date == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_threading_headers_are_normalised() -> None:
    parsed = parse_message(
        mail(
            "From: a@x.example",
            "In-Reply-To: <one@x.example> (sent by someone)",
            "References: <zero@x.example>\n <one@x.\n example>  <zero@x.example>",
        )
    )
    assert parsed.in_reply_to == ["<one@x.example>"]
    assert parsed.references == ["<zero@x.example>", "<one@x.example>"]


def test_msgid_helpers() -> None:
    assert normalise_msgid("  <a@b>  ") == "<a@b>"
    assert normalise_msgid("a@b") == "<a@b>"
    assert normalise_msgid("<>") is None
    assert normalise_msgid("") is None
    assert normalise_msgid(None) is None
    assert extract_msgids(None) == []
    assert extract_msgids("a@b, c@d") == ["<a@b>", "<c@d>"]
    assert extract_msgids("<a@b> <c@d> <a@b>") == ["<a@b>", "<c@d>"]


def test_loop_and_list_headers_are_kept_under_lower_case_names() -> None:
    parsed = parse_message(
        mail(
            "From: a@x.example",
            "Auto-Submitted: auto-replied",
            "X-Loop: helpdesk@x.example",
            "X-Hdcli-Loop: 1",
            "X-Custom-Loop: yes",
            "List-Id: <team.x.example>",
            "Return-Path: <>",
        ),
        loop_header="X-Custom-Loop",
    )
    assert parsed.headers["auto-submitted"] == "auto-replied"
    assert parsed.headers["x-loop"] == "helpdesk@x.example"
    assert parsed.headers["x-custom-loop"] == "yes"
    assert "x-hdcli-loop" not in parsed.headers  # not the configured loop header
    assert parsed.headers["list-id"] == "<team.x.example>"
    assert parsed.has_return_path is True
    assert parsed.return_path == ""


def test_return_path_absent_and_present() -> None:
    absent = parse_message(mail("From: a@x.example"))
    assert (absent.has_return_path, absent.return_path) == (False, None)
    present = parse_message(mail("Return-Path: <Bounce@X.example>", "From: a@x.example"))
    assert (present.has_return_path, present.return_path) == (True, "bounce@x.example")


# ------------------------------------------------------------------ idempotency key


def test_mail_without_message_id_gets_a_stable_content_hash_key() -> None:
    raw = mail("From: a@x.example", "Subject: no id")
    first, second = parse_message(raw), parse_message(raw)
    assert first.message_id is None
    assert first.key.startswith("sha256:") and len(first.key) == len("sha256:") + 64
    assert first.key == second.key
    # the same message read over IMAP (CRLF) and from an mbox file ("From " line) is the same
    assert parse_message(raw.replace(b"\n", b"\r\n")).key == first.key
    assert parse_message(b"From a@x.example  Mon Jan  5 10:00:00 2026\n" + raw).key == first.key
    other = parse_message(mail("From: a@x.example", "Subject: no id", body="other"))
    assert other.key != first.key


def test_empty_message_id_counts_as_missing() -> None:
    parsed = parse_message(mail("From: a@x.example", "Message-ID: "))
    assert parsed.message_id is None
    assert parsed.key.startswith("sha256:")


# ------------------------------------------------------------------ line endings


def test_bare_cr_line_endings_are_read_like_lf() -> None:
    lf = mail(*BASIC)
    parsed = parse_message(lf.replace(b"\n", b"\r"))
    assert parsed.subject == "Drucker"
    assert parsed.from_addr == "joerg.mueller@kunde.example"
    assert parsed.body_text == "Hallo,\n\nder Drucker druckt nicht."
    assert any("bare CR" in d for d in parsed.defects)


def test_crlf_body_has_lf_line_ends() -> None:
    parsed = parse_message(mail(*BASIC).replace(b"\n", b"\r\n"))
    assert parsed.body_text == "Hallo,\n\nder Drucker druckt nicht."


# ------------------------------------------------------------------ bodies

MULTIPART_HEAD = (
    "From: a@x.example",
    "Subject: m",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="BB"',
)


def multipart(*parts: str) -> bytes:
    body = "".join(f"--BB\n{p}\n" for p in parts) + "--BB--\n"
    return mail(*MULTIPART_HEAD, body=body)


def test_html_only_mail_gets_a_readable_text_body() -> None:
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><p>Sehr geehrte Damen &amp; Herren,</p>"
        "<p>der Server <b>steht</b>.<br>Bitte <a href='https://x.example/s'>hier</a> klicken."
        "<ul><li>eins</li><li>zwei</li></ul></body></html>"
    )
    parsed = parse_message(mail("From: a@x.example", "Content-Type: text/html", body=html))
    assert parsed.body_html == html
    text = parsed.body_text
    assert "Sehr geehrte Damen & Herren," in text
    assert "der Server steht.\nBitte hier <https://x.example/s> klicken." in text
    assert "- eins\n" in text and "- zwei" in text
    assert "alert" not in text and "color" not in text and "<" not in text.replace("<https", "")


def test_alternative_prefers_the_plain_part() -> None:
    raw = mail(
        "From: a@x.example",
        'Content-Type: multipart/alternative; boundary="AA"',
        body="--AA\nContent-Type: text/plain; charset=utf-8\n\nPlain Grüße\n"
        "--AA\nContent-Type: text/html\n\n<p>HTML</p>\n--AA--\n",
    )
    parsed = parse_message(raw)
    assert parsed.body_text == "Plain Grüße"
    assert parsed.body_html == "<p>HTML</p>"


def test_quoted_printable_latin1_body() -> None:
    raw = mail(
        "From: a@x.example",
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        body="Gr=FC=DFe aus M=FCnchen, 10 =80\n",
    )
    # iso-8859-1 is read as windows-1252, so a stray euro byte still shows as €
    assert parse_message(raw).body_text == "Grüße aus München, 10 €"


# ------------------------------------------------------------------ attachments


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def test_attachments_with_rfc2231_and_rfc2047_names() -> None:
    raw = multipart(
        "Content-Type: text/plain\n\nsiehe Anhang",
        "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\n\n"
        + b64(b"%PDF-1.4 one"),
        'Content-Type: text/plain; name="=?iso-8859-1?Q?Gr=FC=DFe.txt?="\n\nhallo',
    )
    parsed = parse_message(raw)
    assert parsed.body_text == "siehe Anhang"
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("Rechnung März.pdf", "application/pdf", b"%PDF-1.4 one"),
        ("Grüße.txt", "text/plain", b"hallo"),
    ]
    assert parsed.attachments[0].size == len(b"%PDF-1.4 one")


def test_hostile_attachment_names_are_sanitised() -> None:
    head = "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="
    raw = multipart(
        "Content-Type: text/plain\n\nx",
        head + '"../../etc/passwd"\n\nroot',
        head + '"=?utf-8?Q?evil=0D=0Aname.exe?="\n\nMZ',
        head + '"..\\\\..\\\\win.ini"\n\nx',
        head + '"../"\n\nx',
    )
    names = [a.filename for a in parse_message(raw).attachments]
    assert names == ["passwd", "evil name.exe", "win.ini", "attachment.bin"]


def test_attachment_over_the_size_cap_is_skipped_and_recorded() -> None:
    big = b"\x89PNG" + b"\x00" * 5000
    raw = multipart(
        "Content-Type: text/plain\n\nBild anbei",
        "Content-Type: image/png\nContent-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="screen.png"\n\n' + b64(big),
        'Content-Type: text/plain\nContent-Disposition: attachment; filename="small.txt"\n\nok',
    )
    parsed = parse_message(raw, max_attachment_size=1000)
    assert [a.filename for a in parsed.attachments] == ["small.txt"]
    assert parsed.skipped_attachments == [f"screen.png ({len(big)} bytes): over the size cap"]
    assert parsed.body_text == "Bild anbei"
    assert len(parse_message(raw).attachments) == 2


def test_forwarded_message_is_an_attachment_not_the_body() -> None:
    inner = "From: x@y.example\nSubject: original\nMessage-ID: <orig@y.example>\n\nOriginaltext\n"
    raw = multipart("Content-Type: text/plain\n\nFYI", "Content-Type: message/rfc822\n\n" + inner)
    parsed = parse_message(raw)
    assert parsed.body_text == "FYI"
    (att,) = parsed.attachments
    assert (att.filename, att.content_type) == ("forwarded.eml", "message/rfc822")
    assert b"Subject: original" in att.data and b"Originaltext" in att.data
    assert parsed.embedded_message_ids == ["<orig@y.example>"]


def test_multipart_without_boundary_does_not_fail() -> None:
    raw = mail("From: a@x.example", "Content-Type: multipart/mixed", body="text anyway\n")
    parsed = parse_message(raw)
    assert "text anyway" in parsed.body_text
    assert parsed.defects


# ------------------------------------------------------------------ sanitize_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Angebot.docx", "Angebot.docx"),
        ("a\r\nb.txt", "a b.txt"),
        ("\x00\x1bnull.txt", "__null.txt"),
        ("...hidden", "hidden"),
        ('what?*<>:"|.txt', "what_______.txt"),
        ("CON.txt", "_CON.txt"),
        ("", "attachment"),
        (None, "attachment"),
        ("../..", "attachment"),
        ("  ", "attachment"),
    ],
)
def test_sanitize_filename(name: str | None, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_filename_caps_length_and_keeps_the_extension() -> None:
    result = sanitize_filename("ä" * 400 + ".pdf")
    assert result.endswith("ä.pdf")
    assert len(result) <= 180


def test_sanitize_filename_uses_a_safe_fallback() -> None:
    assert sanitize_filename(None, "forwarded.eml") == "forwarded.eml"
    assert sanitize_filename("/", "../x/evil") == "evil"


def test_bodies_are_decoded_on_first_use_and_kept() -> None:
    raw = (
        b"From: Anna <anna@muster.example>\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n--b--\r\n"
    )
    mail = parse_message(raw)
    assert len(mail.text_parts) == 2  # nothing decoded yet: a rejected mail never is
    assert mail.body_text == "Grüße"
    assert mail.body_html == "<p>Grüße</p>"
    assert mail.text_parts == []  # decoded once, the parts are let go
    assert mail.body_text == "Grüße"


def test_attachment_names_lose_format_characters() -> None:
    assert sanitize_filename("\u202efdp.exe") == "fdp.exe"
    assert sanitize_filename("in\u200bvoice\u2066.pdf\u2069") == "invoice.pdf"
    assert sanitize_filename("\u200e\u200f\ufeff") == "attachment"
    assert sanitize_filename("../\u202e/etc/passwd") == "passwd"


def _big(data: bytes, *, cte: str = "base64", message_id: bool = True) -> bytes:
    """A CRLF mail with one attachment of ``data`` and a short text."""
    head = (
        "From: anna@kunde.example\r\nTo: support@helpdesk.example\r\nSubject: Logs\r\n"
        + ("Message-ID: <big@kunde.example>\r\n" if message_id else "")
        + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="bb"\r\n\r\n'
        "--bb\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Logs.\r\n"
        "--bb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        f'filename="logs.tar"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode()
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return head + body + b"--bb--\r\n"


def test_a_big_attachment_costs_its_decoded_size_and_no_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random
    import tracemalloc

    from hdcli.mail import parse

    data = random.Random(1).randbytes(4 * 1024 * 1024)
    raw = _big(data)
    tracemalloc.start()
    try:
        mail = parse_message(raw, max_attachment_size=len(raw))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(a.filename, a.data == data) for a in mail.attachments] == [("logs.tar", True)]
    assert mail.body_text == "Anbei die Logs."
    # the decoded bytes and a little: no LF copy, no str of the body, no list of its lines
    assert peak < len(data) + 1024 * 1024, peak
    # the same mail parsed without lifting, and as LF: the same result and key
    plain = _big(data, message_id=False)
    key = parse_message(plain, max_attachment_size=len(raw)).key
    assert parse_message(plain.replace(b"\r\n", b"\n"), max_attachment_size=len(raw)).key == key
    monkeypatch.setattr(parse, "LIFT_MIN_BYTES", 1 << 40)
    unlifted = parse_message(plain, max_attachment_size=len(raw))
    assert unlifted.key == key and unlifted.attachments[0].data == data


def test_a_big_base64_looking_body_that_is_not_base64_is_kept_as_sent() -> None:
    data = bytes(range(256)) * 2048
    text_lines = base64.encodebytes(data)
    mail = parse_message(_big(data, cte="7bit"), max_attachment_size=10 * len(text_lines))
    # the lines as sent, not decoded (the line end before the boundary belongs to it)
    assert mail.attachments[0].data == text_lines[:-1]
    # a sender who writes a lifting token gets it back as text
    forged = _big(data).replace(b"Anbei die Logs.", b"hdcli-lifted-0000000000000000-0")
    assert parse_message(forged, max_attachment_size=len(forged)).body_text == (
        "hdcli-lifted-0000000000000000-0"
    )
