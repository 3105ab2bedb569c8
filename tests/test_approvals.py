"""Approvals: reading a yes or no from a reply, decisions by mail, the gates."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from helpdesk import Helpdesk

from hdcli.mail.answers import decision_word


@pytest.mark.parametrize(
    "body",
    [
        "Genehmigt, bitte umsetzen",
        "genehmigt",
        "FREIGEGEBEN.\n\nGruß Anna",
        "Ja",
        "Ja, bitte so machen.",
        "Approved - go ahead",
        "yes",
        "Hallo Herr Müller,\n\ngenehmigt, bitte umsetzen.\n\nViele Grüße",
        "Guten Tag,\nJa.\n",
        "Genehmigt\n\nAm 27.11.2026 schrieb Helpdesk:\n> abgelehnt oder genehmigt?",
    ],
)
def test_clear_yes(body: str) -> None:
    assert decision_word(body) is True


@pytest.mark.parametrize(
    "body",
    [
        "Abgelehnt.",
        "nein",
        "Nein, das machen wir selbst.",
        "Denied",
        "No.",
        "Hi,\nno - we will do it ourselves",
    ],
)
def test_clear_no(body: str) -> None:
    assert decision_word(body) is False


@pytest.mark.parametrize(
    "body",
    [
        "",
        "> genehmigt",
        "Nicht genehmigt",
        "Ja, aber erst morgen",
        "Yes, but not the admin rights",
        "No problem, go ahead",
        "Kein Problem",
        "Können Sie das erklären? Ja oder nein kann ich so nicht sagen",
        "Jain",
        "Hallo,\n\nich rufe Sie an.",
        "OK",
    ],
)
def test_unclear(body: str) -> None:
    assert decision_word(body) is None


def reply(number: str, sender: str, body: str, subject: str = "AW: [Ticket#{n}] Freigabe") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = subject.format(n=number)
    msg["Message-ID"] = make_msgid(domain="muster.example")
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def gated(hd: Helpdesk) -> tuple[Helpdesk, str]:
    hd.seed()
    hd.ok("contract", "edit", "RV-1", "--approval", "before_work")
    hd.ok(
        "contact",
        "add",
        "Muster GmbH",
        "--name",
        "Bernd Kurz",
        "--email",
        "bernd.kurz@muster.example",
    )
    number = hd.open()
    hd.ok("approval", "request", number, "--change", "Neuen Drucker einrichten")
    return hd, number


def test_approval_by_mail_reply(gated: tuple[Helpdesk, str]) -> None:
    hd, number = gated
    raw = reply(
        number,
        "Anna Schmidt <anna.schmidt@muster.example>",
        "Genehmigt, bitte umsetzen\n\nAnna Schmidt",
    )
    hd.ok("mail", "ingest", "-", input=raw)
    approvals = hd.json("approval", "list")
    assert approvals[0]["status"] == "granted"
    assert (approvals[0]["via"], approvals[0]["decided_by"]) == (
        "mail",
        "anna.schmidt@muster.example",
    )
    shown = hd.json("show", number)
    assert shown["status"] == "new" and shown["waiting_for"] is None
    assert any(a["body"].startswith("Genehmigt") for a in shown["articles"])
    hd.ok("--as", "mmueller", "start", number)


def test_unclear_or_foreign_reply_is_kept_for_a_human(gated: tuple[Helpdesk, str]) -> None:
    hd, number = gated
    hd.ok(
        "mail",
        "ingest",
        "-",
        input=reply(number, "anna.schmidt@muster.example", "Was genau soll eingerichtet werden?"),
    )
    # A colleague who is no approver cannot approve by mail either.
    hd.ok("mail", "ingest", "-", input=reply(number, "bernd.kurz@muster.example", "Ja"))
    assert hd.json("approval", "list", "--pending")[0]["ticket"] == number
    shown = hd.json("show", number)
    assert (shown["status"], shown["waiting_for"]) == ("waiting", "approval")
    bodies = [a["body"] for a in shown["articles"] if a["direction"] == "in"]
    assert any("Was genau" in b for b in bodies) and any(b.strip() == "Ja" for b in bodies)
    assert hd("--as", "mmueller", "start", number).returncode == 4


def test_denial_by_mail(gated: tuple[Helpdesk, str]) -> None:
    hd, number = gated
    hd.ok(
        "mail",
        "ingest",
        "-",
        input=reply(number, "anna.schmidt@muster.example", "Abgelehnt. Das machen wir intern."),
    )
    assert hd.json("approval", "list")[0]["status"] == "denied"
    proc = hd("--as", "mmueller", "start", number)
    assert proc.returncode == 4 and "anna.schmidt@muster.example" in proc.stderr


def test_the_agents_reply_does_not_answer_the_approval_mail(gated: tuple[Helpdesk, str]) -> None:
    hd, number = gated
    request = [m for m in hd.mails() if "Freigabe" in str(m["Subject"])][-1]
    msg = EmailMessage()
    msg["From"] = "Anna Schmidt <anna.schmidt@muster.example>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = f"AW: [Ticket#{number}] Freigabe"
    msg["Message-ID"] = answer = make_msgid(domain="muster.example")
    msg["In-Reply-To"] = request["Message-ID"]
    msg.set_content("Genehmigt\n")
    hd.ok("mail", "ingest", "-", input=bytes(msg))
    hd.ok("--as", "mmueller", "reply", number, "-m", "Der Drucker ist eingerichtet.")
    sent = [m for m in hd.mails() if "eingerichtet" in m.get_body(("plain",)).get_content()][-1]
    assert sent["In-Reply-To"] not in (answer, request["Message-ID"])
    assert sent["In-Reply-To"] == hd.mails()[0]["Message-ID"]  # the acknowledgement's thread
