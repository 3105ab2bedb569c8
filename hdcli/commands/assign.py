"""hdcli assign: give tickets to an agent (optionally starting work)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import DryRunOpt, QuietOpt, context, for_each, numbers_from


def assign(
    numbers: Annotated[list[str], typer.Argument(help="ticket numbers, - reads them from stdin")],
    to: Annotated[str, typer.Option("--to", "-t", help="the agent's login")],
    start: Annotated[
        bool, typer.Option("--start", help="also start work (mails the requester)")
    ] = False,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Assign tickets to an agent.

    Example: hdcli assign 2026112710000127 --to mmueller --start
    """
    from hdcli.ops import assign as do_assign

    ctx = context()
    for_each(
        numbers_from(numbers),
        lambda n: do_assign(ctx, n, to, start=start),
        dry_run=dry_run,
        verb="assigned",
        quiet=quiet,
    )


def register(app: typer.Typer) -> None:
    app.command("assign")(assign)
