"""Concurrent changes of one ticket serialise on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_concurrency import query


@pytest.mark.slow
def test_six_closes_of_one_ticket_at_once_close_it_once(backend_hd) -> None:  # type: ignore[no-untyped-def]
    hd = backend_hd
    hd.env["HDCLI_MAIL__OUTBOUND__SEND_NOW"] = "false"
    number = hd.open()
    hd.ok("--as", "mmueller", "log", number, "30m")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hdcli", "close", number],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=hd.env,
            cwd=hd.root,
            text=True,
        )
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert all("closed" in e for e, p in zip(errors, procs, strict=True) if p.returncode == 4)
    assert codes == [0, 4, 4, 4, 4, 4]
    assert int(query(hd, "SELECT count(*) AS n FROM service_reports")[0]["n"]) == 1
    closed = query(hd, "SELECT count(*) AS n FROM history WHERE action = 'closed'")
    assert int(closed[0]["n"]) == 1
    reports = query(hd, "SELECT count(*) AS n FROM outbound WHERE kind = 'service_report'")
    assert int(reports[0]["n"]) == 1


def test_eight_opens_of_one_external_id_at_once_give_everyone_the_one_ticket(backend_hd) -> None:  # type: ignore[no-untyped-def]
    """An idempotent re-run that races itself (two cron hosts, a retrying script): on
    PostgreSQL all but one insert hit the unique external id; each must get that ticket."""
    hd = backend_hd
    hd.env["HDCLI_MAIL__OUTBOUND__SEND_NOW"] = "false"
    cmd = [
        sys.executable, "-m", "hdcli", "open", "--contact", "anna.schmidt@muster.example",
        "--subject", "Drucker druckt nicht", "--body", "Hilfe", "--external-id", "CRM-4711", "-q",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=hd.env, cwd=hd.root, text=True
        )
        for _ in range(8)
    ]
    runs = [(p.communicate(timeout=300), p.returncode) for p in procs]
    assert [(code, err) for (_, err), code in runs if code != 0] == []
    numbers = {out.strip() for (out, _), _ in runs}
    assert len(numbers) == 1
    tickets = query(hd, "SELECT number FROM tickets WHERE external_id = 'CRM-4711'")
    assert [t["number"] for t in tickets] == list(numbers)
    assert query(hd, "SELECT count(*) AS n FROM tickets") == [{"n": 1}]
    opened = query(hd, "SELECT count(*) AS n FROM history WHERE action = 'opened'")
    assert opened == [{"n": 1}]
    acks = query(hd, "SELECT count(*) AS n FROM outbound WHERE kind = 'acknowledgement'")
    assert acks == [{"n": 1}]
