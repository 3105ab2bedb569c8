"""hdcli reply: answer the requester by mail."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, read_text, say


def reply(
    number: Annotated[str, typer.Argument(help="ticket number")],
    message: Annotated[str | None, typer.Option("--message", "-m", help="the reply's text")] = None,
    body_file: Annotated[
        str | None, typer.Option("--body-file", help="text from a file, - = stdin")
    ] = None,
    time: Annotated[str | None, typer.Option("--time", help="time spent, e.g. 30m or 1:30")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="set the ticket to waiting for the customer")
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="accept --time above time.max_entry")
    ] = False,
) -> None:
    """Reply to the requester (only to them: never to CC addresses).

    Example: hdcli reply 2026112710000127 -m "Bitte starten Sie den Drucker neu." --time 15m
    """
    from hdcli.durations import parse_duration
    from hdcli.tickets import reply as do_reply

    text = read_text(message, body_file, "reply") or ""
    minutes = parse_duration(time) if time else None
    ticket = do_reply(context(), number, text, minutes, wait=wait, force=force)
    say(f"replied: {ticket['number']}")


def register(app: typer.Typer) -> None:
    app.command("reply")(reply)
