"""hdcli time: list, correct and remove a ticket's time entries (``hdcli log`` adds them)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, say

app = typer.Typer(
    help="A ticket's time entries: list, correct, remove.\n\n"
    "Example: hdcli time edit 17 --duration 2h30m",
    no_args_is_help=True,
)

Entry = Annotated[int, typer.Argument(help="time entry id (see `hdcli time list NUMBER`)")]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="change the time of an approved service report, or above time.max_entry"
    ),
]
Reason = Annotated[str | None, typer.Option("--reason", help="why (needed with --force; recorded)")]

COLUMNS = ("id", "date", "duration", "activity", "charge", "note", "agent")


@app.command("list")
def list_(
    number: Annotated[str, typer.Argument(help="ticket number")],
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """A ticket's time entries, by work date.

    Example: hdcli time list 2026112710000127 --format csv
    """
    from hdcli.ops import time_entries  # here, or the remote helpdesk
    from hdcli.output import render

    fmt = fmt_of(fmt, as_json)
    rows = time_entries(context(), number)
    if fmt in ("table", "md"):
        shown = [{**r, "charge": "yes" if r["charge"] else "no"} for r in rows]
        render(shown, fmt, COLUMNS)
    else:
        render(rows, fmt, (*COLUMNS[:2], "minutes", *COLUMNS[2:]))


@app.command("edit")
def edit(
    entry: Entry,
    duration: Annotated[str | None, typer.Option("--duration", help="90m, 1h30m, 1:30")] = None,
    note: Annotated[str | None, typer.Option("--note", "-n", help="what was done")] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD, today or yesterday")
    ] = None,
    activity: Annotated[
        str | None, typer.Option("--activity", help="remote, onsite, phone or other")
    ] = None,
    charge: Annotated[
        bool | None,
        typer.Option("--charge/--no-charge", help="billed, or goodwill (reported, never billed)"),
    ] = None,
    force: Force = False,
    reason: Reason = None,
) -> None:
    """Correct a time entry (recorded in the ticket's history).

    Example: hdcli time edit 17 --duration 2h30m --note "Fernwartung, Drucker"
    """
    from hdcli.durations import parse_date, parse_duration
    from hdcli.ops import time_edit  # here, or the remote helpdesk

    ctx = context()
    ticket = time_edit(
        ctx,
        entry,
        minutes=parse_duration(duration) if duration is not None else None,
        note=note,
        date=parse_date(date, ctx.today()).isoformat() if date is not None else None,
        activity=activity,
        charge=charge,
        force=force,
        reason=reason,
    )
    say(f"time entry {entry} of {ticket['number']} corrected")


@app.command("remove")
def remove(entry: Entry, force: Force = False, reason: Reason = None) -> None:
    """Remove a time entry (recorded in the ticket's history).

    Example: hdcli time remove 17
    """
    from hdcli.ops import time_remove  # here, or the remote helpdesk

    ticket = time_remove(context(), entry, force=force, reason=reason)
    say(f"time entry {entry} of {ticket['number']} removed")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="time")
