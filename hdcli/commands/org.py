"""hdcli org: customer organisations."""

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

app = typer.Typer(
    help="Customer organisations (companies and public bodies).", no_args_is_help=True
)


@app.command("add")
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
    from hdcli.customers import add_org

    org = add_org(context(), name, kind, domain or [], language)
    say(f"added organisation {org['name']}")


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List organisations."""
    from hdcli.customers import list_orgs
    from hdcli.output import render_rows

    out(render_rows(list_orgs(context().store), fmt_of(fmt, as_json)))


@app.command("show")
def show(name: str, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Show an organisation with its contracts and contacts."""
    from hdcli.customers import get_org, list_contacts, list_contracts
    from hdcli.output import render_record

    store = context().store
    org = get_org(store, name)
    org["contracts"] = [c["number"] for c in list_contracts(store, str(org["id"]))]
    org["contacts"] = [c["email"] for c in list_contacts(store, str(org["id"]))]
    out(render_record(org, fmt_of(fmt, as_json)))


@app.command("edit")
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
    from hdcli.customers import edit_org

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


@app.command("remove")
def remove(name: str) -> None:
    """Remove an organisation without tickets."""
    from hdcli.customers import remove_org

    org = remove_org(context(), name)
    say(f"removed organisation {org['name']}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="CSV or JSONL file, - = stdin (JSONL)")],
    dry_run: DryRunOpt = False,
) -> None:
    """Import organisations: fields name, kind, domains (a;b), language."""
    from hdcli.customers import add_org

    ctx = context()

    def one(rec: dict[str, Any]) -> None:
        add_org(
            ctx,
            str(rec["name"]),
            str(rec.get("kind") or "company"),
            listing(rec.get("domains") or rec.get("domain")),
            str(rec.get("language") or "de"),
        )

    import_records(path, one, "organisation", dry_run)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="org")
