"""hdcli approval: approvals of work (Freigabe) demanded by contracts."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="Approvals of work before it starts or before important changes.\n\n"
    "Example: hdcli approval list --pending",
    no_args_is_help=True,
)

By = Annotated[str, typer.Option("--by", help="the approver's mail address")]
Via = Annotated[str, typer.Option("--via", help="mail, phone or fax")]
Note = Annotated[str | None, typer.Option("--note", help="what the approver said")]
Kind = Annotated[
    str | None,
    typer.Option(
        "--kind", help="before_work or change (default: what the contract's policy needs)"
    ),
]
Id = Annotated[int | None, typer.Option("--id", help="this approval, not the oldest pending")]


@app.command("request")
def request(
    number: Annotated[str, typer.Argument(help="ticket number")],
    change: Annotated[str, typer.Option("--change", help="what is to be approved")],
    kind: Kind = None,
) -> None:
    """Mail every approver of the ticket's organisation; the ticket waits for approval.

    Example: hdcli approval request 2026112710000127 --change "Admin-Rechte für M. Beispiel"
    """
    from hdcli.ops import approval_request  # here, or the remote helpdesk

    row = approval_request(context(), number, change, kind)
    say(f"approval {row['id']} ({row['kind']}) requested for {number}; ticket waits for approval")


def _decide(
    number: str,
    decision: str,
    by: str,
    via: str,
    note: str | None,
    kind: str | None,
    approval_id: int | None,
) -> None:
    from hdcli.ops import approval_decide  # here, or the remote helpdesk

    row = approval_decide(
        context(), number, decision, by=by, via=via, note=note, kind=kind, approval_id=approval_id
    )
    say(
        f"approval {row['id']} ({row['kind']}) of {number} {decision} by {row['decided_by']} "
        f"via {via}"
    )


@app.command("grant")
def grant(
    number: Annotated[str, typer.Argument(help="ticket number")],
    by: By,
    via: Via,
    note: Note = None,
    kind: Kind = None,
    approval_id: Id = None,
) -> None:
    """Record that an approver granted the approval (only approvers of the ticket's organisation).

    Example: hdcli approval grant 2026112710000127 --by anna.schmidt@muster.example --via phone
    """
    _decide(number, "granted", by, via, note, kind, approval_id)


@app.command("deny")
def deny(
    number: Annotated[str, typer.Argument(help="ticket number")],
    by: By,
    via: Via,
    note: Note = None,
    kind: Kind = None,
    approval_id: Id = None,
) -> None:
    """Record that an approver denied the approval.

    Example: hdcli approval deny 2026112710000127 --by anna.schmidt@muster.example --via fax
    """
    _decide(number, "denied", by, via, note, kind, approval_id)


@app.command("apply")
def apply(
    number: Annotated[str, typer.Argument(help="ticket number")],
    message: Annotated[str, typer.Option("--message", "-m", help="the important change made")],
    override: Annotated[bool, typer.Option(help="without approval (recorded)")] = False,
    reason: Annotated[str | None, typer.Option(help="why the approval is overridden")] = None,
) -> None:
    """Record an important change (e.g. access rights) made on a ticket.

    Under a contract with the approval policy `changes` it is refused (exit 4, naming the
    approvers) until a change approval is granted; it uses that approval up.

    Example: hdcli approval apply 2026112710000127 -m "Admin-Rechte für M. Beispiel gesetzt"
    """
    from hdcli.ops import approval_apply  # here, or the remote helpdesk

    approval_apply(context(), number, message, override=override, reason=reason)
    say(f"important change recorded on {number}")


@app.command("list")
def list_(
    pending: Annotated[bool, typer.Option(help="only those awaiting a decision")] = False,
    ticket: Annotated[str | None, typer.Option("--ticket", help="only this ticket's")] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List approvals, newest first.

    Example: hdcli approval list --pending --format csv
    """
    from hdcli.approvals import LIST_COLUMNS
    from hdcli.ops import approvals  # here, or the remote helpdesk
    from hdcli.output import render_rows

    rows = approvals(context(), pending=pending, ticket=ticket)
    out(render_rows(rows, fmt_of(fmt, as_json), LIST_COLUMNS))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="approval")
