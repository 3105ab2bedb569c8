"""hdcli contact: the people of customer organisations."""

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
    listing,
    out,
    say,
)

app = typer.Typer(help="Contacts of customer organisations.", no_args_is_help=True)
Role = Annotated[
    list[str] | None, typer.Option("--role", help="main, approver or billing (repeatable)")
]


@app.command("add")
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
    from hdcli.customers import add_contact

    row = add_contact(context(), org, name, email, phone, role or [])
    say(f"added contact {row['email']} to {row['organisation']}")


@app.command("list")
def list_(
    org: Annotated[str | None, typer.Option(help="only this organisation's")] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List contacts."""
    from hdcli.customers import list_contacts
    from hdcli.output import render_rows

    out(render_rows(list_contacts(context().store, org), fmt_of(fmt, as_json)))


@app.command("show")
def show(email: str, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Show a contact."""
    from hdcli.customers import get_contact
    from hdcli.output import render_record

    out(render_record(get_contact(context().store, email), fmt_of(fmt, as_json)))


@app.command("edit")
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
    from hdcli.customers import edit_contact

    row = edit_contact(
        context(), email, name=name, email=new_email, phone=phone, roles=role, org=org
    )
    say(f"changed contact {row['email']}")


@app.command("remove")
def remove(email: str) -> None:
    """Remove a contact without tickets."""
    from hdcli.customers import remove_contact

    row = remove_contact(context(), email)
    say(f"removed contact {row['email']}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="CSV or JSONL file, - = stdin (JSONL)")],
    dry_run: DryRunOpt = False,
) -> None:
    """Import contacts: fields org, name, email, phone, roles (a;b)."""
    from hdcli.customers import add_contact

    ctx = context()

    def one(rec: dict[str, Any]) -> None:
        add_contact(
            ctx,
            str(rec["org"]),
            str(rec.get("name") or ""),
            str(rec["email"]),
            str(rec["phone"]) if rec.get("phone") else None,
            listing(rec.get("roles") or rec.get("role")),
        )

    import_records(path, one, "contact", dry_run)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="contact")
