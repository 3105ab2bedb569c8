"""hdcli contact: the people of customer organisations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.commands._common import context, listing, say
from hdcli.commands._records import Records, group

if TYPE_CHECKING:
    from hdcli.context import Context

Role = Annotated[
    list[str] | None, typer.Option("--role", help="main, approver or billing (repeatable)")
]


def add(
    org: Annotated[str, typer.Argument(help="organisation name")],
    name: Annotated[str, typer.Option("--name", help="full name")],
    email: Annotated[str, typer.Option("--email", help="mail address")],
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    role: Role = None,
) -> None:
    """Add a contact.

    Example: hdcli contact add "Muster GmbH" --name "Anna Schmidt" --email anna@muster.de
    --role main
    """
    from hdcli.ops import add_contact  # here, or the remote helpdesk

    row = add_contact(context(), org=org, name=name, email=email, phone=phone, roles=role or [])
    say(f"added contact {row['email']} to {row['organisation']}")


def edit(
    email: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    new_email: Annotated[str | None, typer.Option("--email")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    role: Role = None,
    org: Annotated[str | None, typer.Option("--org", help="move to this organisation")] = None,
) -> None:
    """Change a contact (--role replaces the roles).

    Example: hdcli contact edit anna@muster.de --role main --role approver
    """
    from hdcli.ops import edit_contact  # here, or the remote helpdesk

    row = edit_contact(
        context(), email, name=name, email=new_email, phone=phone, roles=role, org=org
    )
    say(f"changed contact {row['email']}")


def _import_one(ctx: Context, rec: dict[str, Any]) -> None:
    from hdcli.customers import add_contact

    phone = str(rec["phone"]) if rec.get("phone") else None
    roles = listing(rec.get("roles") or rec.get("role"))
    add_contact(ctx, str(rec["org"]), str(rec.get("name") or ""), str(rec["email"]), phone, roles)


app = group(
    Records(
        group="contact",
        help="Contacts of customer organisations.",
        noun="contact",
        one="a contact",
        key="email",
        key_help="the contact's mail address or id",
        example="anna@muster.de",
        import_one=_import_one,
        import_fields="org, name, email, phone, roles (a;b)",
        by_org=True,
    ),
    add=add,
    edit=edit,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="contact")
