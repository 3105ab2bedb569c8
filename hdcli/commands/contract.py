"""hdcli contract: framework contracts of organisations."""

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

app = typer.Typer(
    help="Framework contracts (billing, approval policy, validity).", no_args_is_help=True
)

Billing = Annotated[str | None, typer.Option("--billing", help="hourly, included_hours or free")]
Rate = Annotated[str | None, typer.Option("--rate", help="EUR per hour, e.g. 95")]
Increment = Annotated[str | None, typer.Option("--increment", help="rounding increment, e.g. 15m")]
Minimum = Annotated[
    str | None, typer.Option("--minimum", help="minimum billed per ticket, e.g. 15m")
]
Included = Annotated[
    str | None, typer.Option("--included", help="hours included per month, e.g. 2h")
]
Approval = Annotated[str | None, typer.Option("--approval", help="none, before_work or changes")]
ClosedPolicy = Annotated[
    str | None,
    typer.Option(
        "--closed-policy", help="reply to a closed ticket: new_ticket, reject_with_notice or reopen"
    ),
]
ReportTo = Annotated[str | None, typer.Option("--report-to", help="address for service reports")]
ValidFrom = Annotated[str | None, typer.Option("--valid-from", help="YYYY-MM-DD")]
ValidTo = Annotated[str | None, typer.Option("--valid-to", help="YYYY-MM-DD")]


@app.command("add")
def add(
    org: Annotated[str, typer.Argument(help="organisation name")],
    number: Annotated[str, typer.Option("--number", help="contract number")],
    billing: Billing = None,
    rate: Rate = None,
    increment: Increment = None,
    minimum: Minimum = None,
    included: Included = None,
    approval: Approval = None,
    closed_policy: ClosedPolicy = None,
    report_to: ReportTo = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
) -> None:
    """Add a contract.

    Example: hdcli contract add "Muster GmbH" --number RV-2026-001 --billing hourly --rate 95
    """
    from hdcli.customers import ContractFields, add_contract

    row = add_contract(
        context(),
        org,
        number,
        ContractFields(
            billing,
            rate,
            increment,
            minimum,
            included,
            approval,
            closed_policy,
            report_to,
            valid_from,
            valid_to,
        ),
    )
    say(f"added contract {row['number']} for {row['organisation']}")


@app.command("list")
def list_(
    org: Annotated[str | None, typer.Option(help="only this organisation's")] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List contracts."""
    from hdcli.customers import list_contracts
    from hdcli.output import render_rows

    out(render_rows(list_contracts(context().store, org), fmt_of(fmt, as_json)))


@app.command("show")
def show(number: str, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Show a contract."""
    from hdcli.customers import get_contract
    from hdcli.output import render_record

    out(render_record(get_contract(context().store, number), fmt_of(fmt, as_json)))


@app.command("edit")
def edit(
    number: str,
    billing: Billing = None,
    rate: Rate = None,
    increment: Increment = None,
    minimum: Minimum = None,
    included: Included = None,
    approval: Approval = None,
    closed_policy: ClosedPolicy = None,
    report_to: ReportTo = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
) -> None:
    """Change a contract.

    Example: hdcli contract edit RV-2026-001 --valid-to 2026-12-31
    """
    from hdcli.customers import ContractFields, edit_contract

    edit_contract(
        context(),
        number,
        ContractFields(
            billing,
            rate,
            increment,
            minimum,
            included,
            approval,
            closed_policy,
            report_to,
            valid_from,
            valid_to,
        ),
    )
    say(f"changed contract {number}")


@app.command("remove")
def remove(number: str) -> None:
    """Remove a contract without tickets."""
    from hdcli.customers import remove_contract

    remove_contract(context(), number)
    say(f"removed contract {number}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="CSV or JSONL file, - = stdin (JSONL)")],
    dry_run: DryRunOpt = False,
) -> None:
    """Import contracts: fields org, number, billing, rate, increment, minimum, included,
    approval, closed_policy, report_to, valid_from, valid_to."""
    from hdcli.customers import ContractFields, add_contract

    ctx = context()

    def one(rec: dict[str, Any]) -> None:
        def s(key: str) -> str | None:
            return None if rec.get(key) in (None, "") else str(rec[key])

        add_contract(
            ctx,
            str(rec["org"]),
            str(rec["number"]),
            ContractFields(
                s("billing"),
                s("rate"),
                s("increment"),
                s("minimum"),
                s("included"),
                s("approval"),
                s("closed_policy"),
                s("report_to"),
                s("valid_from"),
                s("valid_to"),
            ),
        )

    import_records(path, one, "contract", dry_run)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="contract")
