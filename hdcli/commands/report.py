"""hdcli report: service reports and the reports registered by plugins."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import context, out

app = typer.Typer(help="Service reports and billing reports.", no_args_is_help=True)


@app.command("service")
def service(
    number: Annotated[str, typer.Argument(help="ticket number")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, json or pdf")] = "text",
    output: Annotated[str | None, typer.Option("--output", "-o", help="write to this file")] = None,
) -> None:
    """A ticket's service report.

    Example: hdcli report service 2026112710000127 --format pdf -o bericht.pdf
    """
    from hdcli.billing import service_report_output

    data = service_report_output(context(), number, fmt)
    if output:
        from pathlib import Path

        Path(output).write_bytes(data)
    else:
        import sys

        if fmt == "pdf":
            sys.stdout.buffer.write(data)
        else:
            out(data.decode("utf-8"))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="report")
