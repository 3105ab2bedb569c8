"""hdcli agent: the helpdesk's staff."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hdcli.commands._common import (
    DryRunOpt,
    FormatOpt,
    JsonOpt,
    context,
    fmt_of,
    import_records,
    out,
    say,
)

app = typer.Typer(help="Agents (staff who work on tickets).", no_args_is_help=True)


@app.command("add")
def add(
    login: Annotated[str, typer.Argument(help="login, used with --as and --to")],
    name: Annotated[str, typer.Option("--name", help="full name, shown to customers")],
    email: Annotated[str, typer.Option("--email")],
) -> None:
    """Add an agent.

    Example: hdcli agent add mmueller --name "Max Müller" --email max.mueller@helpdesk.example
    """
    from hdcli.customers import add_agent

    row = add_agent(context(), login, name, email)
    say(f"added agent {row['login']}")


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List agents."""
    from hdcli.customers import list_agents
    from hdcli.output import render_rows

    out(render_rows(list_agents(context().store), fmt_of(fmt, as_json)))


@app.command("show")
def show(login: str, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Show an agent."""
    from hdcli.customers import get_agent
    from hdcli.output import render_record

    out(render_record(get_agent(context().store, login), fmt_of(fmt, as_json)))


@app.command("edit")
def edit(
    login: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change an agent."""
    from hdcli.customers import edit_agent

    edit_agent(context(), login, name=name, email=email, active=active)
    say(f"changed agent {login}")


@app.command("remove")
def remove(login: str) -> None:
    """Remove an agent (one with work on record is deactivated instead)."""
    from hdcli.customers import remove_agent

    row = remove_agent(context(), login)
    say(f"{'deactivated' if row['active'] == 0 and row.get('id') else 'removed'} agent {login}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="CSV or JSONL file, - = stdin (JSONL)")],
    dry_run: DryRunOpt = False,
) -> None:
    """Import agents: fields login, name, email."""
    from hdcli.customers import add_agent

    ctx = context()

    def one(rec: dict[str, Any]) -> None:
        add_agent(ctx, str(rec["login"]), str(rec.get("name") or ""), str(rec["email"]))

    import_records(path, one, "agent", dry_run)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="agent")
