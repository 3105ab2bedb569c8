"""hdcli show: one ticket with its articles, time and history."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FieldsOpt, FormatOpt, JsonOpt, context, fmt_of, out


def show(
    number: Annotated[str, typer.Argument(help="ticket number")],
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Show a ticket.

    Example: hdcli show 2026112710000127 --json | jq .status

    Example: hdcli show 2026112710000127 --json --fields status,assignee
    """
    from hdcli.ops import show as load  # the read (in the access trail) here or remote

    fmt = fmt_of(fmt, as_json)
    ctx = context()
    structured = fmt in ("json", "jsonl") or fields is not None
    # the text view has no history: neither its query nor json's import is needed
    data = load(ctx, number, history=structured)
    if structured:
        from hdcli.output import pick_fields, render_record

        out(render_record(data, fmt, pick_fields(fields, data)))
        return
    out(_text(data))


def _text(data: dict[str, object]) -> str:
    """The ticket for a terminal: every value through :func:`hdcli.output.visible`, so that
    no text from mail acts on the terminal or breaks the layout (a body keeps its lines and
    tabs); times in the configured time zone (:func:`hdcli.output.local_time`)."""
    from hdcli.output import local_time, visible

    def v(value: object) -> str:
        return visible(str(value))

    lines = [
        f"Ticket {v(data['number'])}: {v(data['subject'])}",
        f"  status:       {v(data['status'])}"
        + (f" ({v(data['waiting_for'])})" if data["waiting_for"] else ""),
        f"  organisation: {v(data['organisation'])} (contract {v(data['contract'])})",
        f"  requester:    {v(data['requester_name'])} <{v(data['requester'])}>",
        f"  assignee:     {v(data['assignee'] or '-')}"
        + (f" (preselected {v(data['preselected'])})" if data["preselected"] else ""),
        f"  channel:      {v(data['channel'])}, impact {v(data['impact'])}, "
        f"priority {v(data['priority'])}",
        f"  created:      {local_time(data['created_at'])}, "
        f"updated {local_time(data['updated_at'])}"
        + (f", closed {local_time(data['closed_at'])}" if data["closed_at"] else ""),
        f"  time:         {_minutes(int(str(data['total_minutes'])))}"
        if data["total_minutes"]
        else "  time:         -",
    ]
    if data["merged_into"]:
        lines.append(f"  merged into:  {v(data['merged_into'])}")
    for link in data["links"]:  # type: ignore[attr-defined]
        lines.append(f"  {link['kind'].replace('_', ' ')}: {link['number']}")
    for art in data["articles"]:  # type: ignore[attr-defined]
        lines.append("")
        lines.append(
            f"--- {local_time(art['created_at'])} {art['kind']} {art['direction']} "
            f"{v(art['sender'] or art['created_by'])}"
            + (f" -> {v(art['recipients'])}" if art["recipients"] else "")
        )
        if art["subject"]:
            lines.append(f"Subject: {v(art['subject'])}")
        for att in art["attachments"]:
            lines.append(
                f"[attachment] {v(att['filename'])} ({v(att['content_type'])}, {att['size']} bytes)"
            )
        lines.append(visible(str(art["body"]).rstrip(), "\n\t"))
    if data["time_entries"]:
        lines.append("")
        lines.append("Time:")
        for e in data["time_entries"]:  # type: ignore[attr-defined]
            lines.append(
                f"  {e['date']} {v(e['agent'] or '-'):<12} {_minutes(int(e['minutes'])):>7} "
                f"{v(e['activity']):<7} {'' if e['billable'] else '(no charge) '}{v(e['note'])}"
            )
    return "\n".join(lines)


def _minutes(minutes: int) -> str:
    from hdcli.durations import format_minutes  # only a ticket with time entries needs it

    return format_minutes(minutes)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
