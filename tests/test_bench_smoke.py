"""The benchmark suite runs at its tiny size and prints a figure for every workload.

The figures are printed (``pytest -s`` or the captured output of a failure shows them), never
asserted: timing depends on the machine. CI runs ``python -m bench --size small`` as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_suite_runs_every_workload_at_tiny_size(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HDCLI_", "XDG_"))}
    report = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--size",
            "tiny",
            "--json",
            str(report),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(done.stdout)
    print(done.stderr, file=sys.stderr)
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    workloads = {r["workload"] for r in results}
    assert workloads >= {"1 start", "2 bulk open", "3 batch ingest", "4 piped mail", "5 scale"}
    failed = [
        f"{r['workload']} {r['name']}: {r['note']}" for r in results if r["status"] == "failed"
    ]
    assert failed == []
    assert done.returncode == 0
    for r in results:
        assert r["status"] == "skipped" or r["value"] is not None
        if r["status"] == "ok":
            assert f"{r['name'][:40]}" in done.stdout  # printed in the table
    ratios = [r for r in results if r["ratio"] is not None]
    assert {r["name"] for r in ratios} >= {"hdcli --version", "hdcli list --limit 1"}
    floors = [r for r in results if r["workload"] == "0 floor"]
    assert [r["name"].split(":")[0] for r in floors] == [
        "python -c pass",
        "python",
        f"bare Typer {typer.__version__} app",
    ]
    # every latency is read against the floor of a Python process doing nothing
    for r in results:
        if r["unit"] in ("ms", "ms/mail") and r["status"] == "ok":
            assert r["floor_ratio"] is not None, r["name"]
