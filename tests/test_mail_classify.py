"""Loop protection: hdcli.mail.classify on messages built inside the tests."""

from __future__ import annotations

import pytest

from hdcli.mail.classify import Classification, classify
from hdcli.mail.parse import parse_message

CUSTOMER = (
    "Return-Path: <kunde@firma.example>",
    "From: Erika Muster <kunde@firma.example>",
    "To: support@helpdesk.example",
    "Message-ID: <m1@firma.example>",
    "Date: Mon, 05 Jan 2026 10:00:00 +0100",
)


def build(*headers: str, subject: str = "Drucker druckt nicht", body: str = "Hilfe!\n") -> bytes:
    lines = [*headers]
    if not any(h.lower().startswith("subject:") for h in headers):
        lines.append(f"Subject: {subject}")
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def classify_raw(raw: bytes, **kwargs: object) -> Classification:
    return classify(parse_message(raw), raw, **kwargs)  # type: ignore[arg-type]


def customer(*extra: str, subject: str = "Drucker druckt nicht") -> Classification:
    return classify_raw(build(*CUSTOMER, *extra, subject=subject))


@pytest.mark.parametrize(
    "subject",
    [
        "Drucker druckt nicht",
        "AW: WG: [Ticket#2026010510000017] Drucker druckt nicht",
        "Re: Undeliverable mail from our printer",  # a reply about a bounce is a person
        "Frage zur Abwesenheit im Urlaubsplan",
        "Delivery of new laptops",
    ],
)
def test_a_person_writing_is_normal(subject: str) -> None:
    result = customer(subject=subject)
    assert result == Classification("normal", "", [])
    assert result.automatic is False


def test_auto_submitted_no_is_normal() -> None:
    assert customer("Auto-Submitted: no").kind == "normal"
    assert customer("Precedence: first-class").kind == "normal"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: JUNK", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("X-Autoreply: yes", "X-Autoreply header"),
        ("X-Autorespond: Abwesend", "X-Autorespond header"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
    ],
)
def test_automatic_headers_make_an_auto_reply(header: str, reason: str) -> None:
    result = customer(header)
    assert (result.kind, result.reason) == ("auto_reply", reason)
    assert result.automatic


def test_empty_return_path_is_automatic() -> None:
    raw = build("Return-Path: <>", *CUSTOMER[1:])
    result = classify_raw(raw)
    assert result.automatic
    assert result.reason == "empty Return-Path <>"


def test_x_loop_is_a_loop() -> None:
    result = customer("X-Loop: helpdesk@firma.example")
    assert (result.kind, result.reason) == ("loop", "X-Loop: helpdesk@firma.example")


def test_our_own_loop_header_is_a_loop_and_wins_over_everything() -> None:
    raw = build(*CUSTOMER, "X-hdcli-Loop: helpdesk", "Auto-Submitted: auto-replied")
    assert classify_raw(raw) == Classification("loop", "own loop header X-hdcli-Loop", [])
    custom = build(*CUSTOMER, "X-Acme-Helpdesk: 1")
    parsed = parse_message(custom, loop_header="X-Acme-Helpdesk")
    assert classify(parsed, loop_header="X-Acme-Helpdesk").kind == "loop"
    # a different installation's header is not ours
    assert classify(parse_message(custom)).kind == "normal"


def test_mail_from_one_of_our_own_addresses_is_a_loop() -> None:
    raw = build(
        "From: Helpdesk <Support@Helpdesk.Example>", "To: kunde@firma.example", "Message-ID: <x@h>"
    )
    result = classify_raw(raw, own_addresses=["support@helpdesk.example"])
    assert (result.kind, result.reason) == (
        "loop",
        "sent from our own address support@helpdesk.example",
    )
    assert classify_raw(raw).kind == "normal"


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mx.firma.example", "postmaster@firma.example", "Mailer-Daemon@googlemail.com"],
)
def test_mailer_daemon_and_postmaster_are_bounces(sender: str) -> None:
    raw = build(f"From: Mail Delivery System <{sender}>", "Message-ID: <b@mx>", subject="Hinweis")
    result = classify_raw(raw)
    assert result.kind == "bounce"
    assert result.reason.startswith("sender ")


@pytest.mark.parametrize(
    "subject",
    [
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Mail delivery failed: returning message to sender",
        "Returned mail: see transcript for details",
        "Unzustellbar: Drucker",
    ],
)
def test_bounce_subjects_are_a_last_resort(subject: str) -> None:
    assert customer(subject=subject).kind == "bounce"


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Drucker",
        "Automatische Antwort: Drucker",
        "Out of Office: Drucker",
        "Abwesenheitsnotiz: Drucker",
        "Away until May 5",
    ],
)
def test_out_of_office_subjects_are_auto_replies(subject: str) -> None:
    assert customer(subject=subject).kind == "auto_reply"


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.firma.example>
To: support@helpdesk.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.firma.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.firma.example

Final-Recipient: rfc822; weg@firma.example
Action: failed
Status: 5.1.1

--R
Content-Type: {inner_type}

From: support@helpdesk.example
To: weg@firma.example
Subject: [Ticket#2026010510000017] Eingangsbestaetigung
Message-ID: <ack-17@helpdesk.example>

--R--
"""


@pytest.mark.parametrize("inner_type", ["message/rfc822", "text/rfc822-headers"])
def test_dsn_is_a_bounce_and_names_the_bounced_message(inner_type: str) -> None:
    raw = DSN.format(inner_type=inner_type).encode()
    result = classify_raw(raw)
    assert result.kind == "bounce"
    assert result.reason == "delivery status notification"
    assert result.bounced_message_ids == ["<ack-17@helpdesk.example>"]
    # the parsed mail alone is enough: raw bytes are optional
    assert classify(parse_message(raw)).bounced_message_ids == ["<ack-17@helpdesk.example>"]


def test_plain_text_bounce_quoting_the_original_yields_its_id() -> None:
    raw = build(
        "From: Mail Delivery System <Mailer-Daemon@mx.firma.example>",
        "Message-ID: <e1@mx.firma.example>",
        subject="Mail delivery failed: returning message to sender",
        body="This message was created automatically by mail delivery software.\n\n"
        "  weg@firma.example\n    Unrouteable address\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "From: support@helpdesk.example\nMessage-Id: <reply-9@helpdesk.example>\n"
        "Subject: Re: [Ticket#2026010510000017]\n\ntext\n",
    )
    result = classify_raw(raw)
    assert result.kind == "bounce"
    assert result.bounced_message_ids == ["<reply-9@helpdesk.example>"]


def test_bounce_falls_back_to_in_reply_to() -> None:
    raw = build(
        "From: mailer-daemon@googlemail.com",
        "Message-ID: <g@google>",
        "In-Reply-To: <ack-3@helpdesk.example>",
        subject="Delivery Status Notification (Failure)",
    )
    assert classify_raw(raw).bounced_message_ids == ["<ack-3@helpdesk.example>"]


def test_feedback_report_and_read_receipt() -> None:
    arf = DSN.replace("report-type=delivery-status", "report-type=feedback-report")
    result = classify_raw(arf.format(inner_type="message/rfc822").encode())
    assert (result.kind, result.reason) == ("bounce", "abuse/feedback report (ARF)")
    mdn = DSN.replace("report-type=delivery-status", "report-type=disposition-notification")
    mdn = mdn.replace("MAILER-DAEMON@mx.firma.example", "kunde@firma.example")
    result = classify_raw(mdn.format(inner_type="message/rfc822").encode())
    assert result.kind == "auto_reply"
    assert result.automatic


def test_list_robot_is_automatic_but_an_it_admin_is_a_person() -> None:
    robot = build("From: team-request@lists.firma.example", "Message-ID: <r@l>", subject="Hinweis")
    assert classify_raw(robot).automatic
    admin = build("From: it-admin@firma.example", "Message-ID: <a@f>", subject="Server down")
    assert classify_raw(admin).kind == "normal"
