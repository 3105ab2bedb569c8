"""Reports for ``hdcli report``: the built-in ``billing`` and ``tickets``, and the interface a
plugin's report implements.

A report is registered through the ``register_reports`` hook as ``register(name, target)``;
``target`` (a ``"module:attr"`` string or a callable) is called as
``target(rctx: ReportContext, options: dict[str, Any]) -> ReportResult``. Options come from the
command line: the built-in commands pass typed values; ``hdcli report run NAME -o key=value``
passes strings. A report's rows may be a generator: they are rendered as they come, so a report
over millions of rows needs no more memory than one row (csv, jsonl and json stream; table and
md collect the rows first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from hdcli.errors import UsageError
from hdcli.repo import tickets as ticket_repo

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hdcli.backends.base import SqlStorage
    from hdcli.config import Config
    from hdcli.context import Context

__all__ = [
    "ReportContext",
    "ReportResult",
    "render",
    "run",
    "send",
    "tickets_report",
]


@dataclass
class ReportContext:
    """What a report may use: the run's context (configuration, store, acting user, time zone).

    Reports only read; a report that changes data must use the workflow functions.
    """

    ctx: Context

    @property
    def store(self) -> SqlStorage:
        return self.ctx.store

    @property
    def config(self) -> Config:
        return self.ctx.config

    @property
    def tz(self) -> ZoneInfo:
        return self.ctx.tz

    def today(self) -> date:
        """Today in the configured time zone (``billing.timezone``)."""
        return self.ctx.today()


@dataclass
class ReportResult:
    """A report's output: a title, its columns and its rows (an iterable of dicts keyed by the
    columns; may be a generator). ``summary`` is a line or two for mail bodies and stderr."""

    title: str
    columns: list[str]
    rows: Iterable[Mapping[str, Any]]
    summary: str = ""
    filename: str = "report"
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as the server answers it: ``rows`` as ``--format json`` gives them (the
        columns only, in their order, missing ones as null)."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [{c: row.get(c) for c in self.columns} for row in self.rows],
            "summary": self.summary,
            "filename": self.filename,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportResult:
        """The report of a server's answer (:meth:`as_dict`)."""
        return cls(
            title=str(data["title"]),
            columns=[str(c) for c in data["columns"]],
            rows=list(data["rows"]),
            summary=str(data.get("summary") or ""),
            filename=str(data.get("filename") or "report"),
        )


def run(ctx: Context, name: str, options: Mapping[str, Any] | None = None) -> ReportResult:
    """Look ``name`` up in the report registry and run it. Unknown names exit 2, listing the
    known ones."""
    from hdcli.plugins import reports

    target = reports.get(name)
    if not callable(target):
        raise UsageError(f"report {name!r} is not callable")
    result = target(ReportContext(ctx), dict(options or {}))
    if not isinstance(result, ReportResult):
        raise UsageError(f"report {name!r} returned {type(result).__name__}, not a ReportResult")
    return result


def catalogue() -> list[dict[str, str]]:
    """The registered reports and who registered them."""
    from hdcli.plugins import reports

    return [{"name": n, "plugin": reports.owner(n)} for n in reports.names()]


def render(result: ReportResult, fmt: str, write: Callable[[str], Any]) -> None:
    """Write ``result`` in ``fmt`` (table, md, csv, json, jsonl) through ``write`` with
    :func:`hdcli.output.render`: the report's columns only, in their order, in every format;
    csv, json and jsonl stream row by row."""
    from hdcli import output

    output.render(result.rows, fmt, result.columns, write, only_columns=True)


def send(ctx: Context, result: ReportResult, to: str, *, language: str = "de") -> str:
    """Mail ``result`` to ``to`` with the ``report`` template and the rows attached as CSV,
    through the outbound queue. Returns the Message-ID."""
    import io

    from hdcli.mail.outbound import OutAttachment, queue
    from hdcli.templates import render as render_template
    from hdcli.unit import finish
    from hdcli.util import norm_email, valid_email

    address = norm_email(to)
    if not valid_email(address):
        raise UsageError(f"bad address {to!r}")
    buf = io.StringIO()
    render(result, "csv", buf.write)
    csv_bytes = buf.getvalue().encode("utf-8")
    config = ctx.config
    tctx = {
        "title": result.title,
        "summary": result.summary,
        "language": language,
        "helpdesk": {
            "name": str(config.get("mail.from_name")),
            "address": str(config.get("mail.from_address")),
        },
    }
    subject, body = render_template(config, "report", language, tctx)
    with ctx.store.transaction():
        queued = queue(
            ctx,
            kind="report",
            ticket_id=None,
            ticket_number=None,
            to_name="",
            to_addr=address,
            subject=subject,
            body=body,
            automatic=False,
            attachments=[OutAttachment(f"{result.filename}.csv", "text/csv", csv_bytes)],
        )
        assert queued is not None  # only automatic mail is capped
    finish(ctx)
    return queued.message_id


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


_AGE_BUCKETS = ((1, "< 1 day"), (3, "1-3 days"), (7, "3-7 days"), (30, "7-30 days"))
TICKETS_BY = ("status", "agent", "org", "age")
_OPEN_STATUSES = ("new", "assigned", "in_progress", "waiting")


def tickets_report(rctx: ReportContext, options: Mapping[str, Any]) -> ReportResult:
    """The open workload grouped ``by`` status (waiting split by what it waits for), agent,
    org or age: counts per open status and the oldest ticket's creation time."""
    by = str(options.get("by") or "status")
    if by not in TICKETS_BY:
        raise UsageError(f"bad --by {by!r} (allowed: {', '.join(TICKETS_BY)})")
    groups: dict[str, dict[str, Any]] = {}
    now = datetime.now(rctx.tz)
    # ``age`` groups by creation time, bucketed here in the configured time zone
    for row in ticket_repo.open_workload(rctx.store, by):
        group = str(row["grp"])
        if by == "age":
            created = datetime.fromisoformat(str(row["oldest"]).replace("Z", "+00:00"))
            days = (now - created).total_seconds() / 86400
            group = next((label for limit, label in _AGE_BUCKETS if days < limit), "> 30 days")
        g = groups.setdefault(
            group,
            {"group": group, "tickets": 0, **dict.fromkeys(_OPEN_STATUSES, 0), "oldest": None},
        )
        g["tickets"] += int(row["n"])
        g[row["status"]] = g.get(row["status"], 0) + int(row["n"])
        if g["oldest"] is None or row["oldest"] < g["oldest"]:
            g["oldest"] = row["oldest"]
    order = [label for _, label in _AGE_BUCKETS] + ["> 30 days"]
    ordered = sorted(
        groups.values(),
        key=(lambda g: order.index(g["group"]))
        if by == "age"
        else (lambda g: (-g["tickets"], g["group"])),
    )
    total = sum(g["tickets"] for g in ordered)
    return ReportResult(
        title=f"open tickets by {by}",
        columns=["group", "tickets", *_OPEN_STATUSES, "oldest"],
        rows=ordered,
        summary=f"{total} open tickets",
        filename=f"tickets-by-{by}",
    )
