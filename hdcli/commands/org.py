"""hdcli org: customer organisations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.commands._common import context, listing, say
from hdcli.commands._records import Records, group

if TYPE_CHECKING:
    from hdcli.context import Context


def add(
    name: Annotated[str, typer.Argument(help="the organisation's name")],
    kind: Annotated[str, typer.Option(help="company or public_body")] = "company",
    domain: Annotated[
        list[str] | None, typer.Option("--domain", "-d", help="mail domain (repeatable)")
    ] = None,
    language: Annotated[str, typer.Option(help="de or en: the language of its mail")] = "de",
) -> None:
    """Add an organisation.

    Example: hdcli org add "Muster GmbH" --kind company --domain muster.de
    """
    from hdcli.ops import add_org  # here, or the remote helpdesk

    org = add_org(context(), name=name, kind=kind, domains=domain or [], language=language)
    say(f"added organisation {org['name']}")


def edit(
    name: str,
    new_name: Annotated[str | None, typer.Option("--name", help="rename")] = None,
    kind: Annotated[str | None, typer.Option(help="company or public_body")] = None,
    language: Annotated[str | None, typer.Option(help="de or en")] = None,
    add_domain: Annotated[list[str] | None, typer.Option("--add-domain")] = None,
    remove_domain: Annotated[list[str] | None, typer.Option("--remove-domain")] = None,
) -> None:
    """Change an organisation.

    Example: hdcli org edit "Muster GmbH" --add-domain muster-gruppe.de
    """
    from hdcli.ops import edit_org  # here, or the remote helpdesk

    org = edit_org(
        context(),
        name,
        name=new_name,
        kind=kind,
        language=language,
        add_domains=add_domain or [],
        remove_domains=remove_domain or [],
    )
    say(f"changed organisation {org['name']}")


def _import_one(ctx: Context, rec: dict[str, Any]) -> None:
    from hdcli.customers import add_org

    kind = str(rec.get("kind") or "company")
    domains = listing(rec.get("domains") or rec.get("domain"))
    add_org(ctx, str(rec["name"]), kind, domains, str(rec.get("language") or "de"))


app = group(
    Records(
        group="org",
        help="Customer organisations (companies and public bodies).",
        noun="organisation",
        one="an organisation",
        key="name",
        key_help="the organisation's name or id",
        example='"Muster GmbH"',
        import_one=_import_one,
        import_fields="name, kind, domains (a;b), language",
        show_help="Show an organisation with its contracts and contacts.",
    ),
    add=add,
    edit=edit,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="org")
