"""hdcli list: tickets, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, QuietOpt, context, fmt_of, out

COLUMNS = ("number", "status", "subject", "organisation", "requester", "assignee", "updated_at")


def list_(
    status: Annotated[
        str | None, typer.Option(help="new, assigned, in_progress, waiting, closed or open")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="agent login, or none")] = None,
    org: Annotated[str | None, typer.Option(help="organisation name")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="created on or after: YYYY-MM-DD, 01.12.2026, gestern, letzte Woche"),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many")] = None,
    quiet: QuietOpt = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List tickets.

    Example: hdcli list --status waiting -q | hdcli close - --reason stale
    """
    from hdcli.views import list_tickets  # the read side only: no workflow imports

    if since:
        from hdcli.durations import parse_date

        since = parse_date(since, context().today()).isoformat()
    rows = list_tickets(
        context().store, status=status, assignee=assignee, org=org, since=since, limit=limit
    )
    if quiet:
        out("\n".join(r["number"] for r in rows))
        return
    from hdcli.output import render_rows

    fmt = fmt_of(fmt, as_json)
    out(render_rows(rows, fmt, None if fmt in ("json", "jsonl") else COLUMNS))


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
