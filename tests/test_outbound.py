"""The outbound queue: claims keep two flush runs from sending one mail twice."""

from __future__ import annotations

import sqlite3

from helpdesk import Helpdesk


def test_a_mail_claimed_by_a_live_run_is_left_alone_and_a_dead_runs_claim_is_taken_over(
    hd: Helpdesk,
) -> None:
    hd.seed()
    hd.env["HDCLI_MAIL__OUTBOUND__SEND_NOW"] = "false"
    hd.open()
    with sqlite3.connect(hd.db) as db:
        db.execute(
            "UPDATE outbound SET status = 'sending', claimed_by = 'other-run', "
            "claimed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
        )
    hd.ok("mail", "flush")
    assert hd.mails() == []  # another run is sending it
    with sqlite3.connect(hd.db) as db:
        db.execute("UPDATE outbound SET claimed_at = '2000-01-01T00:00:00Z'")
    hd.ok("mail", "flush")
    hd.ok("mail", "flush")
    assert len(hd.mails()) == 1  # the dead run's claim was released and the mail sent once
    with sqlite3.connect(hd.db) as db:
        assert db.execute("SELECT status, claimed_by FROM outbound").fetchall() == [("sent", None)]


def test_staff_mail_is_never_suppressed_by_the_daily_cap(hd: Helpdesk) -> None:
    hd.seed()
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "2"
    numbers = [
        hd.open(f"Problem {i}", "anna.schmidt@muster.example", "--no-notify") for i in range(4)
    ]
    for number in numbers:
        hd.ok("close", number)
    reports = [m for m in hd.mails() if "Servicebericht" in str(m["subject"])]
    assert len(reports) == 4
