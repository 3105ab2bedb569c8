"""``python -m bench [--size tiny|small|medium|full] [knobs] [--json FILE]``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.suite import HEADER, SIZES, Suite, machine, to_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    for knob, default in SIZES["small"].items():
        parser.add_argument(
            f"--{knob.replace('_', '-')}",
            type=int,
            dest=knob,
            help=f"override the size's {knob} (small: {default:,})",
        )
    parser.add_argument(
        "--only",
        default=",".join(Suite.WORKLOADS),
        help=f"comma-separated workloads ({', '.join(Suite.WORKLOADS)})",
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: run bulk, ingest, scale and privacy on PostgreSQL too, beside SQLite",
    )
    parser.add_argument(
        "--pg-url",
        help="PostgreSQL database for --backend postgresql (a schema hdbench_* per helpdesk)",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument(
        "--workdir", type=Path, help="keep helpdesks and data here (reused by later runs)"
    )
    args = parser.parse_args(argv)
    knobs = dict(SIZES[args.size])
    for knob in knobs:
        if getattr(args, knob) is not None:
            knobs[knob] = getattr(args, knob)
    if args.backend == "postgresql" and not args.pg_url:
        parser.error("--backend postgresql needs --pg-url URL")
    pg_url = args.pg_url if args.backend == "postgresql" else None
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(Suite.WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hdcli-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    hdcli = [sys.executable, "-m", "hdcli"]
    script = Path(sys.executable).parent / "hdcli"
    if script.exists():
        hdcli = [str(script)]  # the console script, as users start it

    def log(line: str) -> None:
        print(line, flush=True)

    m = machine()
    log(f"hdcli benchmark, size {args.size}: {knobs}")
    log(
        f"machine: {m['nproc']} CPU(s), {m['cpu']}, Python {m['python']}, "
        f"load {m['loadavg_at_start']}"
    )
    if pg_url:
        from hdcli.config import mask_url

        log(f"PostgreSQL: {mask_url(pg_url)} (rows marked pg), beside SQLite")
    log(HEADER)
    try:
        results = Suite(work, knobs, hdcli, log, pg_url).run(only)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(
            json.dumps(to_json(results, args.size, knobs), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
