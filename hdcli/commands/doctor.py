"""hdcli doctor: check configuration, storage, mail transport, sources and templates."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say


def doctor(
    connect: Annotated[
        bool, typer.Option("--connect/--no-connect", help="also connect to SMTP and mail sources")
    ] = True,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Check that this helpdesk works; exit 0 when every check passed, else 5.

    A warning (mail waiting in the quarantine, say) passes: it is shown on stderr too.

    Example (CI smoke test): HDCLI_PROFILE=staging hdcli doctor --json
    """
    from hdcli.doctor import run_checks
    from hdcli.output import render_rows

    rows = run_checks(context(), connect=connect)
    out(render_rows(rows, fmt_of(fmt, as_json), ["check", "ok", "detail"]))
    for row in rows:
        if row.get("warning"):
            say(f"hdcli: {row['check']}: {row['detail']}")
    if not all(r["ok"] for r in rows):
        raise typer.Exit(5)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
