"""hdcli demo: a whole ticket's life on a separate demo helpdesk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="where the demo helpdesk goes (default: <data dir>/demo, replaced on each run)",
        ),
    ] = None,
) -> None:
    """Run a whole ticket's life (customer, contract, ticket, assignment, reply, time, close)
    on a fresh demo helpdesk, and show where its outbox is. Your own helpdesk is not touched.

    Example: hdcli demo --dir /tmp/hdcli-demo
    """
    from hdcli.demo import run_demo

    run_demo(directory)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
