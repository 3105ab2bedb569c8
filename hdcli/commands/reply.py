"""hdcli reply: answer the requester by mail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hdcli.commands._common import context, read_text, say

if TYPE_CHECKING:
    from hdcli.mail.outbound import OutAttachment


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
    answer: Annotated[
        str | None,
        typer.Option("--answer", help="begin with this canned answer (see `hdcli answer list`)"),
    ] = None,
    attach: Annotated[
        list[str] | None,
        typer.Option("--attach", help="attach this file (repeatable)", metavar="FILE"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="accept --time above time.max_entry")
    ] = False,
) -> None:
    """Reply to the requester (only to them: never to CC addresses).

    Example: hdcli reply 2026112710000127 -m "Bitte starten Sie den Drucker neu." --time 15m
    """
    from hdcli.durations import parse_duration
    from hdcli.ops import reply as do_reply

    text = read_text(message, body_file, "reply") or ""
    minutes = parse_duration(time) if time else None
    files = [_attachment(path) for path in attach or ()]
    ticket = do_reply(
        context(), number, text, minutes, wait=wait, attachments=files, answer=answer, force=force
    )
    say(f"replied: {ticket['number']}")


def _attachment(path: str) -> OutAttachment:
    """The file at ``path`` as an attachment, named by its sanitised base name; UsageError
    (exit 2) when it cannot be read."""
    import mimetypes
    from pathlib import Path

    from hdcli.errors import UsageError
    from hdcli.mail.outbound import OutAttachment
    from hdcli.mail.parse import sanitize_filename

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --attach {path}: {exc.strerror or exc}") from None
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return OutAttachment(sanitize_filename(Path(path).name), ctype, data)


def register(app: typer.Typer) -> None:
    app.command("reply")(reply)
