"""hdcli approval: approvals of work (Freigabe) demanded by contracts."""

from __future__ import annotations

import typer

app = typer.Typer(help="Approvals of work before it starts or before important changes.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="approval")
