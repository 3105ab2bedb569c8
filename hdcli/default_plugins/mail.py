"""Built-in mail transports and sources, registered by name (imported on use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hdcli import hookimpl


@hookimpl(trylast=True)
def register_transports(register: Callable[[str, Any], None]) -> None:
    register("smtp", "hdcli.mail.transports:SmtpTransport")
    register("sendmail", "hdcli.mail.transports:SendmailTransport")
    register("maildir", "hdcli.mail.transports:MaildirTransport")
    register("file", "hdcli.mail.transports:FileTransport")


@hookimpl(trylast=True)
def register_sources(register: Callable[[str, Any], None]) -> None:
    register("maildir", "hdcli.mail.sources:MaildirSource")
    register("imap", "hdcli.mail.sources:ImapSource")
