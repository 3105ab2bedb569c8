"""hdcli agent: the helpdesk's staff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.commands._common import context, say
from hdcli.commands._records import Records, group

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.models import Row


def add(
    login: Annotated[str, typer.Argument(help="login, used with --as and --to")],
    name: Annotated[str, typer.Option("--name", help="full name, shown to customers")],
    email: Annotated[str, typer.Option("--email")],
) -> None:
    """Add an agent.

    Example: hdcli agent add mmueller --name "Max Müller" --email max.mueller@helpdesk.example
    """
    from hdcli.ops import add_agent  # here, or the remote helpdesk

    row = add_agent(context(), login=login, name=name, email=email)
    say(f"added agent {row['login']}")


def edit(
    login: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change an agent.

    Example: hdcli agent edit mmueller --inactive
    """
    from hdcli.ops import edit_agent  # here, or the remote helpdesk

    edit_agent(context(), login, name=name, email=email, active=active)
    say(f"changed agent {login}")


def _import_one(ctx: Context, rec: dict[str, Any]) -> None:
    from hdcli.customers import add_agent

    add_agent(ctx, str(rec["login"]), str(rec.get("name") or ""), str(rec["email"]))


def _removed(row: Row) -> str:
    return "deactivated" if row["active"] == 0 and row.get("id") else "removed"


app = group(
    Records(
        group="agent",
        help="Agents (staff who work on tickets).",
        noun="agent",
        one="an agent",
        key="login",
        key_help="the agent's login",
        example="mmueller",
        import_one=_import_one,
        import_fields="login, name, email",
        remove_help="Remove an agent (one with work on record is deactivated instead).",
        removed=_removed,
    ),
    add=add,
    edit=edit,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="agent")
