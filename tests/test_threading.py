"""Threading of inbound mail: the number in the subject, then In-Reply-To/References."""

from __future__ import annotations

from typing import Any

import pytest
from test_ingest import ANNA, ingest, mail, mails_to, new_ticket, show


@pytest.fixture
def seeded(hd: Any) -> Any:
    hd.seed()
    return hd


@pytest.mark.parametrize(
    "prefix",
    ["Re: ", "AW: ", "WG: ", "Fwd: ", "SV: ", "Antw: ", "re: aw: RE: ", "AW: WG: Re: Fw: ", ""],
)
def test_reply_and_forward_prefixes_do_not_matter(seeded: Any, prefix: str) -> None:
    number = new_ticket(seeded)
    result = ingest(
        seeded,
        mail(
            subject=f"{prefix}[Ticket#{number}] Drucker druckt nicht",
            message_id="<reply@muster.example>",
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)


def test_number_with_a_bad_check_digit_does_not_thread(seeded: Any) -> None:
    number = new_ticket(seeded)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    result = ingest(
        seeded, mail(subject=f"Re: [Ticket#{wrong}] Drucker", message_id="<wrong@muster.example>")
    )
    assert result["outcome"] == "new"
    assert result["ticket"] not in (number, wrong)
    assert len(show(seeded, number)["articles"]) == 2


def test_in_reply_to_our_acknowledgement_threads_without_a_number(seeded: Any) -> None:
    number = new_ticket(seeded)
    ack = mails_to(seeded, ANNA)[0]
    result = ingest(
        seeded,
        mail(
            subject="Re: Ihre Anfrage",
            message_id="<r@muster.example>",
            headers={"In-Reply-To": ack["Message-ID"]},
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)


def test_references_to_the_customers_first_mail_thread(seeded: Any) -> None:
    number = new_ticket(seeded, message_id="<orig@muster.example>")
    result = ingest(
        seeded,
        mail(
            subject="Nachtrag",
            message_id="<n@muster.example>",
            headers={"References": "<unknown@x.example> <orig@muster.example>"},
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)


def test_in_reply_to_from_a_stranger_is_treated_as_new_and_rejected(seeded: Any) -> None:
    number = new_ticket(seeded)
    ack = mails_to(seeded, ANNA)[0]
    result = ingest(
        seeded,
        mail(
            subject="Re: Ihre Anfrage",
            sender="x@elsewhere.example",
            message_id="<s@elsewhere.example>",
            headers={"In-Reply-To": ack["Message-ID"]},
        ),
    )
    assert result["outcome"] == "rejected"
    assert len(show(seeded, number)["articles"]) == 2


def test_member_of_another_contracted_org_gets_a_ticket_of_their_own(seeded: Any) -> None:
    number = new_ticket(seeded)
    seeded.ok("org", "add", "Andere AG", "--kind", "company", "--domain", "andere.example")
    seeded.ok(
        "contract", "add", "Andere AG", "--number", "RV-2", "--billing", "hourly", "--rate", "80"
    )
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker",
            sender="o@andere.example",
            message_id="<o@andere.example>",
        ),
    )
    assert result["outcome"] == "new"
    assert result["ticket"] != number
    assert show(seeded, result["ticket"])["organisation"] == "Andere AG"


def test_a_participant_outside_the_organisation_may_follow_up(seeded: Any) -> None:
    """Someone who already takes part in a ticket (e.g. answered from a private address once
    the ticket was opened for them) still threads; here: the requester's new address."""
    import sqlite3

    number = new_ticket(seeded)
    db = sqlite3.connect(seeded.db)
    with db:
        ticket_id = db.execute("SELECT id FROM tickets WHERE number = ?", (number,)).fetchone()[0]
        db.execute(
            "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?, ?, ?)",
            (ticket_id, "anna@home.example", "participant"),
        )
    db.close()
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker",
            sender="anna@home.example",
            message_id="<h@home.example>",
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)


def test_former_subject_hook_is_still_recognised(seeded: Any) -> None:
    number = new_ticket(seeded)
    proc = seeded(
        "mail",
        "ingest",
        "-",
        "--format",
        "jsonl",
        input=mail(subject=f"Re: [Anfrage#{number}] Drucker", message_id="<old@muster.example>"),
        env={"HDCLI_TICKETS__FORMER_HOOKS": "Anfrage#"},
    )
    assert proc.returncode == 0, proc.stderr
    assert '"followup"' in proc.stdout


def test_a_new_ticket_drops_prefixes_and_ticket_tags_of_any_system(seeded: Any) -> None:
    result = ingest(
        seeded,
        mail(
            subject="[Ticket#2026112710000999] AW: [RT #4711] WG: Bildschirm flackert",
            message_id="<fresh@muster.example>",
        ),
    )
    assert result["outcome"] == "new"
    assert show(seeded, result["ticket"])["subject"] == "Bildschirm flackert"
    ack = mails_to(seeded, ANNA)[-1]
    assert f"[Ticket#{result['ticket']}] Bildschirm flackert" in ack["Subject"]


def test_start_notice_and_service_report_thread_into_the_customers_mail(seeded: Any) -> None:
    number = new_ticket(seeded, message_id="<first@muster.example>")
    seeded.ok("assign", number, "--to", "mmueller", "--start")
    seeded.ok("log", number, "30m")
    seeded.ok("close", number)
    sent = mails_to(seeded, ANNA)
    started = next(m for m in sent if "begonnen" in m.get_body(("plain",)).get_content())
    report = next(m for m in sent if "Servicebericht" in str(m["Subject"]))
    for m in (started, report):
        assert m["In-Reply-To"] == "<first@muster.example>"
        assert "<first@muster.example>" in str(m["References"])


def test_closed_ticket_notice_answers_the_mail_it_rejects(seeded: Any) -> None:
    seeded.ok("config", "set", "tickets.closed_policy", "reject_with_notice")
    number = new_ticket(seeded, message_id="<first@muster.example>")
    seeded.ok("close", number, "--no-notify")
    result = ingest(
        seeded,
        mail(subject=f"Re: [Ticket#{number}] Drucker", message_id="<late@muster.example>"),
    )
    assert result["outcome"] == "rejected"
    notice = next(m for m in mails_to(seeded, ANNA) if "abgeschlossen" in str(m["Subject"]))
    assert notice["In-Reply-To"] == "<late@muster.example>"
    assert "<first@muster.example>" in str(notice["References"])
