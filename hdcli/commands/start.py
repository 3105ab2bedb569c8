"""hdcli start: start work on tickets (the requester gets a mail naming the agent)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import DryRunOpt, QuietOpt, context, for_each, numbers_from


def start(
    numbers: Annotated[list[str], typer.Argument(help="ticket numbers, - reads them from stdin")],
    override: Annotated[
        bool, typer.Option("--override", help="start without the contract's approval (recorded)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="why the approval is overridden")
    ] = None,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Start work on tickets.

    Example: hdcli --as mmueller start 2026112710000127
    """
    from hdcli.ops import start as do_start

    ctx = context()
    for_each(
        numbers_from(numbers),
        lambda n: do_start(ctx, n, override=override, reason=reason),
        dry_run=dry_run,
        verb="started",
        quiet=quiet,
    )


def register(app: typer.Typer) -> None:
    app.command("start")(start)
