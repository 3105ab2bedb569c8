"""hdcli answer: canned answers (Textbausteine) for replies."""

from __future__ import annotations

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out

app = typer.Typer(
    help="Canned answers (Textbausteine): answers/<lang>/NAME.txt in the config folder.\n\n"
    "Example: hdcli reply 2026112710000127 --answer drucker-neustart",
    no_args_is_help=True,
)

LIST_COLUMNS = ("name", "language", "first_line")


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List the canned answers: name, language, first line.

    Example: hdcli answer list --json
    """
    from hdcli.output import render_rows
    from hdcli.templates import answers

    out(render_rows(answers(context().config), fmt_of(fmt, as_json), LIST_COLUMNS))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="answer")
