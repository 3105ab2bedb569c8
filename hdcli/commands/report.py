"""hdcli report: service reports, billing reports and the reports registered by plugins."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="Service reports and billing reports.\n\nExample: hdcli report billing --month last",
    no_args_is_help=True,
)

Number = Annotated[str, typer.Argument(help="ticket number")]


@app.command("service")
def service(
    number: Number,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, json or pdf")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="write to this file (mode 0600)")
    ] = None,
) -> None:
    """A ticket's service report.

    Example: hdcli report service 2026112710000127 --format pdf -o bericht.pdf
    """
    from hdcli.ops import service_report  # here (in the access trail), or the remote helpdesk

    data = service_report(context(), number, fmt)
    if output:
        from hdcli.errors import UsageError
        from hdcli.util import write_private

        try:
            write_private(output, data)
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    else:
        import sys

        if fmt == "pdf":
            sys.stdout.buffer.write(data)
        else:
            out(data.decode("utf-8"))


@app.command("billable")
def billable(
    number: Number,
    yes: Annotated[bool, typer.Option("--yes", help="bill this ticket")] = False,
    no: Annotated[bool, typer.Option("--no", help="do not bill it (ohne Berechnung)")] = False,
    contract: Annotated[bool, typer.Option(help="follow the contract again")] = False,
    force: Annotated[bool, typer.Option(help="even if its report is approved (recorded)")] = False,
) -> None:
    """Override whether a ticket is billable; its pending service report follows.

    Example: hdcli report billable 2026112710000127 --no
    """
    from hdcli.errors import UsageError
    from hdcli.ops import set_billable  # here, or the remote helpdesk

    if yes + no + contract != 1:
        raise UsageError("give exactly one of --yes, --no or --contract")
    set_billable(context(), number, True if yes else (False if no else None), force=force)
    say(
        f"{number}: "
        + ("billable" if yes else "not billable" if no else "billable as the contract says")
    )


@app.command("approve")
def approve(
    number: Number,
    by: Annotated[str, typer.Option("--by", help="who approved it")],
    via: Annotated[str, typer.Option("--via", help="mail, fax or phone")],
) -> None:
    """Record that the customer approved a ticket's service report (its time is then locked).

    Example: hdcli report approve 2026112710000127 --by "A. Schmidt" --via fax
    """
    from hdcli.ops import report_decide  # here, or the remote helpdesk

    report_decide(context(), number, "approved", by=by, via=via)
    say(f"service report of {number} approved by {by} via {via}")


@app.command("dispute")
def dispute(
    number: Number,
    reason: Annotated[str, typer.Option("--reason", help="what the customer objects to")],
    by: Annotated[str, typer.Option("--by", help="who disputed it")] = "",
    via: Annotated[str, typer.Option("--via", help="mail, fax or phone")] = "mail",
) -> None:
    """Record that the customer disputed a ticket's service report.

    Example: hdcli report dispute 2026112710000127 --reason "nur 1 h vereinbart"
    """
    from hdcli.ops import report_decide  # here, or the remote helpdesk

    report_decide(context(), number, "disputed", by=by, via=via, reason=reason)
    say(f"service report of {number} disputed")


def formats_language(language: str | None) -> str:
    from hdcli.formats import language_of

    return language_of(language)


def _emit(name: str, options: dict[str, Any], fmt: str, send_to: str | None, language: str) -> None:
    """Run the report and print it, or mail it (here, or by the remote helpdesk)."""
    import sys

    from hdcli.ops import report, send_report
    from hdcli.reports import render

    if send_to:
        sent = send_report(context(), name, options, send_to, language=language)
        say(f"{sent['title']} queued for {send_to} ({sent['message_id']})")
        summary = str(sent["summary"] or "")
    else:
        result = report(context(), name, options)
        render(result, fmt, sys.stdout.write)
        summary = result.summary
    if summary:
        say(summary)


FormatOptReport = Annotated[
    str, typer.Option("--format", "-f", help="table, csv, json, jsonl or md")
]
SendTo = Annotated[
    str | None, typer.Option("--send-to", help="mail it (CSV attached) instead of printing")
]
Language = Annotated[
    str | None,
    typer.Option(
        "--language", help="language of the mail: de or en (default: the organisation's, else de)"
    ),
]


@app.command("billing")
def billing(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, this or last")] = "last",
    org: Annotated[str | None, typer.Option("--org", help="only this organisation")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="one row per ticket too")] = False,
    fmt: FormatOptReport = "table",
    as_json: JsonOpt = False,
    send_to: SendTo = None,
    language: Language = None,
) -> None:
    """A month's billing per organisation and contract, with a totals row.

    Tickets count in the month they were closed in (billing.timezone). Columns: tickets,
    hours worked, billed, included hours used, charged, amount, and the service reports
    approved / pending / disputed.

    Example: hdcli report billing --month last --format csv --send-to buchhaltung@example.com
    """
    options: dict[str, Any] = {"month": month, "org": org, "detail": detail}
    if send_to:  # the mail in the reader's language; a terminal keeps the English line
        if language is None and org:
            from hdcli.ops import record  # here, or the remote helpdesk

            language = str(record(context(), org, kind="org")["language"] or "de")
        options["language"] = language = formats_language(language)
    _emit("billing", options, fmt_of(fmt, as_json), send_to, language or "de")


@app.command("tickets")
def tickets(
    by: Annotated[str, typer.Option("--by", help="status, agent, org or age")] = "status",
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """The open workload, grouped.

    Example: hdcli report tickets --by agent
    """
    _emit("tickets", {"by": by}, fmt_of(fmt, as_json), None, "de")


@app.command("run")
def run_report(
    name: Annotated[str, typer.Argument(help="a registered report (see `hdcli report list`)")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE, repeatable")
    ] = None,
    fmt: FormatOptReport = "table",
    as_json: JsonOpt = False,
    send_to: SendTo = None,
    language: Language = None,
) -> None:
    """Run any registered report, built in or from a plugin.

    Example: hdcli report run billing -o month=2026-11 -o detail=yes --format csv
    """
    from hdcli.errors import UsageError

    options: dict[str, Any] = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --option {item!r} (use KEY=VALUE)")
        options[key.strip()] = value
    _emit(name, options, fmt_of(fmt, as_json), send_to, language or "de")


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """The registered reports and the plugins that registered them.

    Example: hdcli report list
    """
    from hdcli.output import render_rows
    from hdcli.reports import catalogue

    out(render_rows(catalogue(), fmt_of(fmt, as_json), ["name", "plugin"]))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="report")
