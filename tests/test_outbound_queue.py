"""The outbound queue through the CLI against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Any

import pytest

ANNA = "anna.schmidt@muster.example"


@pytest.fixture
def smtp_hd(hd: Any, smtp_server: Any) -> Any:
    hd.seed()
    hd.env.update(
        {
            "HDCLI_MAIL__OUTBOUND__TRANSPORT": "smtp",
            "HDCLI_MAIL__OUTBOUND__HOST": smtp_server.host,
            "HDCLI_MAIL__OUTBOUND__PORT": str(smtp_server.port),
            "HDCLI_MAIL__OUTBOUND__SECURITY": "none",
            "HDCLI_MAIL__OUTBOUND__TIMEOUT": "5",
            "HDCLI_MAIL__OUTBOUND__RETRY_BASE": "0",  # retries are due at once in the test
        }
    )
    return hd


def queue(hd: Any, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = hd.json("mail", "queue", *args)
    return rows


def test_smtp_down_then_back_delivers_exactly_once(smtp_hd: Any, smtp_server: Any) -> None:
    smtp_server.stop()
    number = smtp_hd.open()  # the change succeeds although SMTP is down
    assert number
    waiting = queue(smtp_hd)
    assert [(q["status"], q["recipient"], q["ticket"]) for q in waiting] == [
        ("queued", ANNA, number)
    ]
    assert waiting[0]["last_error"]

    proc = smtp_hd("mail", "flush")
    assert proc.returncode == 5  # still down: deferred
    assert smtp_server.messages == []

    smtp_server.start()
    smtp_hd.ok("mail", "flush")
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.recipients == [ANNA]
    msg = BytesParser(policy=policy.default).parsebytes(received.raw)
    assert number in msg["Subject"]
    assert queue(smtp_hd) == []
    # a second flush sends nothing again
    smtp_hd.ok("mail", "flush")
    assert len(smtp_server.messages) == 1
    sent = queue(smtp_hd, "--all")
    assert [q["status"] for q in sent] == ["sent"]


def test_permanent_refusal_is_failed_with_the_servers_answer_and_can_be_retried(
    smtp_hd: Any, smtp_server: Any
) -> None:
    smtp_server.reject[ANNA] = "550 5.1.1 Mailbox unavailable"
    number = smtp_hd.open()
    failed = queue(smtp_hd, "--status", "failed")
    assert len(failed) == 1
    assert failed[0]["ticket"] == number
    assert "550" in failed[0]["last_error"] and "Mailbox unavailable" in failed[0]["last_error"]
    assert smtp_server.messages == []
    table = smtp_hd.ok("mail", "queue")
    assert "failed" in table and "Mailbox unavailable" in table

    del smtp_server.reject[ANNA]
    proc = smtp_hd("mail", "retry", str(failed[0]["id"]))
    assert proc.returncode == 0, proc.stderr
    assert queue(smtp_hd)[0]["status"] == "queued"
    smtp_hd.ok("mail", "flush")
    assert len(smtp_server.messages) == 1
    assert queue(smtp_hd) == []


def test_retry_all_failed(smtp_hd: Any, smtp_server: Any) -> None:
    smtp_server.reject[ANNA] = "550 5.1.1 Mailbox unavailable"
    smtp_hd.open()
    smtp_hd.open("Bildschirm flackert")
    assert len(queue(smtp_hd, "--status", "failed")) == 2
    del smtp_server.reject[ANNA]
    smtp_hd.ok("mail", "retry", "--all-failed")
    smtp_hd.ok("mail", "flush")
    assert len(smtp_server.messages) == 2
    assert queue(smtp_hd) == []


def test_temporary_refusal_stays_queued(smtp_hd: Any, smtp_server: Any) -> None:
    smtp_server.reject[ANNA] = "451 4.3.0 Try again later"
    smtp_hd.open()
    waiting = queue(smtp_hd)
    assert [q["status"] for q in waiting] == ["queued"]
    assert "451" in waiting[0]["last_error"]
    del smtp_server.reject[ANNA]
    smtp_hd.ok("mail", "flush")
    assert len(smtp_server.messages) == 1


def test_ingested_mail_is_acknowledged_over_smtp_to_the_requester_only(
    smtp_hd: Any, smtp_server: Any
) -> None:
    raw = (
        f"From: Anna <{ANNA}>\r\nTo: helpdesk@smartwork.example\r\n"
        "Cc: chef@muster.example\r\nSubject: Kein Netz\r\nMessage-ID: <net@muster.example>\r\n"
        "\r\nNichts geht.\r\n"
    ).encode()
    proc = smtp_hd("mail", "ingest", "-", input=raw)
    assert proc.returncode == 0, proc.stderr
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].recipients == [ANNA]
    msg = BytesParser(policy=policy.default).parsebytes(smtp_server.messages[0].raw)
    assert msg["In-Reply-To"] == "<net@muster.example>"
    assert msg["Cc"] is None
