"""hdcli merge: merge one ticket into another."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, say


def merge(
    number: Annotated[str, typer.Argument(help="the ticket merged (closed as merged)")],
    into: Annotated[str, typer.Argument(help="the ticket it is merged into")],
) -> None:
    """Merge a ticket into another: articles, time and participants move; mail to the merged
    number joins the target.

    Example: hdcli merge 2026112710000135 2026112710000127
    """
    from hdcli.tickets import merge as do_merge

    target = do_merge(context(), number, into)
    say(f"merged: {number} into {target['number']}")


def register(app: typer.Typer) -> None:
    app.command("merge")(merge)
