"""hdcli link: link two tickets."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, say


def link(
    number: Annotated[str, typer.Argument(help="ticket number")],
    other: Annotated[str, typer.Argument(help="the ticket it is linked to")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="relates, parent (OTHER is its parent) or duplicate (of OTHER)"
        ),
    ] = "relates",
) -> None:
    """Link a ticket to another (`hdcli show` lists the links of both).

    Example: hdcli link 2026112710000127 2026112710000135 --kind duplicate
    """
    from hdcli.tickets import link as do_link

    do_link(context(), number, other, kind)
    say(f"linked: {number} {kind} {other}")


def register(app: typer.Typer) -> None:
    app.command("link")(link)
