"""hdcli privacy: answer access (Art. 15 GDPR) and erasure (Art. 17) requests; the trail."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hdcli.commands._common import DryRunOpt, FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="Data protection: export, erase, purge and the access trail.\n\n"
    "Example: hdcli privacy export anna@muster.de -o anna.json",
    no_args_is_help=True,
)
Person = Annotated[str, typer.Argument(help="the person's mail address or contact id")]


@app.command("export")
def export(
    person: Person,
    output: Annotated[str | None, typer.Option("-o", "--output", help="file (mode 0600)")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or md")] = "json",
    with_attachments: Annotated[
        bool,
        typer.Option(
            "--with-attachments", help="a zip file (-o) with the document and the attachments"
        ),
    ] = False,
) -> None:
    """Everything hdcli holds about one person, as one JSON document (or Markdown).

    Example: hdcli privacy export anna@muster.de -o anna.json

    Example: hdcli privacy export anna@muster.de --with-attachments -o anna.zip
    """
    import os

    from hdcli.errors import UsageError
    from hdcli.privacy import export as run

    if fmt not in ("json", "md"):
        raise UsageError(f"bad format {fmt!r} (allowed: json, md)")
    if with_attachments:
        from hdcli.privacy import export_zip

        if output is None or output == "-":
            raise UsageError("--with-attachments writes a zip file: give it with -o FILE")
        rows, files = export_zip(context(), person, output, fmt)
        say(f"wrote {rows} rows and {files} attachment(s) to {output}")
        return
    if output is None:
        run(context(), person, sys.stdout, fmt)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        rows = run(context(), person, stream, fmt)
    say(f"wrote {rows} rows to {output}")


@app.command("erase")
def erase(
    person: Person,
    dry_run: DryRunOpt = False,
    force: Annotated[bool, typer.Option("--force", help="erase despite open tickets")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Anonymise a person everywhere; billing figures stay (exit 4 while a ticket is open).

    Example: hdcli privacy erase anna@muster.de --yes
    """
    from hdcli.privacy import erase as run
    from hdcli.unit import DryRun

    ctx = context()
    if not yes and not dry_run and sys.stdin.isatty():
        typer.confirm(f"erase {person} everywhere?", abort=True)
    ctx.dry_run = dry_run
    try:
        result = run(ctx, person, force=force)
    except DryRun:
        say(f"would erase {person} (dry run: nothing changed)")
        return
    say(f"erased {result['sha256']}: {result['rows']} rows anonymised")


@app.command("purge")
def purge(
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="e.g. 10y (default: privacy.content_years)")
    ] = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Anonymise closed tickets past their retention period; meant for a monthly cron.

    Example: hdcli privacy purge --older-than 10y
    """
    from hdcli.errors import UsageError
    from hdcli.privacy import purge as run

    years = None
    if older_than is not None:
        if not older_than.rstrip("y").isdigit() or int(older_than.rstrip("y")) < 1:
            raise UsageError(f"bad --older-than {older_than!r} (use e.g. 10y)")
        years = int(older_than.rstrip("y"))
    ctx = context()
    ctx.dry_run = dry_run
    done = run(ctx, older_than_years=years)
    verb = "would anonymise" if dry_run else "anonymised"
    say(
        f"{verb} {done['tickets']} tickets ({done['articles']} articles, "
        f"{done['attachments']} attachments), {done['contacts']} contacts; removed "
        f"{done['inbound_log']} rejected-mail log rows, {done['outbound']} outbound bodies, "
        f"{done['access_log']} trail rows"
    )


@app.command("trail")
def trail(
    key: Annotated[str, typer.Argument(help="a mail address, contact id or ticket number")],
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Who read a person's or a ticket's data, when.

    Example: hdcli privacy trail 2026112710000127
    """
    from hdcli.output import render_rows
    from hdcli.privacy import trail as load

    out(render_rows(load(context().store, key), fmt_of(fmt, as_json)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="privacy")
