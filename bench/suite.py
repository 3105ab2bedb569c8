"""Workloads, measurement and the report of the benchmark suite.

Every figure comes from whole processes, as a user runs them: ``hdcli`` started by
``subprocess``, wall time by ``time.perf_counter``, CPU time and peak memory (``ru_maxrss``) of
that one child by ``os.wait4``, in a small launcher process (see ``_LAUNCH``). Latencies are
the median of ``runs`` runs after one warm-up.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import data

HERE = Path(__file__).resolve().parent

SIZES: dict[str, dict[str, int]] = {
    # runs: latency repetitions; bulk: tickets from JSONL; mails: batch ingest; piped: single
    # mails; entries/billing_tickets: the billing store; tickets: the list/show store;
    # person_tickets: the tickets of the person exported by ``privacy`` (and a tenth of them)
    "tiny": dict(
        runs=2,
        bulk=100,
        mails=30,
        piped=2,
        entries=1_000,
        billing_tickets=100,
        tickets=1_000,
        big_mb=2,
        search_articles=1_000,
        person_tickets=1_000,
    ),
    "small": dict(
        runs=5,
        bulk=2_000,
        mails=500,
        piped=5,
        entries=20_000,
        billing_tickets=2_000,
        tickets=20_000,
        big_mb=70,
        search_articles=20_000,
        person_tickets=10_000,
    ),
    "medium": dict(
        runs=10,
        bulk=20_000,
        mails=2_000,
        piped=10,
        entries=200_000,
        billing_tickets=20_000,
        tickets=200_000,
        big_mb=70,
        search_articles=200_000,
        person_tickets=50_000,
    ),
    "full": dict(
        runs=15,
        bulk=100_000,
        mails=10_000,
        piped=20,
        entries=1_000_000,
        billing_tickets=100_000,
        tickets=1_000_000,
        big_mb=70,
        search_articles=1_000_000,
        person_tickets=100_000,
    ),
}

TARGETS = {
    "version": "≤ 1.1× bare",
    "list": "≤ 1.1× bare",
    "open": "≤ 1.3× bare",
    "show": "≤ 1.3× bare",
    "bulk": "≥ 20,000/s",
    "bulk_ack": "≥ 5,000/s",
    "ingest": "≥ 1,300/s",
    "piped": "≤ 80 ms",
    "billing": "≤ 1,000 ms",
    "bigmail": "≤ 2× size + 60 MB",
    "remote": "≤ 1.2× local",
    "get": "≤ 15 ms",
    "mail_sqlite": "≥ 300/s",
    "mail_postgresql": "≥ 500/s",
    "search": "≤ 50 ms",
    "privacy": "flat peak",
}


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    code: int


@dataclass
class Result:
    """One line of the report."""

    workload: str
    name: str
    value: float | None = None
    unit: str = ""
    cpu_ms: float | None = None
    bare_ms: float | None = None
    ratio: float | None = None
    bare_cpu_ms: float | None = None
    cpu_ratio: float | None = None
    # wall time against the floor of a bare ``python -c pass`` in the same run
    floor_ratio: float | None = None
    target: str = ""
    peak_mb: float | None = None
    status: str = "ok"  # ok | skipped | failed
    note: str = ""
    samples: list[float] = field(default_factory=list)
    backend: str = ""  # the store of the workload: "sqlite", "postgresql" ("" for floors)


#: Runs one measured process and prints its wall time, CPU time, peak RSS and exit code. It
#: runs in a small process of its own because Linux counts in a child's ``ru_maxrss`` the
#: resident size of the process it was spawned from (the spawning process's memory is the
#: child's until it execs): spawned straight from this suite, which holds mails and results, a
#: 30 MB hdcli run showed as 160 MB.
_LAUNCH = r"""
import json, os, subprocess, sys, time
req = json.loads(sys.stdin.buffer.read())
out = open(req["stdout"], "wb") if req["stdout"] else subprocess.DEVNULL
inp = open(req["stdin"], "rb") if req["stdin"] else subprocess.DEVNULL
err = open(os.devnull, "wb")
start = time.perf_counter()
proc = subprocess.Popen(
    req["argv"], env=req["env"], stdin=inp, stdout=out, stderr=err, cwd=req["cwd"]
)
_pid, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code]))
"""


def run_once(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    cwd: Path | None = None,
) -> Sample:
    """Run one process to its end; its own wall time, CPU time and peak RSS (taken by a small
    launcher process, see :data:`_LAUNCH`)."""
    request = {
        "argv": list(argv),
        "env": env,
        "stdin": str(stdin) if stdin else None,
        "stdout": str(stdout) if stdout else None,
        "cwd": str(cwd) if cwd else None,
    }
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCH],
        input=json.dumps(request).encode(),
        capture_output=True,
        check=True,
    )
    wall, cpu, rss_mb, code = json.loads(done.stdout)
    return Sample(wall, cpu, rss_mb, code)


def repeat(
    argv: Sequence[str],
    env: dict[str, str],
    runs: int,
    stdin: Callable[[int], Path | None] | None = None,
) -> list[Sample]:
    """One warm-up run (file cache, .pyc) and ``runs`` measured ones."""
    samples = []
    for i in range(runs + 1):
        s = run_once(argv, env, stdin=stdin(i) if stdin else None)
        if i:
            samples.append(s)
    return samples


def summary(samples: list[Sample]) -> tuple[float, float, float, int]:
    """Median wall ms, median CPU ms, peak MB, worst exit code."""
    return (
        statistics.median(s.wall for s in samples) * 1000,
        statistics.median(s.cpu for s in samples) * 1000,
        max(s.rss_mb for s in samples),
        max(s.code for s in samples),
    )


class Suite:
    """The helpdesks, the bare Typer app and the workloads of one benchmark run."""

    def __init__(
        self,
        work: Path,
        knobs: dict[str, int],
        hdcli: list[str],
        log: Callable[[str], None],
        pg_url: str | None = None,
    ) -> None:
        self.work = work
        #: With a PostgreSQL URL, bulk, ingest, scale and privacy run on SQLite and PostgreSQL in
        #: turn.
        self.pg_url = pg_url
        self.k = knobs
        self.hdcli = hdcli
        self.log = log
        self.results: list[Result] = []
        self.bare = [sys.executable, str(self.work / "bare_typer.py")]
        self.floor_ms: float | None = None

    # -- set-up ------------------------------------------------------------------------
    def env(self, name: str, **extra: str) -> dict[str, str]:
        """The environment of helpdesk ``name``: its config, data and outbox in the work dir."""
        home = self.work / name
        env = {k: v for k, v in os.environ.items() if not k.startswith("HDCLI_")}
        env.update(
            HDCLI_CONFIG=str(home / "config.toml"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            NO_COLOR="1",
            **extra,
        )
        return env

    def helpdesk(self, name: str) -> dict[str, str]:
        """A seeded helpdesk (organisations, contracts, contacts, an agent) in the work dir.

        The first one is seeded through the CLI; the others start from a copy of its store.
        """
        home = self.work / name
        env = self.env(name)
        if (home / "hd.db").exists():
            return env
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            f'[storage]\nurl = "sqlite:///{home / "hd.db"}"\n\n'
            '[mail]\nfrom_address = "helpdesk@smartwork.example"\nfrom_name = "Helpdesk"\n\n'
            f'[mail.outbound]\ntransport = "maildir"\npath = "{home / "outbox"}"\n',
            encoding="utf-8",
        )
        seed = self.work / "seed.db"
        if seed.exists():
            shutil.copyfile(seed, home / "hd.db")
            return env
        for args in data.seed_commands():
            done = subprocess.run(
                [*self.hdcli, *args],
                env=env,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                text=True,
                check=False,
            )
            if done.returncode:
                raise RuntimeError(f"seeding failed: hdcli {' '.join(args)}: {done.stderr}")
        import sqlite3

        con = sqlite3.connect(home / "hd.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        shutil.copyfile(home / "hd.db", seed)
        return env

    def backends(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.pg_url else ["sqlite"]

    def on_backend(self, name: str, env: dict[str, str], backend: str) -> dict[str, str]:
        """``env`` of helpdesk ``name`` (built on SQLite) for ``backend``: for PostgreSQL, its
        store copied (``hdcli db copy``, replacing what the schema held) into the schema
        ``hdbench_NAME`` of ``--pg-url``'s database, then ``ANALYZE``d. A copy marked done
        (``pg-copied``, next to the store's own ``filled`` marker) is reused."""
        if backend == "sqlite":
            return env
        assert self.pg_url
        import psycopg
        from psycopg import sql

        schema = "hdbench_" + "".join(c if c.isalnum() else "_" for c in name)
        sep = "&" if "?" in self.pg_url else "?"
        url = f"{self.pg_url}{sep}options=-csearch_path%3D{schema}"
        pg_env = {**env, "HDCLI_STORAGE__URL": url}
        marker = self.work / name / "pg-copied"
        if marker.exists() and (self.work / name / "filled").exists():
            return pg_env
        with psycopg.connect(self.pg_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        source = f"sqlite:///{self.work / name / 'hd.db'}"
        done = subprocess.run(
            [*self.hdcli, "db", "copy", "--from", source, "--to", url, "--force"],
            env=pg_env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"copy to PostgreSQL failed: {done.stderr.strip()}")
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ANALYZE")
        marker.touch()
        return pg_env

    def count_rows(self, name: str, env: dict[str, str], table: str) -> int:
        url = env.get("HDCLI_STORAGE__URL")
        if not url:
            return _count(self.work / name / "hd.db", table)
        import psycopg

        with psycopg.connect(url) as con:
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(row[0]) if row else 0

    def statements(self, name: str, env: dict[str, str], src: Path, notify: bool) -> None:
        """Statements per new ticket of a bulk open (``bench.count``, in a fresh copy of the
        helpdesk ``name``'s store, over at most 1,000 rows of ``src``)."""
        rows = src.read_text(encoding="utf-8").splitlines(keepends=True)[:1_000]
        sample = self.work / f"{src.stem}-count.jsonl"
        sample.write_text("".join(rows), encoding="utf-8")
        done = self.run_count([str(sample), *(["--notify"] if notify else [])], env)
        backend = "postgresql" if env.get("HDCLI_STORAGE__URL") else "sqlite"
        what = f"statements per new ticket ({'acks' if notify else 'no mail'})"
        if done.returncode:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            self.add(Result("2 bulk open", what, backend=backend, status="failed", note=last))
            return
        got = json.loads(done.stdout.strip().splitlines()[-1])
        per = got["statements"] / max(got["created"], 1)
        top = ", ".join(f"{k} {v / max(got['created'], 1):.2f}" for k, v in got["by_kind"].items())
        self.add(
            Result(
                "2 bulk open",
                what,
                per,
                "stmts",
                backend=backend,
                note=f"{got['created']:,} of {got['rows']:,} rows; per ticket: {top}",
            )
        )

    def has(self, *args: str, env: dict[str, str]) -> bool:
        """Whether ``hdcli ARGS --help`` exists (a command still being built is skipped)."""
        done = subprocess.run(
            [*self.hdcli, *args, "--help"],
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return done.returncode == 0

    def write_bare_app(self) -> None:
        """A bare Typer app with as many commands (and options per command) as hdcli."""
        from hdcli.commands import COMMANDS

        lines = [
            "import sys",
            "from typing import Annotated",
            "import typer",
            "",
            "app = typer.Typer(no_args_is_help=True, add_completion=False, "
            "pretty_exceptions_enable=False, rich_markup_mode=None)",
            "",
            "",
            "def _version(value: bool) -> None:",
            "    if value:",
            "        sys.stdout.write('bare 0.1\\n')",
            "        raise typer.Exit()",
            "",
            "",
            "@app.callback()",
            "def root(version: Annotated[bool, typer.Option('--version', "
            "callback=_version, is_eager=True)] = False) -> None:",
            "    pass",
            "",
        ]
        for name in COMMANDS:
            lines += [
                "",
                f"@app.command({name!r})",
                f"def cmd_{name}(limit: Annotated[int | None, typer.Option()] = None, "
                "quiet: Annotated[bool, typer.Option('-q')] = False) -> None:",
                "    sys.stdout.write('ok\\n')",
                "",
            ]
        lines += ["", "app()", ""]
        (self.work / "bare_typer.py").write_text("\n".join(lines), encoding="utf-8")

    # -- workloads ---------------------------------------------------------------------
    def add(self, result: Result) -> None:
        # every latency is read against the floor of a Python process doing nothing
        latency = result.unit in ("ms", "ms/mail") and result.value is not None
        if latency and result.floor_ratio is None and self.floor_ms:
            result.floor_ratio = result.value / self.floor_ms
        self.results.append(result)
        self.log(format_row(result))

    def latency(
        self,
        workload: str,
        label: str,
        args: list[str],
        env: dict[str, str],
        bare: list[str] | None,
        target: str,
        stdin: Callable[[int], Path | None] | None = None,
    ) -> None:
        samples = repeat([*self.hdcli, *args], env, self.k["runs"], stdin)
        wall, cpu, peak, code = summary(samples)
        res = Result(
            workload,
            label,
            wall,
            "ms",
            cpu,
            target=target,
            peak_mb=peak,
            samples=[round(s.wall * 1000, 1) for s in samples],
            backend="postgresql" if env.get("HDCLI_STORAGE__URL") else "sqlite",
        )
        if code:
            res.status, res.note = "failed", f"exit code {code}"
        if bare is not None:
            bwall, bcpu, _bpeak, _ = summary(repeat(bare, env, self.k["runs"]))
            res.bare_ms, res.ratio = bwall, wall / bwall
            res.bare_cpu_ms, res.cpu_ratio = bcpu, cpu / bcpu if bcpu else None
        self.add(res)

    def w0_floors(self) -> None:
        """The physical floor every latency is read against: a Python process doing nothing,
        one that imports ``sqlite3`` and runs one query, and the bare Typer app running a
        command with an option (the same Typer as hdcli: this interpreter's)."""
        env = self.env("floors")
        query = "import sqlite3; sqlite3.connect(':memory:').execute('SELECT 1').fetchone()"
        floors = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python: import sqlite3, one query", [sys.executable, "-c", query]),
            (f"bare Typer {_typer_version()} app: list --limit 1",
             [*self.bare, "list", "--limit", "1"]),
        ]  # fmt: skip
        for label, argv in floors:
            wall, cpu, peak, code = summary(samples := repeat(argv, env, self.k["runs"]))
            if self.floor_ms is None:
                self.floor_ms = wall
            res = Result(
                "0 floor",
                label,
                wall,
                "ms",
                cpu,
                floor_ratio=wall / self.floor_ms,
                peak_mb=peak,
                samples=[round(s.wall * 1000, 1) for s in samples],
            )
            if code:
                res.status, res.note = "failed", f"exit code {code}"
            self.add(res)

    def w1_start(self) -> None:
        env = self.helpdesk("start")
        self.write_bare_app()
        self.latency(
            "1 start",
            "hdcli --version",
            ["--version"],
            env,
            [*self.bare, "--version"],
            TARGETS["version"],
        )
        self.latency(
            "1 start",
            "hdcli list --limit 1",
            ["list", "--limit", "1"],
            env,
            [*self.bare, "list", "--limit", "1"],
            TARGETS["list"],
        )
        self.latency(
            "1 start",
            "hdcli open (ack mailed)",
            [
                "open",
                "-c",
                data.contacts()[0][2],
                "-s",
                "Drucker druckt nicht",
                "-m",
                "Seit heute früh.",
                "-q",
            ],
            env,
            [*self.bare, "open", "-q"],
            TARGETS["open"],
        )
        self.latency(
            "1 start",
            "hdcli open --no-notify",
            [
                "open",
                "-c",
                data.contacts()[0][2],
                "-s",
                "Drucker druckt nicht",
                "-m",
                "Seit heute früh.",
                "-q",
                "--no-notify",
            ],
            env,
            [*self.bare, "open", "-q"],
            TARGETS["open"],
        )

    def w2_bulk(self) -> None:
        n = self.k["bulk"]
        # The ten benchmark contacts reach the daily cap of automatic mails (10 per address by
        # default) after 100 acknowledgements; "every ack" lifts the cap so each ticket gets one.
        variants = (
            (False, "no mail", "bulk", None),
            (True, "acks queued", "bulk_ack", None),
            (True, "every ack queued (no cap)", "bulk_ack", "1000000000"),
        )
        for (notify, label, key, cap), backend in itertools.product(variants, self.backends()):
            name = f"bulk-{key}" + ("-nocap" if cap else "")
            shutil.rmtree(self.work / name, ignore_errors=True)
            env = self.on_backend(name, self.helpdesk(name), backend)
            src = self.work / f"requests-{key}.jsonl"
            data.write_requests(src, n, seed=11 if notify else 12)
            args = ["open", "--from-file", str(src), "-q"]
            if not notify:
                args.append("--no-notify")
            env = {**env, "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}  # queued, not sent
            if cap:
                env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = cap
            s = run_once([*self.hdcli, *args], env)
            res = Result(
                "2 bulk open",
                f"{n:,} from JSONL, {label}",
                n / s.wall,
                "tickets/s",
                s.cpu * 1000,
                target=TARGETS[key],
                peak_mb=s.rss_mb,
                backend=backend,
            )
            if s.code:
                res.status, res.note = "failed", f"exit code {s.code}"
            elif notify:
                res.note = f"{self.count_rows(name, env, 'outbound'):,} acks queued"
            self.add(res)
            if not cap:  # statements per ticket, in a fresh store again, mail queued as above
                shutil.rmtree(self.work / name, ignore_errors=True)
                fresh = self.on_backend(name, self.helpdesk(name), backend)
                fresh["HDCLI_MAIL__OUTBOUND__SEND_NOW"] = "false"
                self.statements(name, fresh, src, notify)

    def _ingest_store(self, name: str) -> tuple[dict[str, str], list[str]]:
        env = self.helpdesk(name)
        db = self.work / name / "hd.db"
        numbers = data.fill_store(db, max(self.k["mails"] // 10, 50), 0)
        return env, numbers

    def w3_ingest(self) -> None:
        for backend in self.backends():
            self._ingest(backend)

    def _ingest(self, backend: str) -> None:
        n = self.k["mails"]
        shutil.rmtree(self.work / "ingest", ignore_errors=True)
        env, numbers = self._ingest_store("ingest")
        env = self.on_backend("ingest", env, backend)
        if not self.has("mail", "ingest", env=env):
            self.add(
                Result(
                    "3 batch ingest",
                    f"{n:,} mails",
                    status="skipped",
                    target=TARGETS["ingest"],
                    note="hdcli mail ingest does not exist yet",
                )
            )
            return
        folder = self.work / "mails"
        shutil.rmtree(folder, ignore_errors=True)
        data.write_mails(folder, n, numbers)
        s = run_once(
            [*self.hdcli, "mail", "ingest", str(folder)],
            {**env, "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"},
        )
        res = Result(
            "3 batch ingest",
            f"{n:,} mails (70% new, 30% AW:, 10% PDF)",
            n / s.wall,
            "mails/s",
            s.cpu * 1000,
            target=TARGETS["ingest"],
            peak_mb=s.rss_mb,
            backend=backend,
        )
        if s.code:
            res.status, res.note = "failed", f"exit code {s.code}"
        self.add(res)
        self._ingest_two(backend, folder, n / s.wall)

    def _ingest_two(self, backend: str, folder: Path, one_rate: float) -> None:
        """The same mails into a fresh store by two ``hdcli mail ingest`` processes at once,
        each over half of the folder: the rate of both together, and its ratio to one."""
        halves = [self.work / "mails-a", self.work / "mails-b"]
        for half in halves:
            shutil.rmtree(half, ignore_errors=True)
            half.mkdir()
        for i, path in enumerate(sorted(folder.iterdir())):
            os.link(path, halves[i % 2] / path.name)
        shutil.rmtree(self.work / "ingest", ignore_errors=True)
        env, _numbers = self._ingest_store("ingest")
        env = {**self.on_backend("ingest", env, backend), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
        n = sum(1 for _ in folder.iterdir())
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*self.hdcli, "mail", "ingest", str(half)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for half in halves
        ]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - start
        rate = n / wall
        res = Result(
            "3 batch ingest",
            f"{n:,} mails, two processes over two halves",
            rate,
            "mails/s",
            ratio=rate / one_rate,
            target="≥ 1.6× one" if backend == "postgresql" else "",
            backend=backend,
            note=f"{rate / one_rate:.2f}× one process",
        )
        if any(codes):
            res.status, res.note = "failed", f"exit codes {codes}"
        self.add(res)

    def w4_piped(self) -> None:
        shutil.rmtree(self.work / "piped", ignore_errors=True)  # a reused work folder too
        env, numbers = self._ingest_store("piped")
        folder = self.work / "piped-mails"
        shutil.rmtree(folder, ignore_errors=True)
        data.write_mails(folder, self.k["piped"] + 1, numbers, seed=5)
        files = sorted(folder.iterdir())
        gate = Path(sys.executable).parent / "hdcli-mailgate"
        variants: list[tuple[str, list[str] | None]] = [
            (
                "hdcli mail ingest -",
                [*self.hdcli, "mail", "ingest", "-"]
                if self.has("mail", "ingest", env=env)
                else None,
            ),
            ("hdcli-mailgate", [str(gate)] if gate.exists() else None),
        ]
        for label, argv in variants:
            if argv is None:
                self.add(
                    Result(
                        "4 piped mail",
                        label,
                        status="skipped",
                        target=TARGETS["piped"],
                        note=f"{label.rstrip(' -')} does not exist yet",
                    )
                )
                continue
            # each run a different mail: a repeated Message-ID would be a no-op
            samples = repeat(
                argv,
                {**env, "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"},
                self.k["piped"],
                stdin=lambda i: files[i % len(files)],
            )
            wall, cpu, peak, code = summary(samples)
            res = Result(
                "4 piped mail",
                label,
                wall,
                "ms/mail",
                cpu,
                target=TARGETS["piped"],
                peak_mb=peak,
                samples=[round(s.wall * 1000, 1) for s in samples],
            )
            if code:
                res.status, res.note = "failed", f"exit code {code}"
            self.add(res)
            # later runs would find the same Message-IDs again
            shutil.rmtree(self.work / "piped", ignore_errors=True)
            env, numbers = self._ingest_store("piped")

    def w6_bigmail(self) -> None:
        """Peak memory of ``hdcli-mailgate`` for one big mail: over ``mail.max_message_size``
        (headers only) and, with the cap raised above it, parsed in full."""
        gate = Path(sys.executable).parent / "hdcli-mailgate"
        size = self.k["big_mb"] * 1024 * 1024
        label = f"hdcli-mailgate, one {self.k['big_mb']} MB mail"
        target = f"≤ {2 * self.k['big_mb'] + 60} MB"
        if not gate.exists():
            self.add(Result("6 big mail", label, status="skipped", note="no hdcli-mailgate"))
            return
        path = self.work / "big.eml"
        # Written by another process: a child's ru_maxrss includes what its parent held when
        # it forked, so the mail must never be in this one.
        subprocess.run(
            [sys.executable, "-c", "import sys; from bench import data; "
             "open(sys.argv[1], 'wb').write(data.big_mail(int(sys.argv[2])))", str(path),
             str(size)],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        cases = (
            ({}, "default cap"),
            ({"MAX_MESSAGE_SIZE": 2 * size}, "cap raised: parsed"),
            ({"MAX_MESSAGE_SIZE": 2 * size, "MAX_ATTACHMENT_SIZE": 2 * size}, "parsed, stored"),
        )
        for backend in self.backends():
            for caps, what in cases:
                shutil.rmtree(self.work / "bigmail", ignore_errors=True)
                env = {**self.helpdesk("bigmail"), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
                env = self.on_backend("bigmail", env, backend)
                env.update({f"HDCLI_MAIL__{k}": str(v) for k, v in caps.items()})
                s = run_once([str(gate)], env, stdin=path)
                res = Result(
                    "6 big mail",
                    f"{label} ({what})",
                    s.rss_mb,
                    "MB peak",
                    s.cpu * 1000,
                    target=target,
                    peak_mb=s.rss_mb,
                    backend=backend,
                )
                if s.code:
                    res.status, res.note = "failed", f"exit code {s.code}"
                self.add(res)

    def w10_ccbomb(self) -> None:
        """A mail with 100,000 Cc addresses through ``hdcli-mailgate`` (from a stranger and from
        a served contact), and an ``hdcli open`` started while it is being handled: the bomb
        must be handled in under 2 s and must not hold other writers."""
        gate = Path(sys.executable).parent / "hdcli-mailgate"
        count = 100_000
        if not gate.exists():
            self.add(Result("10 Cc bomb", "hdcli-mailgate", status="skipped", note="no gate"))
            return
        for stranger in (True, False):
            who = "a stranger" if stranger else "a served contact"
            path = self.work / f"ccbomb-{int(stranger)}.eml"
            subprocess.run(
                [sys.executable, "-c", "import sys; from bench import data; "
                 "open(sys.argv[1], 'wb').write(data.cc_mail(int(sys.argv[2]), "
                 "sys.argv[3] == '1'))", str(path), str(count), str(int(stranger))],
                check=True,
                cwd=Path(__file__).resolve().parent.parent,
            )  # fmt: skip
            size_mb = path.stat().st_size / 1024 / 1024
            shutil.rmtree(self.work / "ccbomb", ignore_errors=True)
            env = {**self.helpdesk("ccbomb"), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
            alone = run_once([str(gate)], env, stdin=path)
            self.add(
                Result(
                    "10 Cc bomb",
                    f"hdcli-mailgate, {count:,} Cc from {who} ({size_mb:.1f} MB)",
                    alone.wall * 1000,
                    "ms",
                    alone.cpu * 1000,
                    target="< 2,000 ms",
                    peak_mb=alone.rss_mb,
                    status="failed" if alone.code else "ok",
                    note=f"exit code {alone.code}" if alone.code else "",
                )
            )
            # the same mail again into a fresh store, with `hdcli open` run one after the other
            # for as long as the gateway is busy with it: the slowest open is what a writer
            # waits at worst
            shutil.rmtree(self.work / "ccbomb", ignore_errors=True)
            env = {**self.helpdesk("ccbomb"), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
            _org, _name, addr = data.contacts()[1]
            opens: list[Sample] = []
            with open(path, "rb") as inp:
                bomb = subprocess.Popen(
                    [str(gate)],
                    env=env,
                    stdin=inp,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                while bomb.poll() is None or not opens:
                    opens.append(
                        run_once(
                            [*self.hdcli, "open", "--contact", addr, "--subject", "Drucker",
                             "--body", "x"],
                            env,
                        )
                    )  # fmt: skip
                bomb.wait()
            bomb_opens = len(opens)
            # the same open with nothing else running, for comparison
            opens.extend(
                run_once(
                    [*self.hdcli, "open", "--contact", addr, "--subject", "Drucker", "--body", "x"],
                    env,
                )
                for _ in range(3)
            )
            alone_ms = statistics.median(o.wall for o in opens[bomb_opens:]) * 1000
            opens = opens[:bomb_opens]
            worst = max(opens, key=lambda o: o.wall)
            failed = [o.code for o in opens if o.code] + (
                [bomb.returncode] if bomb.returncode else []
            )
            self.add(
                Result(
                    "10 Cc bomb",
                    f"slowest of {len(opens)} hdcli open while the mail from {who} is handled",
                    worst.wall * 1000,
                    "ms",
                    worst.cpu * 1000,
                    peak_mb=worst.rss_mb,
                    status="failed" if failed else "ok",
                    note=f"exit codes {failed}" if failed else f"alone: {alone_ms:.0f} ms",
                    samples=[round(o.wall * 1000, 1) for o in opens],
                )
            )

    def w5_scale(self) -> None:
        for backend in self.backends():
            self._scale(backend)

    def _scale(self, backend: str) -> None:
        k = self.k
        env = self.helpdesk("billing")
        marker = self.work / "billing" / "filled"
        if not marker.exists():
            self.log(
                f"  building a store: {k['entries']:,} time entries on "
                f"{k['billing_tickets']:,} tickets …"
            )
            data.fill_store(self.work / "billing" / "hd.db", k["billing_tickets"], k["entries"])
            marker.touch()
        env = self.on_backend("billing", env, backend)
        if self.has("report", "billing", env=env):
            self.latency(
                "5 scale",
                f"report billing --month 2026-03 ({k['entries']:,} entries)",
                ["report", "billing", "--month", "2026-03"],
                env,
                None,
                TARGETS["billing"],
            )
        else:
            self.add(
                Result(
                    "5 scale",
                    "report billing --month 2026-03",
                    status="skipped",
                    target=TARGETS["billing"],
                    note="hdcli report billing does not exist yet",
                )
            )
        env = self.helpdesk("big")
        marker = self.work / "big" / "filled"
        numbers_file = self.work / "big" / "numbers.json"
        if not marker.exists():
            self.log(f"  building a store: {k['tickets']:,} tickets …")
            numbers = data.fill_store(self.work / "big" / "hd.db", k["tickets"], k["tickets"] // 10)
            numbers_file.write_text(json.dumps(numbers), encoding="utf-8")
            marker.touch()
        env = self.on_backend("big", env, backend)
        numbers = json.loads(numbers_file.read_text(encoding="utf-8"))
        number = numbers[len(numbers) // 2]
        self.latency(
            "5 scale",
            f"show at {k['tickets']:,} tickets",
            ["show", number],
            env,
            [*self.bare, "show", "-q"],
            TARGETS["show"],
        )
        self.latency(
            "5 scale",
            f"list --limit 1 at {k['tickets']:,} tickets",
            ["list", "--limit", "1"],
            env,
            [*self.bare, "list", "--limit", "1"],
            TARGETS["list"],
        )

    def w7_server(self) -> None:
        """A served helpdesk (``hdcli serve``, one worker) against local storage: ``list`` and
        ``show`` through the CLI, ``GET /tickets/N`` with a token, ``POST /mail`` from 4
        concurrent gateway clients; on each backend."""
        import importlib.util

        if importlib.util.find_spec("uvicorn") is None:
            self.add(Result("7 server", "hdcli serve", status="skipped", note="no hdcli[server]"))
            return
        shutil.rmtree(self.work / "server", ignore_errors=True)
        env = {**self.helpdesk("server"), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
        numbers = data.fill_store(self.work / "server" / "hd.db", max(self.k["mails"], 50), 0)
        # every store copied before any of them takes mail
        envs = [(b, self.on_backend("server", env, b)) for b in self.backends()]
        for backend, on in envs:
            self._server(backend, on, numbers)

    def _server(self, backend: str, env: dict[str, str], numbers: list[str]) -> None:
        import socket
        from concurrent.futures import ThreadPoolExecutor

        import requests

        number = numbers[len(numbers) // 2]

        def token(role: str) -> str:
            done = subprocess.run(
                [*self.hdcli, "token", "create", "mmueller", "--role", role],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            return done.stdout.strip()

        agent, gateway = token("agent"), token("gateway")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [*self.hdcli, "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/api"
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            remote = {
                **env,
                "HDCLI_STORAGE__URL": url,
                "HDCLI_STORAGE__TOKEN_ENV": "HD_TOKEN",
                "HD_TOKEN": agent,
            }
            for label, args in (
                ("list --limit 1", ["list", "--limit", "1"]),
                ("show", ["show", number]),
            ):
                local = summary(repeat([*self.hdcli, *args], env, self.k["runs"]))
                served = summary(repeat([*self.hdcli, *args], remote, self.k["runs"]))
                res = Result(
                    "7 server", f"hdcli {label} via server", served[0], "ms", served[1],
                    bare_ms=local[0], ratio=served[0] / local[0], target=TARGETS["remote"],
                    peak_mb=served[2], backend=backend,
                )  # fmt: skip
                if served[3] or local[3]:
                    res.status, res.note = "failed", f"exit code {served[3] or local[3]}"
                self.add(res)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {agent}"
            times = []
            for _ in range(self.k["runs"] * 10 + 1):
                start = time.perf_counter()
                answer = session.get(f"{url}/tickets/{number}", timeout=30)
                times.append(time.perf_counter() - start)
            res = Result(
                "7 server", "GET /tickets/N (token)", statistics.median(times[1:]) * 1000, "ms",
                target=TARGETS["get"], samples=[round(t * 1000, 1) for t in times[1:]],
                backend=backend,
            )  # fmt: skip
            if answer.status_code != 200:
                res.status, res.note = "failed", f"HTTP {answer.status_code}"
            self.add(res)
            folder = self.work / "server-mails"
            shutil.rmtree(folder, ignore_errors=True)
            data.write_mails(folder, self.k["mails"], numbers, seed=7)
            mails = [p.read_bytes() for p in sorted(folder.iterdir())]

            def post(chunk: list[bytes]) -> int:
                with requests.Session() as s:
                    s.headers["Authorization"] = f"Bearer {gateway}"
                    return sum(
                        s.post(f"{url}/mail", data=m, timeout=60).status_code != 200 for m in chunk
                    )

            start = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                failed = sum(pool.map(post, [mails[i::4] for i in range(4)]))
            wall = time.perf_counter() - start
            res = Result(
                "7 server", f"POST /mail, {len(mails):,} mails, 4 clients",
                len(mails) / wall, "mails/s", target=TARGETS[f"mail_{backend}"], backend=backend,
            )  # fmt: skip
            if failed:
                res.status, res.note = "failed", f"{failed} answers not 200"
            self.add(res)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def w8_search(self) -> None:
        """``hdcli search`` over a store of ``search_articles`` mails (one a ticket): building
        the index, then the query alone in process (the target: ≤ 50 ms at 1,000,000
        articles) for a rare word, a common one and two words, and the whole command."""
        import statistics
        import time

        from hdcli.backends import open_storage
        from hdcli.search import rebuild
        from hdcli.views import list_tickets

        n = self.k["search_articles"]
        env = self.helpdesk("search")
        db = self.work / "search" / "hd.db"
        marker = self.work / "search" / "filled"
        store = open_storage(f"sqlite:///{db}")
        try:
            if not marker.exists():
                self.log(f"  building a store: {n:,} tickets with a mail each …")
                data.fill_store(db, n, 0, bodies=True)
                start = time.perf_counter()
                rebuild(store)
                took = time.perf_counter() - start
                marker.touch()
                self.add(
                    Result("8 search", f"index {n:,} articles", n / took, "articles/s", took * 1000)
                )
            for label, query in (
                ("a rare word", data.RARE),
                ("a common word", "Drucker"),
                ("two words", "Passwort Outlook"),
            ):
                times = []
                for _ in range(max(self.k["runs"], 3)):
                    start = time.perf_counter()
                    rows = list_tickets(store, search=query, ranked=True, limit=20)
                    times.append((time.perf_counter() - start) * 1000)
                self.add(
                    Result(
                        "8 search",
                        f"query, {label} ({len(rows)} shown) at {n:,} articles",
                        statistics.median(times),
                        "ms",
                        target=TARGETS["search"],
                        samples=[round(t, 1) for t in times],
                    )
                )
        finally:
            store.close()
        self.latency(
            "8 search",
            f"hdcli search Drucker --limit 20 at {n:,} articles",
            ["search", "Drucker", "--limit", "20"],
            env,
            [*self.bare, "list", "--limit", "20"],
            "",
        )

    def w9_privacy(self) -> None:
        """``hdcli privacy export ADDRESS -o FILE`` of one person with a tenth of
        ``person_tickets`` tickets and with all of them (as many tickets of other people
        beside them): wall, CPU and peak memory of the process, and the statements it sends
        (``bench.count --export``). Streamed, the peak stays flat from one to the other."""
        n = self.k["person_tickets"]
        for backend, count in itertools.product(self.backends(), (max(n // 10, 1), n)):
            name = f"privacy-{count}"
            env = self.helpdesk(name)
            home = self.work / name
            if not (home / "filled").exists():
                self.log(f"  building a store: a person with {count:,} tickets …")
                # Built by another process: a child's ru_maxrss includes what its parent held
                # when it forked, so the rows must never be in this one.
                subprocess.run(
                    [sys.executable, "-c", "import sys; from pathlib import Path; "
                     "from bench import data; Path(sys.argv[2]).write_text("
                     "data.fill_person(Path(sys.argv[1]), int(sys.argv[3])))",
                     str(home / "hd.db"), str(home / "person"), str(count)],
                    check=True,
                    cwd=HERE.parent,
                )  # fmt: skip
                (home / "filled").touch()
            address = (home / "person").read_text()
            env = self.on_backend(name, env, backend)
            out = home / "export.json"
            samples = repeat(
                [*self.hdcli, "privacy", "export", address, "-o", str(out)], env, self.k["runs"]
            )
            wall, cpu, peak, code = summary(samples)
            res = Result(
                "9 privacy",
                f"privacy export, {count:,} tickets",
                wall,
                "ms",
                cpu,
                target=TARGETS["privacy"],
                peak_mb=peak,
                samples=[round(s.wall * 1000, 1) for s in samples],
                backend=backend,
                note=f"{out.stat().st_size / 1e6:.1f} MB written" if out.exists() else "",
            )
            if code:
                res.status, res.note = "failed", f"exit code {code}"
            self.add(res)
            self.export_statements(count, address, env, backend)

    def run_count(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """``python -m bench.count ARGS`` in the helpdesk of ``env``."""
        return subprocess.run(
            [sys.executable, "-m", "bench.count", *args],
            env={
                **env,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, (env.get("PYTHONPATH"), str(HERE.parent)))
                ),
            },
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
            cwd=self.work,  # not the checkout: hdcli comes from the path, as for the CLI
        )

    def export_statements(
        self, count: int, address: str, env: dict[str, str], backend: str
    ) -> None:
        done = self.run_count(["--export", address], env)
        what = f"statements of an export, {count:,} tickets"
        if done.returncode:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            self.add(Result("9 privacy", what, backend=backend, status="failed", note=last))
            return
        got = json.loads(done.stdout.strip().splitlines()[-1])
        top = ", ".join(f"{k} {v}" for k, v in got["by_kind"].items())
        self.add(
            Result(
                "9 privacy",
                what,
                got["statements"],
                "stmts",
                backend=backend,
                note=f"{got['rows']:,} rows; {top}",
            )
        )

    WORKLOADS = (
        "start",
        "bulk",
        "ingest",
        "piped",
        "scale",
        "bigmail",
        "server",
        "search",
        "ccbomb",
        "privacy",
    )

    def run(self, only: Sequence[str]) -> list[Result]:
        steps = {
            "start": self.w1_start,
            "bulk": self.w2_bulk,
            "ingest": self.w3_ingest,
            "piped": self.w4_piped,
            "scale": self.w5_scale,
            "bigmail": self.w6_bigmail,
            "server": self.w7_server,
            "search": self.w8_search,
            "ccbomb": self.w10_ccbomb,
            "privacy": self.w9_privacy,
        }
        self.write_bare_app()
        _compile_bytecode()
        self.w0_floors()  # always: every ratio is read against them
        for name in self.WORKLOADS:
            if name in only:
                try:
                    steps[name]()
                except Exception as exc:  # one broken workload must not hide the others
                    self.add(
                        Result(
                            name, "(workload)", status="failed", note=f"{type(exc).__name__}: {exc}"
                        )
                    )
        return self.results


def _compile_bytecode() -> None:
    """Write the bytecode of hdcli (and its plugins in this checkout) as ``pip install``
    does for an installed package. An editable install has none, and with
    ``PYTHONDONTWRITEBYTECODE`` set no run writes it, so every command would compile some
    100 modules first (about 50 ms) while Typer, installed with its bytecode, would not."""
    import compileall

    import hdcli

    for folder in (Path(hdcli.__file__).parent, HERE.parent / "plugins"):
        if folder.is_dir():
            compileall.compile_dir(folder, quiet=1)


def _typer_version() -> str:
    from importlib.metadata import version

    return version("typer")


def _count(db: Path, table: str) -> int:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit.endswith("/s"):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def format_row(r: Result) -> str:
    ratio = f"{r.ratio:.2f}×" if r.ratio is not None else ""
    cpu_ratio = f"{r.cpu_ratio:.2f}×" if r.cpu_ratio is not None else ""
    floor = f"{r.floor_ratio:.2f}×" if r.floor_ratio is not None else ""
    value = f"{_num(r.value, r.unit)} {r.unit}" if r.status != "skipped" else "SKIPPED"
    cpu = f"{_num(r.cpu_ms)} ms" if r.cpu_ms is not None else ""
    bare = f"{_num(r.bare_ms)} ms" if r.bare_ms is not None else ""
    peak = f"{r.peak_mb:.0f} MB" if r.peak_mb is not None else ""
    note = f"  [{r.status}: {r.note}]" if r.note else ""
    store = {"sqlite": "sqlite", "postgresql": "pg"}.get(r.backend, "")
    return (
        f"{r.workload:<14} {store:<6} {r.name:<46.46} {value:>17} {cpu:>11} {bare:>10} {ratio:>6} "
        f"{cpu_ratio:>6} {floor:>6} {r.target:>12} {peak:>6}{note}"
    )


HEADER = (
    f"{'workload':<14} {'store':<6} {'what':<46} {'median/rate':>17} {'cpu':>11} {'bare':>10} "
    f"{'ratio':>6} {'cpu×':>6} {'pass×':>6} {'target':>12} {'peak':>6}"
)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "loadavg_at_start": load,
    }


def to_json(results: list[Result], size: str, knobs: dict[str, int]) -> dict[str, Any]:
    return {
        "size": size,
        "knobs": knobs,
        "machine": machine(),
        "results": [asdict(r) for r in results],
    }
