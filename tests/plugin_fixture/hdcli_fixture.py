"""Test plugin: a ``hello`` command, a ``memtest://`` storage scheme, a ``fixture_jsonl``
transport and an ``X-Fixture-Kind`` header on every outbound mail.

No ``from __future__ import annotations``: Typer reads the command's annotations at run time.
"""

import json
import sys
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import typer

from hdcli import hookimpl


def hello(name: str = typer.Option("world", "--name", help="whom to greet")) -> None:
    """Greet (proves that a plugin can add a command)."""
    sys.stdout.write(f"hello, {name}, from the fixture plugin\n")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command("hello")(hello)


def memtest_storage(url: str, config: Any) -> Any:
    """``memtest:///abs/path.db`` is SQLite on that path (imported only when used)."""
    from hdcli.backends.sqlite import SqliteStorage

    return SqliteStorage("sqlite:///" + url.split("://", 1)[1], config)


@hookimpl
def register_storage(register: Callable[[str, Any], None]) -> None:
    register("memtest", "hdcli_fixture:memtest_storage")


class JsonlTransport:
    """Appends one JSON line per mail to ``<mail.outbound.path>/sent.jsonl``."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.file = Path(settings["path"]) / "sent.jsonl"
        self.file.parent.mkdir(parents=True, exist_ok=True)

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        from email import policy
        from email.parser import BytesParser

        msg = BytesParser(policy=policy.default).parsebytes(raw)
        line = {
            "from": envelope_from,
            "to": list(recipients),
            "subject": str(msg["Subject"]),
            "kind": str(msg["X-Fixture-Kind"]),
        }
        with self.file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


@hookimpl
def register_transports(register: Callable[[str, Any], None]) -> None:
    register("fixture_jsonl", "hdcli_fixture:JsonlTransport")


@hookimpl
def prepare_outbound(message: EmailMessage, context: dict[str, Any]) -> None:
    message["X-Fixture-Kind"] = str(context["kind"])
