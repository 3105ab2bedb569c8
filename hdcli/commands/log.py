"""hdcli log: record time worked on a ticket."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, say


def log(
    number: Annotated[str, typer.Argument(help="ticket number")],
    duration: Annotated[
        str, typer.Argument(help="90m, 1h30m, 1:30, 1.5h, 1,5h, 1,5 Std or 90 Min.")
    ],
    note: Annotated[str, typer.Option("--note", "-n", help="what was done")] = "",
    date: Annotated[
        str | None,
        typer.Option("--date", help="YYYY-MM-DD, 01.12.2026, 1.12., heute, gestern, letzte Woche"),
    ] = None,
    activity: Annotated[str, typer.Option(help="remote, onsite, phone or other")] = "other",
    force: Annotated[
        bool,
        typer.Option("--force", help="change time of an approved service report (recorded)"),
    ] = False,
    no_charge: Annotated[
        bool, typer.Option("--no-charge", help="goodwill: reported, never billed")
    ] = False,
) -> None:
    """Log time on a ticket.

    Example: hdcli log 2026112710000127 1h30m --activity remote --note "Fernwartung"
    """
    from hdcli.durations import parse_date, parse_duration
    from hdcli.ops import log_time

    ctx = context()
    minutes = parse_duration(duration)
    day = parse_date(date, ctx.today()) if date else None
    log_time(
        ctx,
        number,
        minutes,
        note=note,
        work_date=day.isoformat() if day else None,
        activity=activity,
        billable=not no_charge,
        force=force,
    )
    say(f"logged {minutes} min on {number}")


def register(app: typer.Typer) -> None:
    app.command("log")(log)
