"""Mail as real clients and servers write it: senders, broken header blocks, charsets,
double encoding, huge headers. hdcli.mail.parse must read a person's mail out of all of it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from hdcli.mail import parse
from hdcli.mail.parse import (
    MailParseError,
    decode_bytes,
    extract_msgids,
    normalise_msgid,
    parse_message,
    usable_address,
)


def mail(*headers: str, body: str = "Der Drucker druckt nicht.\n") -> bytes:
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8")


# ------------------------------------------------------------------ 1. senders


@pytest.mark.parametrize(
    ("headers", "source"),
    [
        (("Sender: Anna <anna@muster.example>", "Reply-To: x@other.example"), "sender"),
        (("Reply-To: Anna <anna@muster.example>",), "reply-to"),
        (("Return-Path: <anna@muster.example>",), "return-path"),
    ],
)
def test_without_from_the_sender_comes_from_the_next_header(
    headers: tuple[str, ...], source: str
) -> None:
    parsed = parse_message(mail(*headers, "To: helpdesk@x.example", "Subject: s"))
    assert parsed.from_addr == "anna@muster.example"
    assert parsed.sender_source == source
    assert parsed.sender_problem is None


def test_without_from_the_mbox_from_line_is_the_sender() -> None:
    raw = b"From anna@muster.example  Mon Jan  5 10:00:00 2026\n" + mail("Subject: s")
    parsed = parse_message(raw)
    assert (parsed.from_addr, parsed.sender_source) == ("anna@muster.example", "mbox")
    assert parsed.subject == "s"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("@kunde.example", "empty local part"),
        ("<@kunde.example>", "empty local part"),
        ('"" <@kunde.example>', "empty local part"),
        ("Anna <anna@>", "without a domain"),
        ("anna", "without a domain"),
        ("anna@kunde_example!", "not a host name"),
    ],
)
def test_unusable_from_is_no_sender_and_says_why(value: str, words: str) -> None:
    parsed = parse_message(mail(f"From: {value}", "Subject: s"))
    assert parsed.from_addr == ""
    assert parsed.sender_problem is not None
    assert parsed.sender_problem.startswith("no usable sender: ")
    assert words in parsed.sender_problem
    assert "kunde" not in parsed.sender_problem  # no address in a result line
    assert "\n" not in parsed.sender_problem


def test_raw_8bit_local_part_is_no_sender() -> None:
    for raw in (
        b"From: J\xc3\xb6rg <j\xc3\xb6rg@kunde.example>\nSubject: s\n\nx",
        b"From: j\xf6rg@kunde.example\nSubject: s\n\nx",
    ):
        parsed = parse_message(raw)
        assert parsed.from_addr == ""
        assert parsed.sender_problem is not None and "8-bit" in parsed.sender_problem


def test_unusable_from_falls_back_to_a_usable_sender() -> None:
    parsed = parse_message(mail("From: @kunde.example", "Sender: anna@kunde.example"))
    assert parsed.from_addr == "anna@kunde.example"
    assert parsed.sender_source == "sender"


def test_internationalised_domain_is_written_in_idna() -> None:
    parsed = parse_message(mail("From: Anna <anna@müller.example>"))
    assert parsed.from_addr == "anna@xn--mller-kva.example"
    assert usable_address("a@b.example") == ("a@b.example", None)


def test_mailer_daemon_without_domain_is_still_recognised_as_a_bounce() -> None:
    from hdcli.mail.classify import classify

    parsed = parse_message(mail("From: MAILER-DAEMON", "Subject: hello", "Return-Path: <>"))
    assert parsed.from_addr == ""
    assert parsed.from_raw == "mailer-daemon"
    assert classify(parsed).kind == "bounce"


def test_ingest_names_the_sender_problem_in_the_result(hd: Any) -> None:
    hd.seed()
    raw = mail("From: <@muster.example>", "To: helpdesk@x.example", "Subject: Drucker")
    proc = hd("mail", "ingest", "-", "--format", "jsonl", input=raw)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[0])
    assert result["outcome"] == "rejected"
    assert result["reason"].startswith("no usable sender: the From header has an address")
    assert hd.mails() == []


# ------------------------------------------------------------------ 2. header blocks


@pytest.mark.parametrize(
    "lead",
    [
        b"---- Original message ----\n",
        b"-----Urspr\xfcngliche Nachricht-----\n",
        b"\n",
        b"From anna@muster.example Mon Jan  5 10:00:00 2026\n>From nobody\n",
    ],
)
def test_lines_before_the_header_block_are_skipped(lead: bytes) -> None:
    raw = lead + mail("From: anna@muster.example", "Subject: Drucker", "To: h@x.example")
    parsed = parse_message(raw)
    assert parsed.from_addr == "anna@muster.example"
    assert parsed.subject == "Drucker"
    assert parsed.to == ["h@x.example"]
    assert parsed.body_text == "Der Drucker druckt nicht."


@pytest.mark.parametrize(
    "bad",
    [
        "this line is no header",
        "=?utf-8?q?broken?=",
        " ",
        "\t",
        " \x0c",
    ],
)
def test_a_malformed_or_empty_looking_line_does_not_end_the_header_block(bad: str) -> None:
    raw = mail("From: anna@muster.example", bad, "Subject: Drucker", "To: h@x.example")
    parsed = parse_message(raw)
    assert parsed.subject == "Drucker"
    assert parsed.to == ["h@x.example"]
    assert parsed.body_text == "Der Drucker druckt nicht."
    assert "no header" not in parsed.body_text


def test_blank_before_the_colon_is_read_as_a_header() -> None:
    parsed = parse_message(mail("From : anna@muster.example", "Subject : Drucker"))
    assert parsed.from_addr == "anna@muster.example"
    assert parsed.subject == "Drucker"


def test_body_without_blank_line_stays_the_body() -> None:
    raw = b"From: anna@muster.example\nSubject: s\nHallo,\nder Drucker.\n"
    parsed = parse_message(raw)
    assert parsed.subject == "s"
    assert "der Drucker" in parsed.body_text


def test_text_that_is_no_mail_is_still_refused() -> None:
    with pytest.raises(MailParseError, match="no headers"):
        parse_message(b"line one\nline two\nline three\nline four\n")


# ------------------------------------------------------------------ 3. charsets


def test_raw_8bit_headers_are_read_in_the_declared_body_charset() -> None:
    subject = "Принтер не печатает".encode("koi8-r")
    raw = (
        b"From: a@x.example\nSubject: " + subject + b"\n"
        b"Content-Type: text/plain; charset=koi8-r\n\n" + "Привет".encode("koi8-r")
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Принтер не печатает"
    assert parsed.body_text == "Привет"


def test_raw_8bit_headers_without_a_charset_are_detected_not_latin1() -> None:
    raw = b"From: a@x.example\nSubject: " + "プリンターが動きません".encode("shift_jis") + b"\n\nx"
    assert parse_message(raw).subject == "プリンターが動きません"


def test_gb2312_label_reads_gbk_characters() -> None:
    text = "打印机坏了，請幫忙"  # traditional characters are not in GB2312
    word = base64.b64encode(text.encode("gbk")).decode()
    raw = (
        f"From: a@x.example\nSubject: =?gb2312?B?{word}?=\n"
        "Content-Type: text/plain; charset=gb2312\n\n"
    ).encode() + text.encode("gb18030")
    parsed = parse_message(raw)
    assert parsed.subject == text
    assert parsed.body_text == text


def test_iso_2022_jp_and_shift_jis() -> None:
    text = "番の部屋、①"  # ① is a NEC extension of Shift_JIS (cp932)
    jis = base64.b64encode("番の部屋".encode("iso2022_jp")).decode()
    raw = (
        f"From: a@x.example\nSubject: =?ISO-2022-JP?B?{jis}?=\n"
        "Content-Type: text/plain; charset=shift_jis\n\n"
    ).encode() + text.encode("cp932")
    parsed = parse_message(raw)
    assert parsed.subject == "番の部屋"
    assert parsed.body_text == text
    # Shift_JIS bytes labelled ISO-2022-JP
    assert decode_bytes(text.encode("cp932"), "iso-2022-jp") == text


def test_utf7() -> None:
    word = "Gr+APwA3w-e"  # "Grüße" in UTF-7
    raw = f"From: a@x.example\nSubject: =?utf-7?Q?{word}?=\n".encode()
    raw += b"Content-Type: text/plain; charset=unicode-1-1-utf-7\n\n" + word.encode()
    parsed = parse_message(raw)
    assert parsed.subject == "Grüße"
    assert parsed.body_text == "Grüße"


@pytest.mark.parametrize("label", ["punycode", "idna", "undefined", "x-foo-bar", "rot13"])
def test_non_text_and_unknown_labels_decode_readable_text(label: str) -> None:
    raw = (
        f"From: a@x.example\nSubject: =?{label}?Q?Gr=C3=BC=C3=9Fe?=\n"
        f"Content-Type: text/plain; charset={label}\n\n"
    ).encode() + "Grüße aus Köln".encode()
    parsed = parse_message(raw)
    assert parsed.subject == "Grüße"
    assert parsed.body_text == "Grüße aus Köln"


def test_non_ascii_message_ids_become_ascii_and_stay_stable() -> None:
    raw = (
        b"From: a@x.example\nMessage-ID: <m\xc3\xa4il 1@h\xf6st>\n"
        b"In-Reply-To: <\xe4@x>\nReferences: <a@b> <\xe4@x>\n\nx"
    )
    parsed = parse_message(raw)
    assert parsed.message_id == "<m%C3%A4il1@h%F6st>"
    assert parsed.in_reply_to == ["<%E4@x>"]
    assert parsed.references == ["<a@b>", "<%E4@x>"]
    for mid in [parsed.message_id, *parsed.references]:
        mid.encode("ascii")
    assert normalise_msgid("<ä@x>") == "<%C3%A4@x>"
    assert extract_msgids("<ä@x>") == ["<%C3%A4@x>"]


def test_non_ascii_message_id_goes_out_in_a_reply_header() -> None:
    from email.message import EmailMessage

    parsed = parse_message(b"From: a@x.example\nMessage-ID: <\xe4\xf6@x>\n\nx")
    out = EmailMessage()
    assert parsed.message_id is not None
    out["In-Reply-To"] = parsed.message_id
    out.as_bytes().decode("ascii")


# ------------------------------------------------------------------ 4. double encoding


def test_double_encoded_subject_hiding_line_breaks_is_one_line() -> None:
    inner = "=?utf-8?Q?Zeile_1=0D=0ABcc:_evil@x.example?="
    outer = "=?utf-8?B?" + base64.b64encode(inner.encode()).decode() + "?="
    parsed = parse_message(mail("From: a@x.example", f"Subject: {outer}"))
    assert parsed.subject == "Zeile 1 Bcc: evil@x.example"
    triple = "=?utf-8?B?" + base64.b64encode(outer.encode()).decode() + "?="
    assert parse_message(mail("From: a@x.example", f"Subject: {triple}")).subject == (
        "Zeile 1 Bcc: evil@x.example"
    )


def test_double_encoded_subject_passes_the_outbound_header_check() -> None:
    inner = "=?utf-8?Q?a=0Db=0Ac=C2=85d=E2=80=A8e?="
    outer = "=?utf-8?B?" + base64.b64encode(inner.encode()).decode() + "?="
    subject = parse_message(mail("From: a@x.example", f"Subject: {outer}")).subject
    assert subject == "a b c d e"


# ------------------------------------------------------------------ 5. linear time, caps


def cc_mail(n: int) -> bytes:
    cc = ", ".join(f"User {i} <u{i}@x.example>" for i in range(n))
    return f"From: a@x.example\nTo: b@x.example\nCc: {cc}\nSubject: hi\n\nbody\n".encode()


def test_cc_beyond_the_cap_is_counted_not_kept() -> None:
    parsed = parse_message(cc_mail(3000), max_addresses=1000)
    assert len(parsed.cc) == 1000
    assert parsed.cc[0] == "u0@x.example" and parsed.cc[-1] == "u999@x.example"
    assert parsed.addresses_not_kept == {"cc": 2000}
    assert any("2000 Cc address(es) beyond 1000" in d for d in parsed.defects)


def test_address_work_is_bounded_by_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = parse._addresses

    def counting(values: list[str]) -> list[tuple[str, str]]:
        calls.append(sum(len(v) for v in values))
        return real(values)

    monkeypatch.setattr(parse, "_addresses", counting)
    parse_message(cc_mail(10_000))
    small = sum(calls)
    calls.clear()
    parse_message(cc_mail(100_000))
    assert sum(calls) == small  # the addresses beyond the cap are never parsed


def test_100000_cc_parse_in_linear_time() -> None:
    small, big = cc_mail(10_000), cc_mail(100_000)
    assert len(big) > 1_800_000
    start = time.perf_counter()
    parse_message(small)
    t_small = time.perf_counter() - start
    start = time.perf_counter()
    parsed = parse_message(big)
    t_big = time.perf_counter() - start
    assert parsed.addresses_not_kept == {"cc": 99_000}
    # linear: ten times the input, about ten times the time (quadratic would be 100 times)
    assert t_big < 30 * t_small + 1.0, (t_small, t_big)


def test_header_count_cap_drops_the_rest_but_keeps_what_hdcli_reads() -> None:
    junk = [f"X-Junk-{i}: {i}" for i in range(50)]
    raw = mail(*junk, "From: anna@muster.example", "Subject: Drucker", "X-After: 1")
    parsed = parse_message(raw, max_header_count=10)
    assert parsed.from_addr == "anna@muster.example"
    assert parsed.subject == "Drucker"
    (cap,) = [d for d in parsed.defects if d.startswith("header cap:")]
    assert "41 header field(s)" in cap


def test_header_bytes_cap() -> None:
    junk = [f"X-Junk-{i}: {'x' * 1000}" for i in range(100)]
    raw = mail(*junk, "From: anna@muster.example", "Subject: Drucker")
    parsed = parse_message(raw, max_header_bytes=10_000)
    assert parsed.subject == "Drucker"
    assert any(d.startswith("header cap:") for d in parsed.defects)


def test_many_header_fields_parse_in_linear_time() -> None:
    def many(n: int) -> bytes:
        return mail("From: a@x.example", *(f"Received: by h{i}" for i in range(n)))

    start = time.perf_counter()
    parse_message(many(2_000))
    t_small = time.perf_counter() - start
    start = time.perf_counter()
    parsed = parse_message(many(20_000))
    t_big = time.perf_counter() - start
    assert any(d.startswith("header cap:") for d in parsed.defects)
    assert t_big < 30 * t_small + 1.0, (t_small, t_big)


def part_flood_mail(n: int) -> bytes:
    """A multipart mail whose first part has ``n`` header fields before its Content-Type,
    and a PDF attachment after it."""
    flood = "".join(f"X-Flood-{i}: {i}\n" for i in range(n))
    pdf = base64.b64encode(b"%PDF-1.4 Bericht").decode()
    return (
        "From: anna@muster.example\nSubject: Drucker\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="bb"\n\n'
        f"--bb\n{flood}Content-Type: text/plain; charset=utf-8\n\nDer Drucker streikt.\n"
        "--bb\nContent-Type: application/pdf\n"
        'Content-Disposition: attachment; filename="bericht.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{pdf}\n--bb--\n"
    ).encode()


def test_a_mime_part_with_100000_header_fields_is_capped_and_keeps_its_type() -> None:
    parsed = parse_message(part_flood_mail(100_000), max_header_count=1000)
    (cap,) = [d for d in parsed.defects if "of MIME parts" in d]
    assert cap.startswith("header cap: 99000 header field(s)")
    # the part's own Content-Type came after the flood and still counts: text, not attachment
    assert parsed.body_text == "Der Drucker streikt."
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ("bericht.pdf", b"%PDF-1.4 Bericht")
    ]


def test_part_header_work_is_bounded_by_the_cap() -> None:
    """Linear, by counting: what the parts keep does not grow with the flood, so every later
    look-up on a part (the stdlib's get() walks all of its fields) costs the same."""

    def kept_fields(n: int) -> int:
        walker = parse._Walker(parse.DEFAULT_MAX_ATTACHMENT_SIZE, 1000, 4 * 1024 * 1024)
        from email.parser import BytesParser

        msg = BytesParser().parsebytes(part_flood_mail(n))
        walker.walk(msg)
        return sum(len(p._headers) for p in msg.walk())

    assert kept_fields(10_000) == kept_fields(100_000) <= 2 * 1000 + 10


def test_the_header_caps_are_configuration(hd: Any) -> None:
    from test_ingest import ingest

    hd.seed()
    hd.ok("config", "set", "mail.max_header_count", "20")
    junk = "".join(f"X-Junk-{i}: {i}\n" for i in range(50))
    raw = (
        "From: Anna Schmidt <anna.schmidt@muster.example>\nTo: helpdesk@smartwork.example\n"
        f"Message-ID: <caps@muster.example>\n{junk}Subject: Drucker\n\nDer Drucker streikt.\n"
    ).encode()
    result = ingest(hd, raw)
    assert result["outcome"] == "new"
    assert "header cap: " in result["reason"] and "beyond 20 fields" in result["reason"]
    assert hd("config", "set", "mail.max_header_count", "0").returncode == 2
    from hdcli.config_schema import SCHEMA

    assert SCHEMA["mail.max_header_count"].default == parse.DEFAULT_MAX_HEADER_COUNT
    assert SCHEMA["mail.max_header_bytes"].default == parse.DEFAULT_MAX_HEADER_BYTES
