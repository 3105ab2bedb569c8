"""Many writers at once, as real ``hdcli`` processes, on SQLite and on PostgreSQL.

No duplicate ticket number, no lost ticket, no error, and no outbound mail sent twice by two
``mail flush`` runs at the same time.

The opening workers are processes that each run their ``hdcli open`` command lines one after
the other in process (``hdcli.testing.invoke``: every run opens, uses and closes its own
connection, as a separate ``hdcli`` process would); starting a Python process per command would
make the test about start-up time, not about concurrent writers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes

import pytest

WORKERS = 8
OPENS_PER_WORKER = 40


def query(hd, sql: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    from hdcli.backends import open_storage

    store = open_storage(hd.env["HDCLI_STORAGE__URL"], None, upgrade=False)
    try:
        return store.query(sql)
    finally:
        store.close()


def hdcli(hd, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "hdcli", *args], capture_output=True, text=True,
        env=hd.env, cwd=hd.root, timeout=300,
    )  # fmt: skip


# One worker process: OPENS_PER_WORKER ``hdcli open`` runs in a row, their results as JSON.
OPEN_WORKER = """
import json, os, sys
from hdcli.testing import invoke

w, n = int(sys.argv[1]), int(sys.argv[2])
runs = []
for i in range(n):
    done = invoke(
        ["open", "--contact", "anna.schmidt@muster.example",
         "--subject", f"Worker {w} ticket {i}", "--body", "parallel", "-q"],
        env=dict(os.environ),
    )
    runs.append([done.returncode, done.stdout, done.stderr])
print(json.dumps(runs))
"""


@pytest.mark.slow
def test_concurrent_opens_get_distinct_numbers(backend_hd) -> None:  # type: ignore[no-untyped-def]
    hd = backend_hd
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WORKER, str(w), str(OPENS_PER_WORKER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=hd.env,
            cwd=hd.root,
        )
        for w in range(WORKERS)
    ]
    runs: list[tuple[int, str, str]] = []
    for proc in workers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        runs += [(code, stdout, stderr) for code, stdout, stderr in json.loads(out)]

    assert len(runs) == WORKERS * OPENS_PER_WORKER
    failures = [(code, stderr) for code, _, stderr in runs if code != 0]
    assert failures == []
    numbers = [stdout.strip() for _, stdout, _ in runs]
    total = WORKERS * OPENS_PER_WORKER
    assert len(set(numbers)) == total
    assert all(len(n) == 16 and n.isdigit() for n in numbers)
    listed = hd.json("list")
    assert sorted(t["number"] for t in listed) == sorted(numbers)
    subjects = {t["subject"] for t in listed}
    assert len(subjects) == total
    opened = query(hd, "SELECT count(*) AS n FROM history WHERE action = 'opened'")
    assert opened == [{"n": total}]


@pytest.mark.slow
def test_concurrent_flushes_send_each_mail_once(backend_hd) -> None:  # type: ignore[no-untyped-def]
    hd = backend_hd
    hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "1000"
    rows = "".join(
        json.dumps({"contact": "anna.schmidt@muster.example", "subject": f"Mail {i}",
                    "body": "x"}) + "\n"
        for i in range(60)
    )  # fmt: skip
    proc = hd(
        "open", "--from-file", "-", input=rows, env={"HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
    )
    assert proc.returncode == 0, proc.stderr
    queued = query(hd, "SELECT count(*) AS n FROM outbound WHERE status = 'queued'")[0]["n"]
    assert queued == 60
    assert not (hd.outbox / "new").exists() or not any((hd.outbox / "new").iterdir())

    # Rounds of six flushes at once, a few mails each, until the queue is empty.
    for _ in range(20):
        with ThreadPoolExecutor(6) as pool:
            runs = list(pool.map(lambda _: hdcli(hd, "mail", "flush", "--limit", "4"), range(6)))
        assert [(p.returncode, p.stderr) for p in runs if p.returncode != 0] == []
        left = query(hd, "SELECT count(*) AS n FROM outbound WHERE status <> 'sent'")[0]["n"]
        if left == 0:
            break
    assert left == 0

    files = list((hd.outbox / "new").iterdir())
    ids = [message_from_bytes(f.read_bytes())["Message-ID"] for f in files]
    assert len(files) == 60
    assert len(set(ids)) == 60
