"""hdcli attachment: list a ticket's attachments and save their bytes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="Attachments of a ticket's articles.\n\nExample: hdcli attachment list 2026112710000127",
    no_args_is_help=True,
)

LIST_COLUMNS = ("id", "article", "name", "type", "size")


@app.command("list")
def list_(
    number: Annotated[str, typer.Argument(help="ticket number")],
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List the ticket's attachments: id, article, name, type, size in bytes.

    Example: hdcli attachment list 2026112710000127 --json
    """
    from hdcli.attachments import list_attachments
    from hdcli.output import render_rows

    ctx = context()
    rows = [
        {
            "id": r["id"],
            "article": r["article_id"],
            "name": r["filename"],
            "type": r["content_type"],
            "size": r["size"],
        }
        for r in list_attachments(ctx.store, ctx.actor, number)
    ]
    out(render_rows(rows, fmt_of(fmt, as_json), LIST_COLUMNS))


@app.command("get")
def get(
    number: Annotated[str, typer.Argument(help="ticket number")],
    attachment_id: Annotated[int, typer.Argument(metavar="ID", help="attachment id (see list)")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="file or folder to write to, - = stdout (default: its name here)"
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Save an attachment's bytes exactly as received, under its sanitised name (0600).

    Example: hdcli attachment get 2026112710000127 3 -o ~/Downloads/
    """
    from hdcli.attachments import Fetched, fetch, save, target_path
    from hdcli.errors import UsageError

    def deliver(fetched: Fetched) -> None:
        if output == "-":
            sys.stdout.buffer.write(fetched.data)
            sys.stdout.buffer.flush()
            return
        path = target_path(fetched, output, Path.cwd())
        try:
            save(fetched, path, force=force)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        say(f"wrote {len(fetched.data)} bytes to {path}")

    ctx = context()
    fetch(ctx.store, ctx.actor, number, attachment_id, deliver)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="attachment")
