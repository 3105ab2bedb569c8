"""hdcli close: close tickets; the service report goes out for approval."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import DryRunOpt, QuietOpt, context, for_each, numbers_from


def close(
    numbers: Annotated[list[str], typer.Argument(help="ticket numbers, - reads them from stdin")],
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="why (kept in the history)")
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="mail the service report")
    ] = True,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Close tickets and send each one's service report (a ticket without time gets none
    under a contract with --empty-reports skip, the default).

    Example: hdcli list --status waiting -q | hdcli close - --reason stale
    """
    from hdcli.ops import close as do_close

    ctx = context()
    for_each(
        numbers_from(numbers),
        lambda n: do_close(ctx, n, reason, notify=notify),
        dry_run=dry_run,
        verb="closed",
        quiet=quiet,
    )


def register(app: typer.Typer) -> None:
    app.command("close")(close)
