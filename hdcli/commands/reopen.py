"""hdcli reopen: reopen closed tickets."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import DryRunOpt, QuietOpt, context, for_each, numbers_from


def reopen(
    numbers: Annotated[list[str], typer.Argument(help="ticket numbers, - reads them from stdin")],
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="why (kept in the history)")
    ] = None,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Reopen closed tickets.

    Example: hdcli reopen 2026112710000127 --reason "customer called back"
    """
    from hdcli.ops import reopen as do_reopen

    ctx = context()
    for_each(
        numbers_from(numbers),
        lambda n: do_reopen(ctx, n, reason),
        dry_run=dry_run,
        verb="reopened",
        quiet=quiet,
    )


def register(app: typer.Typer) -> None:
    app.command("reopen")(reopen)
