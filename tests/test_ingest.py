"""``hdcli mail ingest``: new tickets, follow-ups, the contract gate, loops, closed tickets.

Every test runs the real CLI against a helpdesk in tmp_path (the ``hd`` fixture) and looks at
what a user would see: the result lines, ``show``, the outbox and the database file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

ANNA = "anna.schmidt@muster.example"


def mail(
    subject: str = "Drucker druckt nicht",
    sender: str = f"Anna Schmidt <{ANNA}>",
    body: str = "Der Drucker im 2. OG druckt nicht.",
    message_id: str | None = "<m1@muster.example>",
    headers: dict[str, str] | None = None,
    date: str | None = None,
) -> bytes:
    lines = [f"From: {sender}", "To: helpdesk@smartwork.example", f"Subject: {subject}"]
    if date:
        lines.append(f"Date: {date}")
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        body,
        "",
    ]
    return "\r\n".join(lines).encode()


def ingest(hd: Any, raw: bytes, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = hd("mail", "ingest", "-", "--format", "jsonl", *args, input=raw, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    result: dict[str, Any] = json.loads(lines[0])
    assert set(result) == {"source", "message_id", "outcome", "ticket", "reason"}
    return result


def show(hd: Any, number: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(hd.ok("show", number, "--json"))
    return data


def new_ticket(hd: Any, **kwargs: Any) -> str:
    result = ingest(hd, mail(**kwargs))
    assert result["outcome"] == "new", result
    number: str = result["ticket"]
    return number


def mails_to(hd: Any, address: str) -> list[Any]:
    return [m for m in hd.mails() if address in str(m["To"])]


@pytest.fixture
def seeded(hd: Any) -> Any:
    hd.seed()
    return hd


def test_new_ticket_from_mail_is_acknowledged_in_reply_to_it(seeded: Any) -> None:
    number = new_ticket(seeded, message_id="<first@muster.example>")
    ticket = show(seeded, number)
    assert ticket["status"] == "new"
    assert ticket["channel"] == "email"
    assert ticket["requester"] == ANNA
    assert ticket["articles"][0]["body"].startswith("Der Drucker")
    acks = mails_to(seeded, ANNA)
    assert len(acks) == 1
    assert number in acks[0]["Subject"]
    assert acks[0]["In-Reply-To"] == "<first@muster.example>"
    assert acks[0]["References"] == "<first@muster.example>"  # the ticket's only mail
    assert acks[0]["Auto-Submitted"] == "auto-replied"


def test_reply_with_nested_prefixes_joins_the_ticket(seeded: Any) -> None:
    number = new_ticket(seeded)
    result = ingest(
        seeded,
        mail(
            subject=f"AW: WG: [Ticket#{number}] Drucker druckt nicht",
            message_id="<m2@muster.example>",
            body="Immer noch kaputt.",
        ),
    )
    assert result["outcome"] == "followup"
    assert result["ticket"] == number
    bodies = [a["body"] for a in show(seeded, number)["articles"]]
    assert "Immer noch kaputt." in bodies
    # a follow-up is no new request: no second acknowledgement
    assert len(mails_to(seeded, ANNA)) == 1


def test_same_mail_twice_is_a_duplicate(seeded: Any) -> None:
    raw = mail()
    first = ingest(seeded, raw)
    second = ingest(seeded, raw)
    assert first["outcome"] == "new"
    assert second["outcome"] == "duplicate"
    assert second["ticket"] == first["ticket"]
    assert len(seeded.json("list")) == 1
    assert len(mails_to(seeded, ANNA)) == 1


def test_stranger_using_a_ticket_number_is_rejected_and_nothing_of_it_is_stored(
    seeded: Any,
) -> None:
    number = new_ticket(seeded)
    secret = "Zyxwvut-geheimer-Text-8271"
    result = ingest(
        seeded,
        mail(
            subject=f"AW: WG: [Ticket#{number}] Streng {secret}",
            sender="Eve <eve@stranger.example>",
            message_id="<evil@stranger.example>",
            body=f"Text {secret}",
        ),
    )
    assert result["outcome"] == "rejected"
    assert result["ticket"] is None
    assert len(show(seeded, number)["articles"]) == 2  # the request and our acknowledgement
    seeded("db", "upgrade")  # any command; then the file is checkpointed at close
    for path in seeded.root.glob("hdcli.db*"):
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert b"eve@stranger.example" not in data, path
        assert b"stranger.example" not in data, path
    for m in seeded.mails():
        assert "stranger" not in str(m["To"])
        assert secret not in m.as_string()
    row = (
        sqlite3.connect(seeded.db)
        .execute("SELECT outcome, reason FROM inbound_log WHERE outcome = 'rejected'")
        .fetchall()
    )
    assert row == [("rejected", "sender is no contact of a contracted organisation")]


def test_private_person_is_rejected_without_answer(seeded: Any) -> None:
    result = ingest(seeded, mail(sender="Max <max@gmail.example>", message_id="<p@gmail.example>"))
    assert result["outcome"] == "rejected"
    assert seeded.mails() == []
    assert seeded.json("list") == []


def test_expired_contract_is_rejected(hd: Any) -> None:
    hd.ok("org", "add", "Alt GmbH", "--kind", "company", "--domain", "alt.example")
    hd.ok(
        "contract",
        "add",
        "Alt GmbH",
        "--number",
        "RV-OLD",
        "--billing",
        "hourly",
        "--rate",
        "90",
        "--valid-from",
        "2020-01-01",
        "--valid-to",
        "2020-12-31",
    )
    result = ingest(hd, mail(sender="ex@alt.example", message_id="<x@alt.example>"))
    assert result["outcome"] == "rejected"
    assert "contract" in result["reason"]
    assert hd.mails() == []


def test_domain_member_of_the_organisation_may_follow_up(seeded: Any) -> None:
    number = new_ticket(seeded)
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker",
            sender="Bernd <bernd@muster.example>",
            message_id="<b@muster.example>",
        ),
    )
    assert result["outcome"] == "followup"
    assert result["ticket"] == number


def test_out_of_office_with_the_number_is_recorded_and_nothing_is_sent(seeded: Any) -> None:
    number = new_ticket(seeded)
    before = len(seeded.mails())
    result = ingest(
        seeded,
        mail(
            subject=f"Abwesenheitsnotiz: [Ticket#{number}] Drucker",
            message_id="<ooo@muster.example>",
            body="Bin im Urlaub.",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    assert result["outcome"] == "ignored"
    assert result["ticket"] == number
    ticket = show(seeded, number)
    assert ticket["status"] == "new"
    assert any(a["kind"] == "auto_reply" and "Urlaub" in a["body"] for a in ticket["articles"])
    assert len(seeded.mails()) == before


def test_automatic_mail_without_a_ticket_opens_nothing_and_is_not_answered(seeded: Any) -> None:
    for i, headers in enumerate(
        [
            {"Auto-Submitted": "auto-replied"},
            {"Precedence": "bulk"},
            {"X-Loop": "somewhere"},
            {"Return-Path": "<>"},
            {"X-Auto-Response-Suppress": "All"},
        ]
    ):
        result = ingest(
            seeded,
            mail(
                subject="Automatische Antwort",
                message_id=f"<auto{i}@muster.example>",
                headers=headers,
            ),
        )
        assert result["outcome"] == "ignored", headers
    assert seeded.json("list") == []
    assert seeded.mails() == []


def test_the_daily_cap_is_named_once_per_address_and_run(seeded: Any, tmp_path: Path) -> None:
    """A mail loop (an autoresponder answering each acknowledgement) must not flood the cron
    mail of `mail ingest`: each suppressed acknowledgement is in the result, the warning names
    an address once per run."""
    folder = tmp_path / "loop"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.eml").write_bytes(
            mail(subject=f"Drucker {i}", message_id=f"<loop{i}@muster.example>")
        )
    proc = seeded(
        "mail", "ingest", str(folder), "--format", "jsonl",
        env={"HDCLI_MAIL__AUTO_REPLY_LIMIT": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["outcome"] for r in results] == ["new"] * 4
    assert ["acknowledgement not sent" in r["reason"] for r in results] == [False] + [True] * 3
    warnings = [line for line in proc.stderr.splitlines() if "suppressed" in line]
    assert len(warnings) == 1 and ANNA in warnings[0]
    assert len(seeded.mails()) == 1


def test_our_own_mail_coming_back_is_a_loop(seeded: Any) -> None:
    result = ingest(
        seeded, mail(sender="helpdesk@smartwork.example", message_id="<own@smartwork.example>")
    )
    assert result["outcome"] == "ignored"
    assert seeded.mails() == []


def test_bounce_of_our_acknowledgement_is_recorded_on_the_ticket(seeded: Any) -> None:
    number = new_ticket(seeded)
    ack_id = mails_to(seeded, ANNA)[0]["Message-ID"]
    bounce = (
        "From: MAILER-DAEMON@mx.muster.example\r\nTo: helpdesk@smartwork.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce1@mx.muster.example>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nMailbox full.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; anna.schmidt@muster.example\r\nAction: failed\r\n"
        "Status: 5.2.2\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack_id}\r\n"
        "Subject: ack\r\n\r\n--B--\r\n"
    ).encode()
    before = len(seeded.mails())
    result = ingest(seeded, bounce)
    assert result["outcome"] == "ignored"
    assert result["ticket"] == number
    ticket = show(seeded, number)
    assert any(a["kind"] == "bounce" for a in ticket["articles"])
    assert any(h["action"] == "bounce" for h in ticket["history"])
    queue = seeded.json("mail", "queue", "--all")
    assert any(str(q["last_error"]).startswith("bounced") for q in queue)
    assert len(seeded.mails()) == before


def test_reply_to_a_closed_ticket_opens_a_new_linked_ticket(seeded: Any) -> None:
    number = new_ticket(seeded)
    seeded.ok("close", number)
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker druckt nicht",
            message_id="<late@muster.example>",
            body="Wieder kaputt.",
        ),
    )
    assert result["outcome"] == "new"
    new = result["ticket"]
    assert new != number
    old = show(seeded, number)
    assert old["status"] == "closed"
    assert all("Wieder kaputt." not in a["body"] for a in old["articles"])
    fresh = show(seeded, new)
    assert fresh["subject"] == "Drucker druckt nicht"
    assert {"kind": "follow_up_of", "number": number} in fresh["links"]
    ack = [m for m in mails_to(seeded, ANNA) if new in m["Subject"]]
    assert len(ack) == 1
    assert number in ack[0].get_content()  # the acknowledgement names the old number too


def test_reply_to_a_closed_ticket_with_reject_with_notice(seeded: Any) -> None:
    number = new_ticket(seeded)
    seeded.ok("close", number)
    before = len(mails_to(seeded, ANNA))
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker",
            message_id="<late@muster.example>",
            body="Noch was.",
        ),
        env={"HDCLI_TICKETS__CLOSED_POLICY": "reject_with_notice"},
    )
    assert result["outcome"] == "rejected"
    assert "closed" in result["reason"]
    old = show(seeded, number)
    assert old["status"] == "closed"
    assert all("Noch was." not in a["body"] for a in old["articles"])
    assert len(seeded.json("list")) == 1
    notices = mails_to(seeded, ANNA)[before:]
    assert len(notices) == 1
    assert "ohne" in notices[0].get_content()  # "… ohne eine Ticketnummer im Betreff"


def test_reply_to_a_closed_ticket_with_reopen(seeded: Any) -> None:
    number = new_ticket(seeded)
    seeded.ok("close", number)
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker",
            message_id="<late@muster.example>",
            body="Bitte nochmal.",
        ),
        env={"HDCLI_TICKETS__CLOSED_POLICY": "reopen"},
    )
    assert result["outcome"] == "followup"
    assert result["ticket"] == number
    ticket = show(seeded, number)
    assert ticket["status"] == "new"
    assert any(a["body"] == "Bitte nochmal." for a in ticket["articles"])


def test_contract_policy_overrides_the_global_one(seeded: Any) -> None:
    db = sqlite3.connect(seeded.db)
    with db:
        db.execute("UPDATE contracts SET closed_policy = 'reopen'")
    db.close()
    number = new_ticket(seeded)
    seeded.ok("close", number)
    result = ingest(
        seeded, mail(subject=f"Re: [Ticket#{number}] Drucker", message_id="<late@muster.example>")
    )
    assert result["outcome"] == "followup"
    assert show(seeded, number)["status"] == "new"


def closed_with_report(hd: Any) -> tuple[str, Any]:
    """A ticket opened by mail, worked 45 minutes and closed: its number and the report mail."""
    number = new_ticket(hd)
    hd.ok("log", number, "45m")
    hd.ok("close", number)
    reports = [m for m in mails_to(hd, ANNA) if "Servicebericht" in m["Subject"]]
    assert len(reports) == 1
    return number, reports[0]


def reports_of_the_month(hd: Any) -> dict[str, int]:
    rows = json.loads(hd.ok("report", "billing", "--month", "this", "--format", "json"))
    row = next(r for r in rows if r["contract"] == "RV-1")
    return {k: row[k] for k in ("approved", "pending", "disputed")}


def test_reply_to_the_service_report_approves_it(seeded: Any) -> None:
    number, report = closed_with_report(seeded)
    text = report.get_body(("plain",)).get_content()
    assert "antworten Sie bitte auf diese E-Mail" in text
    assert '"abgelehnt"' in text
    result = ingest(
        seeded,
        mail(
            subject=f"AW: {report['Subject']}",
            message_id="<ok@muster.example>",
            body="Genehmigt.\n\nViele Grüße\nAnna Schmidt\n\n> Guten Tag Anna Schmidt,",
            headers={"In-Reply-To": report["Message-ID"], "References": report["Message-ID"]},
        ),
    )
    assert result["outcome"] == "followup"
    assert result["ticket"] == number
    assert "approved" in result["reason"]
    assert reports_of_the_month(seeded) == {"approved": 1, "pending": 0, "disputed": 0}
    assert [t["number"] for t in seeded.json("list")] == [number]
    ticket = show(seeded, number)
    assert ticket["status"] == "closed"
    assert any(h["action"] == "service_report_approved" for h in ticket["history"])


def test_reply_to_the_service_report_by_subject_alone_from_the_main_contact(seeded: Any) -> None:
    number, report = closed_with_report(seeded)
    result = ingest(
        seeded,
        mail(
            subject=f"Re: WG: {report['Subject']}",
            message_id="<no@muster.example>",
            body="Abgelehnt, es waren nur 30 Minuten.",
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)
    assert reports_of_the_month(seeded) == {"approved": 0, "pending": 0, "disputed": 1}
    assert len(seeded.json("list")) == 1


def test_unclear_reply_to_the_service_report_waits_on_the_ticket(seeded: Any) -> None:
    number, report = closed_with_report(seeded)
    before = len(show(seeded, number)["articles"])
    result = ingest(
        seeded,
        mail(
            subject=f"AW: {report['Subject']}",
            message_id="<question@muster.example>",
            body="Ist das korrekt?",
            headers={"In-Reply-To": report["Message-ID"]},
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", number)
    assert "review" in result["reason"]
    assert reports_of_the_month(seeded) == {"approved": 0, "pending": 1, "disputed": 0}
    ticket = show(seeded, number)
    assert ticket["status"] == "closed"
    assert len(ticket["articles"]) == before + 1
    assert ticket["articles"][-1]["body"].startswith("Ist das korrekt?")
    assert len(seeded.json("list")) == 1


def test_strangers_answer_to_the_service_report_is_rejected(seeded: Any) -> None:
    number, report = closed_with_report(seeded)
    before = len(show(seeded, number)["articles"])
    result = ingest(
        seeded,
        mail(
            subject=f"AW: {report['Subject']}",
            sender="Eve <eve@stranger.example>",
            message_id="<eve@stranger.example>",
            body="Genehmigt.",
            headers={"In-Reply-To": report["Message-ID"]},
        ),
    )
    assert result["outcome"] == "rejected"
    assert result["ticket"] is None
    assert result["message_id"] is None
    assert reports_of_the_month(seeded) == {"approved": 0, "pending": 1, "disputed": 0}
    assert len(show(seeded, number)["articles"]) == before
    assert len(seeded.json("list")) == 1


def test_other_replies_to_a_closed_ticket_with_a_pending_report_follow_the_policy(
    seeded: Any,
) -> None:
    number, report = closed_with_report(seeded)
    result = ingest(
        seeded,
        mail(
            subject=f"Re: [Ticket#{number}] Drucker druckt nicht",
            message_id="<again@muster.example>",
            body="Ja, der Drucker ist wieder kaputt.",
        ),
    )
    assert result["outcome"] == "new"
    assert reports_of_the_month(seeded)["pending"] == 1
    # Once decided, even an answer to the report mail is an ordinary reply to a closed ticket.
    seeded.ok("report", "approve", number, "--by", "Anna Schmidt", "--via", "phone")
    late = ingest(
        seeded,
        mail(
            subject=f"AW: {report['Subject']}",
            message_id="<late@muster.example>",
            body="Genehmigt.",
            headers={"In-Reply-To": report["Message-ID"]},
        ),
    )
    assert late["outcome"] == "new"
    assert show(seeded, number)["status"] == "closed"


def test_rejected_strangers_message_id_is_not_printed(seeded: Any, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "1.eml").write_bytes(
        mail(sender="max@gmail.example", message_id="<max.privat@gmail.example>")
    )
    (folder / "2.eml").write_bytes(mail(message_id="<kunde@muster.example>"))
    (folder / "3.eml").write_bytes(mail(sender="", message_id="<nobody@nowhere.example>"))
    for _ in range(2):  # the second run: duplicates, still without the stranger's Message-ID
        proc = seeded("mail", "ingest", str(folder), "--format", "jsonl")
        assert proc.returncode == 0, proc.stderr
        assert "max.privat" not in proc.stdout
        assert "nobody@nowhere" not in proc.stdout
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["message_id"] for r in results] == [None, "<kunde@muster.example>", None]
    assert [r["outcome"] for r in results] == ["duplicate"] * 3
    # a known contact's rejection (a closed ticket under reject_with_notice) keeps its id
    number = results[1]["ticket"]
    seeded.ok("close", number)
    proc = seeded(
        "mail",
        "ingest",
        "-",
        "--format",
        "jsonl",
        input=mail(subject=f"Re: [Ticket#{number}] Drucker", message_id="<k2@muster.example>"),
        env={"HDCLI_TICKETS__CLOSED_POLICY": "reject_with_notice"},
    )
    late = json.loads(proc.stdout)
    assert (late["outcome"], late["message_id"]) == ("rejected", "<k2@muster.example>")


def test_followup_to_a_waiting_ticket_puts_it_back_to_work(seeded: Any) -> None:
    number = new_ticket(seeded)
    seeded.ok("assign", number, "--to", "mmueller")
    seeded.ok("--as", "mmueller", "reply", number, "-m", "Bitte neu starten.")
    assert show(seeded, number)["status"] == "waiting"
    result = ingest(
        seeded,
        mail(
            subject=f"AW: [Ticket#{number}] Drucker",
            message_id="<answer@muster.example>",
            body="Hat nicht geholfen.",
        ),
    )
    assert result["outcome"] == "followup"
    assert show(seeded, number)["status"] == "in_progress"


def test_cc_is_recorded_but_never_written_to(seeded: Any) -> None:
    raw = mail(headers={"Cc": "Chef <chef@muster.example>, extern@partner.example"})
    number = ingest(seeded, raw)["ticket"]
    article = show(seeded, number)["articles"][0]
    assert "chef@muster.example" in article["cc"]
    for m in seeded.mails():
        assert m["Cc"] is None
        assert "chef@" not in str(m["To"]) and "partner" not in str(m["To"])


def test_routing_rule_preselects_the_agent(seeded: Any) -> None:
    seeded.config.parent.mkdir(parents=True, exist_ok=True)
    seeded.config.write_text('[[routing.rules]]\nagent = "mmueller"\nsubject = "drucker"\n')
    number = new_ticket(seeded)
    assert show(seeded, number)["preselected"] == "mmueller"


def test_routing_rule_sets_impact_and_priority(seeded: Any) -> None:
    seeded.config.parent.mkdir(parents=True, exist_ok=True)
    seeded.config.write_text(
        '[[routing.rules]]\nagent = "mmueller"\nbody = "(alle|niemand) (kann|können)"\n'
        'impact = "everyone"\npriority = "urgent"\n'
    )
    everyone = new_ticket(seeded, body="Niemand kann drucken, alle Drucker sind aus.")
    single = new_ticket(seeded, message_id="<m9@muster.example>", body="Mein Drucker klemmt.")
    assert (show(seeded, everyone)["impact"], show(seeded, everyone)["priority"]) == (
        "everyone",
        "urgent",
    )
    assert (show(seeded, single)["impact"], show(seeded, single)["priority"]) == (
        "single_user",
        "normal",
    )
    seeded.config.write_text('[[routing.rules]]\nagent = "mm"\nbody = "x"\nimpact = "alle"\n')
    bad = seeded("config", "check")
    assert bad.returncode == 2 and "routing.rules[0].impact" in bad.stderr + bad.stdout


def test_routing_rule_without_an_agent_sets_impact_only(backend_hd: Any) -> None:
    hd = backend_hd
    hd.config.parent.mkdir(parents=True, exist_ok=True)
    hd.config.write_text(
        '[[routing.rules]]\nbody = "(?i)alle mitarbeiter betroffen"\nimpact = "everyone"\n\n'
        '[[routing.rules]]\nsubject = "(?i)serverausfall"\npriority = "urgent"\n\n'
        '[[routing.rules]]\nsubject = "(?i)drucker"\nagent = "mmueller"\n',
        encoding="utf-8",
    )
    assert hd("config", "check").returncode == 0
    everyone = new_ticket(
        hd, subject="Kein Netz", body="Seit heute früh: alle Mitarbeiter betroffen."
    )
    shown = show(hd, everyone)
    assert (shown["impact"], shown["priority"], shown["preselected"]) == (
        "everyone",
        "normal",
        None,
    )
    assert shown["assignee"] is None and shown["status"] == "new"
    urgent = new_ticket(hd, subject="Serverausfall", message_id="<m2@muster.example>")
    shown = show(hd, urgent)
    assert (shown["impact"], shown["priority"], shown["preselected"]) == (
        "single_user",
        "urgent",
        None,
    )
    routed = new_ticket(hd, subject="Drucker kaputt", message_id="<m3@muster.example>")
    assert show(hd, routed)["preselected"] == "mmueller"
    assert [r["number"] for r in hd.json("list", "--no-preselected")] == [urgent, everyone]
    hd.config.write_text('[[routing.rules]]\nbody = "x"\n', encoding="utf-8")
    bad = hd("config", "check")
    assert bad.returncode == 2 and "agent, impact or priority" in bad.stderr + bad.stdout


def test_attachments_are_kept_with_sanitised_names(seeded: Any) -> None:
    raw = (
        f"From: {ANNA}\r\nTo: helpdesk@smartwork.example\r\nSubject: Fehlerbild\r\n"
        "Message-ID: <att@muster.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="X"\r\n\r\n'
        "--X\r\nContent-Type: text/plain\r\n\r\nSiehe Anhang.\r\n"
        "--X\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="../../etc/passwd.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--X--\r\n"
    ).encode()
    number = ingest(seeded, raw)["ticket"]
    atts = show(seeded, number)["articles"][0]["attachments"]
    assert len(atts) == 1
    assert "/" not in atts[0]["filename"]
    assert atts[0]["content_type"] == "application/pdf"


def test_unreadable_message_is_quarantined_and_the_rest_goes_on(
    seeded: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "1.eml").write_bytes(b"\x00\x01\x02 binary garbage \xff\xfe")
    (folder / "2.eml").write_bytes(mail())
    proc = seeded("mail", "ingest", str(folder), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["outcome"] for r in results] == ["quarantined", "new"]
    assert results[0]["reason"]
    db = sqlite3.connect(seeded.db)
    assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_every_format_has_one_result_per_message(seeded: Any, tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.eml").write_bytes(mail(message_id=f"<f{i}@muster.example>"))
    proc = seeded("mail", "ingest", str(folder), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        rows = json.loads(proc.stdout)
        assert [r["outcome"] for r in rows] == ["new"] * 3
    elif fmt == "csv":
        lines = proc.stdout.splitlines()
        assert lines[0] == "source,message_id,outcome,ticket,reason"
        assert len(lines) == 4
    else:
        assert proc.stdout.count(" new ") == 3


def test_maildir_folder_is_read_without_its_subfolders(seeded: Any, tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp", ".Processed/cur"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "a").write_bytes(mail(message_id="<a@muster.example>"))
    (box / "cur" / "b:2,S").write_bytes(mail(message_id="<b@muster.example>"))
    (box / ".Processed" / "cur" / "c:2,S").write_bytes(mail(message_id="<c@muster.example>"))
    proc = seeded("mail", "ingest", str(box), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    ids = [json.loads(line)["message_id"] for line in proc.stdout.splitlines()]
    assert ids == ["<a@muster.example>", "<b@muster.example>"]


def test_missing_path_is_a_usage_error(seeded: Any, tmp_path: Path) -> None:
    proc = seeded("mail", "ingest", str(tmp_path / "nope.eml"))
    assert proc.returncode == 2
    assert "nope.eml" in proc.stderr


def test_subject_with_line_breaks_never_becomes_a_header(seeded: Any) -> None:
    raw = mail(
        subject="=?utf-8?q?Hallo=0D=0ABcc=3A_evil=40x.example?=", message_id="<crlf@muster.example>"
    )
    number = ingest(seeded, raw)["ticket"]
    seeded.ok(
        "open",
        "--contact",
        ANNA,
        "--subject",
        "Hallo\r\nBcc: evil@x.example",
        "--body",
        "x",
        "--channel",
        "phone",
    )
    seeded.ok("--as", "mmueller", "reply", number, "-m", "Antwort\r\nBcc: evil@x.example")
    sent = seeded.mails()
    assert len(sent) == 3
    for m in sent:
        assert m["Bcc"] is None
        assert "evil" not in str(m["To"])
        raw_head = m.as_bytes().split(b"\n\n", 1)[0]
        assert not any(line.lower().startswith(b"bcc") for line in raw_head.splitlines())
