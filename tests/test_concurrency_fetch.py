"""Two ``mail fetch`` runs at once over the same Maildir, on SQLite and on PostgreSQL:
every message ends up in exactly one ticket."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_concurrency import query
from test_fetch import anna_mail, configure_sources, maildir


@pytest.mark.slow
def test_two_fetch_runs_at_once_ingest_each_message_once(backend_hd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hd = backend_hd
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"
    box = maildir(tmp_path / "Maildir")
    count = 40
    for i in range(count):
        (box / "new" / f"{i:03d}.host").write_bytes(anna_mail(i, "twin"))
    # two names for one folder: the per-source lock does not keep them apart, only the store does
    configure_sources(
        hd, {"a": {"type": "maildir", "path": str(box)}, "b": {"type": "maildir", "path": str(box)}}
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hdcli", "mail", "fetch", "--source", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=hd.env,
            cwd=hd.root,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    rows = query(
        hd,
        "SELECT message_id, count(DISTINCT ticket_id) AS n FROM articles "
        "WHERE direction = 'in' AND message_id IS NOT NULL GROUP BY message_id",
    )
    assert len(rows) == count
    assert {int(r["n"]) for r in rows} == {1}
    assert int(query(hd, "SELECT count(*) AS n FROM tickets")[0]["n"]) == count
    assert list((box / "new").iterdir()) == []
