"""hdcli open: open a ticket for a customer contact (phone, fax, mail or web)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, QuietOpt, context, fmt_of, out, read_text


def open_(
    contact: Annotated[
        str | None, typer.Option("--contact", "-c", help="requester's e-mail")
    ] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", "-s", help="what the problem is")
    ] = None,
    body: Annotated[str | None, typer.Option("--body", "-m", help="the request's text")] = None,
    body_file: Annotated[
        str | None, typer.Option("--body-file", help="text from a file, - = stdin")
    ] = None,
    channel: Annotated[str, typer.Option(help="email, phone, fax or web")] = "phone",
    impact: Annotated[
        str, typer.Option(help="single_user, several_users or everyone")
    ] = "single_user",
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", help="idempotency key: a re-run returns the same ticket"),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="send the acknowledgement mail")
    ] = True,
    from_file: Annotated[
        str | None, typer.Option("--from-file", help="open many from JSONL or CSV (- = stdin)")
    ] = None,
    quiet: QuietOpt = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Open a ticket. Only contacts of an organisation with a valid contract are served.

    Example: hdcli open --contact anna@kunde.de --subject "Drucker druckt nicht" -m "…" -q
    """
    ctx = context()
    if from_file is not None:
        from hdcli.bulk import open_from_file

        raise typer.Exit(open_from_file(ctx, from_file, notify=notify, quiet=quiet))
    from hdcli.errors import UsageError
    from hdcli.ops import open_ticket

    if not contact or not subject:
        raise UsageError("open needs --contact and --subject (or --from-file)")
    text = read_text(body, body_file, "body") or ""
    data = open_ticket(
        ctx,
        {
            "contact": contact,
            "subject": subject,
            "body": text,
            "channel": channel,
            "impact": impact,
            "external_id": external_id,
            "notify": notify,
        },
    )
    if quiet:
        out(data["number"])
        return
    from hdcli.output import render_record

    out(render_record(data, fmt_of(fmt, as_json)))


def register(app: typer.Typer) -> None:
    app.command("open")(open_)
