"""hdcli note: an internal note or a phone note."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, read_text, say


def note(
    number: Annotated[str, typer.Argument(help="ticket number")],
    message: Annotated[str | None, typer.Option("--message", "-m", help="the note's text")] = None,
    body_file: Annotated[
        str | None, typer.Option("--body-file", help="text from a file, - = stdin")
    ] = None,
    time: Annotated[str | None, typer.Option("--time", help="time spent, e.g. 10m")] = None,
    phone: Annotated[bool, typer.Option("--phone", help="a note of a phone call")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="accept --time above time.max_entry")
    ] = False,
) -> None:
    """Add an internal note (never mailed to the customer).

    Example: hdcli note 2026112710000127 --phone -m "Rückruf: Drucker läuft wieder" --time 10m
    """
    from hdcli.durations import parse_duration
    from hdcli.ops import note as do_note

    text = read_text(message, body_file, "note") or ""
    minutes = parse_duration(time) if time else None
    kind = "phone" if phone else "note"
    ticket = do_note(context(), number, text, minutes, kind=kind, force=force)
    say(f"noted: {ticket['number']}")


def register(app: typer.Typer) -> None:
    app.command("note")(note)
