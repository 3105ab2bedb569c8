"""hdcli edit: correct a ticket's subject, impact, requester, contract or priority."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, say


def edit(
    number: Annotated[str, typer.Argument(help="ticket number")],
    subject: Annotated[str | None, typer.Option("--subject", help="the new subject")] = None,
    impact: Annotated[
        str | None, typer.Option("--impact", help="single_user, several_users or everyone")
    ] = None,
    requester: Annotated[
        str | None,
        typer.Option("--requester", help="address of a contact of the ticket's organisation"),
    ] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", help="a contract of the ticket's organisation")
    ] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help="low, normal, high or urgent")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="change the contract of an approved service report")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="why (needed with --force; recorded)")
    ] = None,
) -> None:
    """Correct a ticket (recorded in its history as old → new).

    Example: hdcli edit 2026112710000127 --impact everyone --priority high
    """
    from hdcli.ops import edit as run  # here, or the remote helpdesk

    ticket = run(
        context(),
        number,
        subject=subject,
        impact=impact,
        requester=requester,
        contract=contract,
        priority=priority,
        force=force,
        reason=reason,
    )
    say(f"edited: {ticket['number']}")


def register(app: typer.Typer) -> None:
    app.command("edit")(edit)
