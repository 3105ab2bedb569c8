"""Concurrent changes of one ticket serialise on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_concurrency import query, shared  # noqa: F401  (the fixture is used by name)


@pytest.mark.slow
def test_six_closes_of_one_ticket_at_once_close_it_once(shared) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    hd = shared
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
