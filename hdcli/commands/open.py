"""hdcli open: open a ticket for a customer contact (phone, fax, mail or web)."""

from __future__ import annotations

from collections.abc import Iterator
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
        _open_from_file(from_file, notify=notify, quiet=quiet, fmt=fmt_of(fmt, as_json))
        return
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


#: The columns of ``open --from-file``: the input line, the ticket and whether it was created
#: (false: its ``external_id`` named a ticket that already existed).
BULK_COLUMNS = ("line", "number", "created")


def _open_from_file(path: str, *, notify: bool, quiet: bool, fmt: str) -> None:
    """A ticket per row; one result per opened row in ``fmt`` on stdout (``-q``: the number),
    each refused or unreadable row as an error line on stderr only; exit 4 if any failed."""
    import sys

    from hdcli.bulk import open_from_file
    from hdcli.commands._common import error_line
    from hdcli.errors import EXIT_REFUSED
    from hdcli.output import print_results

    ctx = context()
    results = open_from_file(ctx, path, notify=notify)
    tty = sys.stderr.isatty()
    failed = count = 0

    def rows() -> Iterator[dict[str, object]]:
        nonlocal failed, count
        for result in results:
            count += 1
            if tty and count % 250 == 0:
                sys.stderr.write(f"\ropened {count}")
                sys.stderr.flush()
            if result.error:
                failed += 1
                error_line(f"line {result.line}: {result.error}", EXIT_REFUSED)
                continue
            yield {"line": result.line, "number": result.number, "created": result.created}

    try:
        if quiet:
            for row in rows():
                out(str(row["number"]))
        else:
            print_results(rows(), fmt, BULK_COLUMNS)
    finally:
        if tty:
            sys.stderr.write(f"\ropened {count}\n")
    if failed:
        raise typer.Exit(EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    app.command("open")(open_)
