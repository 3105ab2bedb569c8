"""hdcli list: tickets, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FieldsOpt, FormatOpt, JsonOpt, QuietOpt, context, fmt_of, out

COLUMNS = (
    "number",
    "status",
    "subject",
    "organisation",
    "requester",
    "assignee",
    "preselected",
    "priority",
    "updated_at",
)


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
    requester: Annotated[
        str | None, typer.Option(help="the requester's mail address", metavar="EMAIL")
    ] = None,
    preselected: Annotated[
        bool | None,
        typer.Option(
            "--preselected/--no-preselected",
            help="only tickets with (or without) an agent preselected by routing",
        ),
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="low, normal, high or urgent", metavar="P")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="only tickets whose text holds every word (as hdcli search)", metavar="TEXT"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many")] = None,
    quiet: QuietOpt = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """List tickets.

    Example: hdcli list --status waiting -q | hdcli close - --reason stale

    Example: hdcli list --json --fields number,status,subject
    """
    from hdcli.models import ListedTicket
    from hdcli.ops import list_tickets  # the read side here, or the remote helpdesk
    from hdcli.output import pick_fields

    fmt = fmt_of(fmt, as_json)
    chosen = pick_fields(fields, ListedTicket.__annotations__)
    if since:
        from hdcli.durations import parse_date

        since = parse_date(since, context().today()).isoformat()
    rows = list_tickets(
        context(),
        status=status,
        assignee=assignee,
        org=org,
        since=since,
        requester=requester,
        preselected=preselected,
        priority=priority,
        search=search,
        limit=limit,
    )
    if quiet:
        out("\n".join(r["number"] for r in rows))
        return
    from hdcli.output import render_rows

    if chosen is not None:
        out(render_rows(rows, fmt, chosen, only_columns=True))
        return
    out(render_rows(rows, fmt, None if fmt in ("json", "jsonl") else COLUMNS))


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
