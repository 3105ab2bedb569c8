"""hdcli search: full text over tickets, best match first."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FieldsOpt, FormatOpt, JsonOpt, QuietOpt, context, fmt_of, out

COLUMNS = ("number", "status", "subject", "organisation", "requester", "snippet")


def search(
    query: Annotated[str, typer.Argument(help="words to find (every one must occur)")],
    status: Annotated[
        str | None, typer.Option(help="new, assigned, in_progress, waiting, closed or open")
    ] = None,
    org: Annotated[str | None, typer.Option(help="organisation name")] = None,
    since: Annotated[str | None, typer.Option(help="created on or after YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 20,
    quiet: QuietOpt = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Find tickets by the words of their subjects, mails and notes, their requesters' names
    and addresses and their attachments' names; best match first, with an excerpt.

    Quotes, operators and parentheses are no syntax: only the words count.

    Example: hdcli search "Drucker Buchhaltung" --status open

    Example: hdcli search mueller@example.org --json --fields number,snippet
    """
    from hdcli.models import ListedTicket
    from hdcli.ops import search as find  # here, or the remote helpdesk
    from hdcli.output import pick_fields, render_rows

    fmt = fmt_of(fmt, as_json)
    chosen = pick_fields(fields, [*ListedTicket.__annotations__, "snippet"])
    rows = find(context(), query, status=status, org=org, since=since, limit=limit)
    numbers = [str(r["number"]) for r in rows]
    if quiet:
        out("\n".join(numbers))
        return
    if chosen is not None:
        out(render_rows(rows, fmt, chosen, only_columns=True))
        return
    out(render_rows(rows, fmt, None if fmt in ("json", "jsonl") else COLUMNS))


def register(app: typer.Typer) -> None:
    app.command("search")(search)
