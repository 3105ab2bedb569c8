"""Workloads, measurement and the report of the benchmark suite.

Every figure comes from whole processes, as a user runs them: ``hdcli`` started by
``subprocess``, wall time by ``time.perf_counter``, CPU time and peak memory (``ru_maxrss``) of
that one child by ``os.wait4``. Latencies are the median of ``runs`` runs after one warm-up.
"""

from __future__ import annotations

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
    # mails; entries/billing_tickets: the billing store; tickets: the list/show store
    "tiny": dict(
        runs=2,
        bulk=100,
        mails=30,
        piped=2,
        entries=1_000,
        billing_tickets=100,
        tickets=1_000,
        big_mb=2,
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


def run_once(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    cwd: Path | None = None,
) -> Sample:
    """Run one process to its end; its own wall time, CPU time and peak RSS."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    inp = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115
    err = open(os.devnull, "wb")  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, stdin=inp, stdout=out, stderr=err, cwd=cwd)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for fh in (out, inp, err):
            if not isinstance(fh, int):
                fh.close()
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


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
        self, work: Path, knobs: dict[str, int], hdcli: list[str], log: Callable[[str], None]
    ) -> None:
        self.work = work
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
        )
        if code:
            res.status, res.note = "failed", f"exit code {code}"
        if self.floor_ms:
            res.floor_ratio = wall / self.floor_ms
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
        for notify, label, key, cap in variants:
            name = f"bulk-{key}" + ("-nocap" if cap else "")
            shutil.rmtree(self.work / name, ignore_errors=True)
            env = self.helpdesk(name)
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
            )
            if s.code:
                res.status, res.note = "failed", f"exit code {s.code}"
            elif notify:
                res.note = f"{_count(self.work / name / 'hd.db', 'outbound'):,} acks queued"
            self.add(res)

    def _ingest_store(self, name: str) -> tuple[dict[str, str], list[str]]:
        env = self.helpdesk(name)
        db = self.work / name / "hd.db"
        numbers = data.fill_store(db, max(self.k["mails"] // 10, 50), 0)
        return env, numbers

    def w3_ingest(self) -> None:
        n = self.k["mails"]
        shutil.rmtree(self.work / "ingest", ignore_errors=True)
        env, numbers = self._ingest_store("ingest")
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
        )
        if s.code:
            res.status, res.note = "failed", f"exit code {s.code}"
        self.add(res)

    def w4_piped(self) -> None:
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
                floor_ratio=wall / self.floor_ms if self.floor_ms else None,
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
        for caps, what in cases:
            shutil.rmtree(self.work / "bigmail", ignore_errors=True)
            env = {**self.helpdesk("bigmail"), "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false"}
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
            )
            if s.code:
                res.status, res.note = "failed", f"exit code {s.code}"
            self.add(res)

    def w5_scale(self) -> None:
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

    WORKLOADS = ("start", "bulk", "ingest", "piped", "scale", "bigmail")

    def run(self, only: Sequence[str]) -> list[Result]:
        steps = {
            "start": self.w1_start,
            "bulk": self.w2_bulk,
            "ingest": self.w3_ingest,
            "piped": self.w4_piped,
            "scale": self.w5_scale,
            "bigmail": self.w6_bigmail,
        }
        self.write_bare_app()
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
    return (
        f"{r.workload:<14} {r.name:<46.46} {value:>17} {cpu:>11} {bare:>10} {ratio:>6} "
        f"{cpu_ratio:>6} {floor:>6} {r.target:>12} {peak:>6}{note}"
    )


HEADER = (
    f"{'workload':<14} {'what':<46} {'median/rate':>17} {'cpu':>11} {'bare':>10} "
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
