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
        hd.ok("log", number, "15m")
        hd.ok("close", number)
    reports = [m for m in hd.mails() if "Servicebericht" in str(m["subject"])]
    assert len(reports) == 4


def test_a_claimant_is_gone_only_when_its_process_on_this_host_has_ended() -> None:
    import subprocess
    import sys
    from dataclasses import replace

    from hdcli.mail.outbound import Claimant, _process_started, this_process

    me = replace(this_process(), run="r1")
    assert Claimant.parse(str(me)) == me
    assert Claimant.parse("ffd6206c9d2058eb") is None  # a claim of an older hdcli
    assert not me.gone()  # this very process
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = replace(me, pid=child.pid, started=_process_started(child.pid))
        assert not live.gone()
        if live.started:  # Linux: a reused pid is told apart by its start time
            assert replace(live, started=live.started + "1").gone()
    finally:
        child.kill()
        child.wait()
    assert live.gone()
    assert not replace(live, host="elsewhere.example").gone()  # another host's: it waits
