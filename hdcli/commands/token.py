"""hdcli token: API tokens of the remote helpdesk (``hdcli serve``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="API tokens for the remote helpdesk: create (shown once), list, revoke.\n\n"
    "Example: hdcli token create mmueller --role agent --expires 90d",
    no_args_is_help=True,
)


@app.command("create")
def create(
    login: Annotated[str, typer.Argument(help="the agent the token acts as")],
    role: Annotated[
        str, typer.Option("--role", help="agent, admin, gateway or readonly")
    ] = "agent",
    expires: Annotated[str, typer.Option("--expires", help="e.g. 90d, 12w, 1y or never")] = "90d",
) -> None:
    """Create a token; it is printed once on stdout and stored only as a hash.

    Example: hdcli token create mmueller --role readonly --expires 30d
    """
    from hdcli.tokens import create as run

    token, row = run(context(), login, role, expires)
    out(token)
    say(
        f"token {row['prefix']} for {row['login']} ({row['role']}), "
        f"expires {row['expires_at'] or 'never'}: store it now, it is not shown again"
    )


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Every token: prefix, agent, role, created, expires, revoked, last used.

    Example: hdcli token list --format json
    """
    from hdcli.output import render_rows
    from hdcli.tokens import tokens

    out(render_rows(tokens(context().store), fmt_of(fmt, as_json)))


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="the token's prefix (from `hdcli token list`)")],
) -> None:
    """Revoke a token at once (exit 3 when there is none with this prefix).

    Example: hdcli token revoke 3f9a1c2e
    """
    from hdcli.tokens import revoke as run

    row = run(context(), prefix)
    say(f"revoked token {row['prefix']} of {row['login']}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="token")
