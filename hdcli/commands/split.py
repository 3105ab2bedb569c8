"""hdcli split: a new ticket for some of a ticket's articles."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, out, say


def split(
    number: Annotated[str, typer.Argument(help="ticket number")],
    article: Annotated[
        list[int],
        typer.Option("--article", help="id of an article to move (`hdcli show --json`); repeat"),
    ],
    subject: Annotated[
        str | None, typer.Option("--subject", help="the new ticket's subject (default: the same)")
    ] = None,
) -> None:
    """Split articles off into a new ticket (same organisation, contract and requester); prints
    the new number.

    Example: hdcli split 2026112710000127 --article 42 --subject "Bildschirm flackert"
    """
    from hdcli.tickets import split as do_split

    new = do_split(context(), number, article, subject)
    out(str(new["number"]))
    say(f"split: {number} into {new['number']}")


def register(app: typer.Typer) -> None:
    app.command("split")(split)
