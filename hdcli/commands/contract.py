"""hdcli contract: framework contracts of organisations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.commands._common import context, say
from hdcli.commands._records import Records, group
from hdcli.ops import CONTRACT_FIELDS

if TYPE_CHECKING:
    from hdcli.context import Context

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
EmptyReports = Annotated[
    str | None,
    typer.Option(
        "--empty-reports",
        help="closing a ticket without time (0 h): skip (no service report, the default) or send",
    ),
]
ValidFrom = Annotated[str | None, typer.Option("--valid-from", help="YYYY-MM-DD")]
ValidTo = Annotated[str | None, typer.Option("--valid-to", help="YYYY-MM-DD")]
#: The fields of hdcli.customers.ContractFields, as an import file names them.
FIELDS = CONTRACT_FIELDS


def _fields(options: dict[str, Any]) -> dict[str, str | None]:
    """The contract fields among a command's options (its parameters are named as the
    fields are, so ``add`` and ``edit`` pass them on alike)."""
    return {name: options[name] for name in FIELDS}


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
    empty_reports: EmptyReports = None,
) -> None:
    """Add a contract.

    Example: hdcli contract add "Muster GmbH" --number RV-2026-001 --billing hourly --rate 95
    """
    from hdcli.ops import add_contract  # here, or the remote helpdesk

    row = add_contract(context(), org=org, number=number, **_fields(locals()))
    say(f"added contract {row['number']} for {row['organisation']}")


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
    empty_reports: EmptyReports = None,
) -> None:
    """Change a contract.

    Example: hdcli contract edit RV-2026-001 --valid-to 2026-12-31
    """
    from hdcli.ops import edit_contract  # here, or the remote helpdesk

    edit_contract(context(), number, **_fields(locals()))
    say(f"changed contract {number}")


def _import_one(ctx: Context, rec: dict[str, Any]) -> None:
    from hdcli.customers import ContractFields, add_contract

    def s(key: str) -> str | None:
        return None if rec.get(key) in (None, "") else str(rec[key])

    fields = ContractFields(**{name: s(name) for name in FIELDS})
    add_contract(ctx, str(rec["org"]), str(rec["number"]), fields)


app = group(
    Records(
        group="contract",
        help="Framework contracts (billing, approval policy, validity).",
        noun="contract",
        one="a contract",
        key="number",
        key_help="the contract number",
        example="RV-2026-001",
        import_one=_import_one,
        import_fields=f"org, number, {', '.join(FIELDS)}",
        by_org=True,
    ),
    add=add,
    edit=edit,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="contract")
