"""The operations the CLI and the server share: each is the workflow call in process, or the
same call as one HTTP request when ``storage.url`` is ``http(s)://`` (:mod:`hdcli.remote`).

Commands call these functions and never ask where the helpdesk is; the server's resources
(:mod:`hdcli.server`) call the same functions in process. Each returns JSON-ready data: a
ticket's ``number`` and ``status`` for a change, the shapes of :mod:`hdcli.views` for reads.
A command that uses the store directly is not available against a remote helpdesk (exit 2,
:func:`hdcli.backends.open_storage`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment
    from hdcli.models import Row


def _done(ticket: Row) -> Row:
    return {"number": ticket["number"], "status": ticket["status"]}


def _post(ctx: Context, number: str, action: str, body: dict[str, Any]) -> Row | None:
    """The change as a request when the helpdesk is remote (None: run it here)."""
    remote = ctx.remote
    if remote is None:
        return None
    data: Row = remote.call("POST", f"/tickets/{remote.quote(number)}/{action}", body, ctx)
    return data


def open_ticket(ctx: Context, fields: dict[str, Any]) -> Row:
    """Open a ticket (the fields of :class:`hdcli.tickets.OpenRequest` that a caller gives);
    the ticket as ``show`` gives it without articles and time, and ``created``."""
    if ctx.remote is not None:
        data: Row = ctx.remote.call("POST", "/tickets", fields, ctx)
        return data
    from hdcli.errors import UsageError
    from hdcli.tickets import OpenRequest, open_ticket
    from hdcli.views import show

    allowed = ("contact", "subject", "body", "channel", "impact", "external_id", "notify")
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise UsageError(f"unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")
    if not fields.get("contact") or not fields.get("subject"):
        raise UsageError("open needs a contact and a subject")
    for key in allowed:
        value = fields.get(key)
        if value is not None and not isinstance(value, bool if key == "notify" else str):
            raise UsageError(f"bad {key} {value!r}")
    opened = open_ticket(ctx, OpenRequest(**fields))
    data = show(ctx.store, opened.ticket["number"], history=False)
    data.pop("articles")
    data.pop("time_entries")
    data["created"] = opened.created
    return data


def assign(ctx: Context, number: str, to: str, start: bool = False) -> Row:
    if (done := _post(ctx, number, "assign", {"to": to, "start": start})) is not None:
        return done
    from hdcli.tickets import assign as run

    return _done(run(ctx, number, to, start_work=start))


def start(ctx: Context, number: str, override: bool = False, reason: str | None = None) -> Row:
    if (done := _post(ctx, number, "start", {"override": override, "reason": reason})) is not None:
        return done
    from hdcli.tickets import start as run

    return _done(run(ctx, number, override=override, reason=reason))


def reply(
    ctx: Context,
    number: str,
    body: str,
    minutes: int | None = None,
    wait: bool = True,
    attachments: Sequence[OutAttachment] = (),
    answer: str | None = None,
    force: bool = False,
) -> Row:
    payload: Row = {"body": body, "minutes": minutes, "wait": wait, "force": force}
    if answer is not None:
        payload["answer"] = answer
    if attachments:
        import base64

        payload["attachments"] = [
            {"name": a.filename, "type": a.content_type, "data": base64.b64encode(a.data).decode()}
            for a in attachments
        ]
    if (done := _post(ctx, number, "reply", payload)) is not None:
        return done
    from hdcli.tickets import reply as run

    return _done(
        run(
            ctx,
            number,
            body,
            minutes,
            wait=wait,
            attachments=attachments,
            answer=answer,
            force=force,
        )
    )


def note(
    ctx: Context,
    number: str,
    text: str,
    minutes: int | None = None,
    kind: str = "note",
    *,
    force: bool = False,
) -> Row:
    payload = {"text": text, "minutes": minutes, "kind": kind, "force": force}
    if (done := _post(ctx, number, "note", payload)) is not None:
        return done
    from hdcli.tickets import note as run

    return _done(run(ctx, number, text, minutes, kind=kind, force=force))


def log_time(
    ctx: Context,
    number: str,
    minutes: int,
    *,
    note: str = "",
    work_date: str | None = None,
    activity: str = "other",
    billable: bool = True,
    force: bool = False,
) -> Row:
    """Log time; ``work_date`` as ``YYYY-MM-DD`` (None: today)."""
    payload = {
        "minutes": minutes,
        "note": note,
        "date": work_date,
        "activity": activity,
        "billable": billable,
        "force": force,
    }
    if (done := _post(ctx, number, "log", payload)) is not None:
        return done
    from datetime import date

    from hdcli.errors import UsageError
    from hdcli.tickets import log_time as run

    day = None
    if work_date is not None:
        try:
            day = date.fromisoformat(work_date)
        except ValueError:
            raise UsageError(f"bad date {work_date!r} (YYYY-MM-DD)") from None
    run(
        ctx,
        number,
        minutes,
        note=note,
        work_date=day,
        activity=activity,
        billable=billable,
        force=force,
    )
    from hdcli.views import get_ticket

    return _done(get_ticket(ctx.store, number))


def close(ctx: Context, number: str, reason: str | None = None, notify: bool = True) -> Row:
    if (done := _post(ctx, number, "close", {"reason": reason, "notify": notify})) is not None:
        return done
    from hdcli.billing.servicereports import NO_TIME, skipped_on_close
    from hdcli.tickets import close as run

    ticket = run(ctx, number, reason, notify=notify)
    done = _done(ticket)
    if skipped_on_close(ctx.store, int(ticket["id"])):
        done["note"] = f"no service report sent: {NO_TIME}"
    return done


def reopen(ctx: Context, number: str, reason: str | None = None) -> Row:
    if (done := _post(ctx, number, "reopen", {"reason": reason})) is not None:
        return done
    from hdcli.tickets import reopen as run

    return _done(run(ctx, number, reason))


def show(ctx: Context, number: str, history: bool = True) -> Row:
    """The whole ticket (:func:`hdcli.views.show`); the read is in the access trail."""
    remote = ctx.remote
    if remote is not None:
        query = "" if history else "?history=false"
        data: Row = remote.call("GET", f"/tickets/{remote.quote(number)}{query}", None, ctx)
        return data
    from hdcli.trail import record_access
    from hdcli.views import show as load

    data = load(ctx.store, number, history=history)
    # the trail records what was read: after the read succeeded (an unknown number is none)
    record_access(ctx.store, ctx.actor, "show", ticket_number=number)
    return data


def _param(value: Any) -> str:
    """A query parameter: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def list_tickets(ctx: Context, **filters: Any) -> list[Row]:
    """Tickets newest first (:func:`hdcli.views.list_tickets`): status, assignee, org, since,
    requester, preselected, priority, limit."""
    remote = ctx.remote
    if remote is not None:
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        rows: list[Row] = remote.call("GET", "/tickets", None, ctx, params=params)
        return rows
    from hdcli.views import list_tickets as load

    return [dict(row) for row in load(ctx.store, **filters)]


def _get(ctx: Context, path: str, params: dict[str, Any] | None = None) -> Any:
    """The read as a request when the helpdesk is remote (None: read it here); parameters that
    are None are left out, booleans sent as ``true``/``false``."""
    remote = ctx.remote
    if remote is None:
        return None
    given = {k: _param(v) for k, v in (params or {}).items() if v is not None}
    return remote.call("GET", path, None, ctx, params=given)


#: what ``hdcli edit`` may change
EDIT_FIELDS = ("subject", "impact", "requester", "contract", "priority")


def edit(
    ctx: Context,
    number: str,
    *,
    subject: str | None = None,
    impact: str | None = None,
    requester: str | None = None,
    contract: str | None = None,
    priority: str | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Row:
    """Correct a ticket (:func:`hdcli.tickets.edit`); nothing to change is a usage error."""
    fields = {
        "subject": subject,
        "impact": impact,
        "requester": requester,
        "contract": contract,
        "priority": priority,
    }
    changes = {k: v for k, v in fields.items() if v is not None}
    payload = {**changes, "force": force, "reason": reason}
    if (done := _post(ctx, number, "edit", payload)) is not None:
        return done
    from hdcli.errors import UsageError
    from hdcli.tickets import Edit
    from hdcli.tickets import edit as run

    if not changes:
        raise UsageError(
            "nothing to change (give --subject, --impact, --requester, --contract or --priority)"
        )
    return _done(run(ctx, number, Edit(**changes), force=force, reason=reason))


def search(
    ctx: Context,
    query: str,
    *,
    status: str | None = None,
    org: str | None = None,
    since: str | None = None,
    limit: int = 20,
) -> list[Row]:
    """Tickets whose text holds every word of ``query``, best match first, each with its
    ``snippet`` (one line, control characters made visible: it is text from mail); the tickets
    shown are in the access trail."""
    params = {"q": query, "status": status, "org": org, "since": since, "limit": limit}
    if (found := _get(ctx, "/search", params)) is not None:
        rows: list[Row] = found
        return rows
    from hdcli.output import visible
    from hdcli.search import snippets, terms
    from hdcli.trail import record_access
    from hdcli.views import list_tickets as load

    store = ctx.store
    found = terms(store, query)  # once: SQLite looks the words' terms up in the index
    rows = [
        dict(r)
        for r in load(
            store,
            status=status,
            org=org,
            since=since,
            search=query,
            terms=found,
            ranked=True,
            limit=limit,
        )
    ]
    numbers = [str(r["number"]) for r in rows]
    excerpts = snippets(store, found, numbers)
    for r in rows:
        r["snippet"] = visible(" ".join(excerpts.get(str(r["number"]), "").split()))
    # the trail records the tickets whose content was shown (as ``show`` does)
    with store.transaction():
        for number in numbers:
            record_access(store, ctx.actor, "search", ticket_number=number)
    return rows


# -- time entries ----------------------------------------------------------------------------
def time_entries(ctx: Context, number: str) -> list[Row]:
    """A ticket's time entries by work date (:func:`hdcli.timeentries.entries`)."""
    remote = ctx.remote
    if remote is not None:
        rows: list[Row] = remote.call("GET", f"/tickets/{remote.quote(number)}/time", None, ctx)
        return rows
    from hdcli.timeentries import entries

    return entries(ctx, number)


def _day(value: str | None) -> Any:
    from datetime import date

    from hdcli.errors import UsageError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad date {value!r} (YYYY-MM-DD)") from None


def time_edit(
    ctx: Context,
    entry: int,
    *,
    minutes: int | None = None,
    note: str | None = None,
    date: str | None = None,
    activity: str | None = None,
    charge: bool | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Row:
    """Correct a time entry (``date`` as ``YYYY-MM-DD``); its ticket's number and status."""
    remote = ctx.remote
    if remote is not None:
        changes = {"minutes": minutes, "note": note, "date": date, "activity": activity}
        payload = {k: v for k, v in {**changes, "charge": charge}.items() if v is not None}
        data: Row = remote.call(
            "POST", f"/time/{entry}", {**payload, "force": force, "reason": reason}, ctx
        )
        return data
    from hdcli.timeentries import edit_entry

    ticket = edit_entry(
        ctx,
        entry,
        minutes=minutes,
        note=note,
        work_date=_day(date),
        activity=activity,
        billable=charge,
        force=force,
        reason=reason,
    )
    return _done(ticket)


def time_remove(ctx: Context, entry: int, *, force: bool = False, reason: str | None = None) -> Row:
    """Remove a time entry; its ticket's number and status."""
    remote = ctx.remote
    if remote is not None:
        params = {"force": "true"} if force else {}
        if reason is not None:
            params["reason"] = reason
        data: Row = remote.call("DELETE", f"/time/{entry}", None, ctx, params=params)
        return data
    from hdcli.timeentries import remove_entry

    return _done(remove_entry(ctx, entry, force=force, reason=reason))


# -- records and reports ---------------------------------------------------------------------
#: the kinds of record: their resource, and their listing, the record ``show`` shows and its
#: removal in :mod:`hdcli.customers`
RECORDS = {
    "org": ("/orgs", "list_orgs", "show_org", "remove_org"),
    "contract": ("/contracts", "list_contracts", "get_contract", "remove_contract"),
    "contact": ("/contacts", "list_contacts", "get_contact", "remove_contact"),
    "agent": ("/agents", "list_agents", "get_agent", "remove_agent"),
}


def records(ctx: Context, kind: str, org: str | None = None) -> list[Row]:
    """The records of ``kind`` (org, contract, contact, agent) as ``hdcli KIND list`` shows
    them; contracts and contacts of one organisation with ``org``."""
    path, name, _, _ = RECORDS[kind]
    if (found := _get(ctx, path, {"org": org})) is not None:
        rows: list[Row] = found
        return rows
    import hdcli.customers as customers

    load = getattr(customers, name)
    return list(load(ctx.store) if kind in ("org", "agent") else load(ctx.store, org))


def report(ctx: Context, name: str, options: dict[str, Any] | None = None) -> Any:
    """The registered report ``name`` run with ``options`` (:func:`hdcli.reports.run`); a
    :class:`~hdcli.reports.ReportResult`. Remote, the options go as text, as ``hdcli report
    run -o key=value`` gives them."""
    from hdcli.reports import ReportResult, run

    remote = ctx.remote
    if remote is not None:
        data = _get(ctx, f"/reports/{remote.quote(name)}", options)
        return ReportResult.from_dict(data)
    return run(ctx, name, options)


def service_report(ctx: Context, number: str, fmt: str = "json") -> bytes:
    """A ticket's service report as text, md, json or pdf bytes; the read is in the access
    trail. Remote, json is the document itself, the others ``{"content", "encoding"}``."""
    remote = ctx.remote
    if remote is not None:
        path = f"/reports/service/{remote.quote(number)}"
        if fmt == "json":
            import json

            document = _get(ctx, path)
            return json.dumps(document, ensure_ascii=False, indent=2).encode()
        data = _get(ctx, path, {"format": fmt})
        if data.get("encoding") == "base64":
            import base64

            return base64.b64decode(data["content"])
        return str(data["content"]).encode()
    from hdcli.billing.servicereports import service_report_output
    from hdcli.trail import record_access

    output = service_report_output(ctx, number, fmt)
    record_access(ctx.store, ctx.actor, "report.service", ticket_number=number)
    return output


def mail_queue(
    ctx: Context, *, status: str | None = None, everything: bool = False, limit: int = 100
) -> list[Row]:
    """The outbound queue newest first (:func:`hdcli.mail.outbound.queue_rows`)."""
    params = {"status": status, "all": everything or None, "limit": limit}
    if (found := _get(ctx, "/mail/queue", params)) is not None:
        rows: list[Row] = found
        return rows
    from hdcli.mail.outbound import queue_rows

    return queue_rows(ctx.store, status=status, everything=everything, limit=limit)


# -- the quarantine (admin tokens only: it holds strangers' mail) ----------------------------
def _qid(qid: int | str) -> int:
    from hdcli.errors import UsageError

    try:
        return int(str(qid))
    except ValueError:
        raise UsageError(f"bad quarantine id {qid!r}") from None


def quarantine_list(ctx: Context) -> list[Row]:
    """The quarantined messages, newest first (:func:`hdcli.mail.quarantine.list_rows`)."""
    if (found := _get(ctx, "/mail/quarantine")) is not None:
        rows: list[Row] = found
        return rows
    from hdcli.mail.quarantine import list_rows

    return [dict(r) for r in list_rows(ctx.store)]


def quarantine_show(ctx: Context, qid: int | str) -> Row:
    """One quarantined message's reason and headers (:func:`hdcli.mail.quarantine.show`)."""
    if (found := _get(ctx, f"/mail/quarantine/{_qid(qid)}")) is not None:
        row: Row = found
        return row
    from hdcli.mail.quarantine import show

    return dict(show(ctx.store, _qid(qid)))


def quarantine_raw(ctx: Context, qid: int | str) -> bytes:
    """The original bytes of a quarantined message (base64 on the wire)."""
    import base64

    if (found := _get(ctx, f"/mail/quarantine/{_qid(qid)}/raw")) is not None:
        return base64.b64decode(found["content"])
    from hdcli.mail.quarantine import raw_bytes

    return raw_bytes(ctx.store, _qid(qid))


def quarantine_raw_b64(ctx: Context, qid: int | str) -> Row:
    """:func:`quarantine_raw` as the server answers it: ``{"content", "encoding"}``."""
    import base64

    return {"content": base64.b64encode(quarantine_raw(ctx, qid)).decode(), "encoding": "base64"}


def quarantine_retry(
    ctx: Context, qid: int | str, *, billing: bool | None = None, dry_run: bool = False
) -> Row:
    """Run one quarantined message through ingest again; its result
    (:func:`hdcli.mail.quarantine.retry_one`)."""
    remote = ctx.remote
    if remote is not None:
        body = {"billing": billing, "dry_run": dry_run}
        data: Row = remote.call("POST", f"/mail/quarantine/{_qid(qid)}/retry", body, ctx)
        return data
    from hdcli.mail.quarantine import retry_one

    return retry_one(ctx, _qid(qid), billing=billing, dry_run=dry_run).as_dict()


def quarantine_drop(ctx: Context, qid: int | str, *, dry_run: bool = False) -> Row:
    """Remove one quarantined message (:func:`hdcli.mail.quarantine.drop`)."""
    remote = ctx.remote
    if remote is not None:
        data: Row = remote.call(
            "POST", f"/mail/quarantine/{_qid(qid)}/drop", {"dry_run": dry_run}, ctx
        )
        return data
    from hdcli.mail.quarantine import drop

    return dict(drop(ctx, _qid(qid), dry_run=dry_run))


# -- records: adding (admin tokens only, see hdcli.server.app.allowed) -----------------------
def _create(ctx: Context, kind: str, body: dict[str, Any]) -> Row | None:
    """The new record as a request when the helpdesk is remote (None: add it here)."""
    remote = ctx.remote
    if remote is None:
        return None
    data: Row = remote.call("POST", RECORDS[kind][0], body, ctx)
    return data


def _record_path(ctx: Context, kind: str, key: str) -> str | None:
    """The record's resource when the helpdesk is remote (None: it is here)."""
    remote = ctx.remote
    return None if remote is None else f"{RECORDS[kind][0]}/{remote.quote(key)}"


def _texts(values: Any, what: str) -> list[str]:
    from hdcli.errors import UsageError

    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise UsageError(f"bad {what} {values!r}: a list of text")
    return list(values)


def add_org(
    ctx: Context,
    *,
    name: str,
    kind: str = "company",
    domains: Sequence[str] = (),
    language: str = "de",
) -> Row:
    """Add an organisation (:func:`hdcli.customers.add_org`); the new record."""
    body = {"name": name, "kind": kind, "domains": list(domains), "language": language}
    if (done := _create(ctx, "org", body)) is not None:
        return done
    from hdcli.customers import add_org as run

    return run(ctx, name, kind, _texts(domains, "domains"), language)


#: the fields of :class:`hdcli.customers.ContractFields`, in its order
CONTRACT_FIELDS = (
    "billing",
    "rate",
    "increment",
    "minimum",
    "included",
    "approval",
    "closed_policy",
    "report_to",
    "valid_from",
    "valid_to",
    "empty_reports",
)


def add_contract(ctx: Context, *, org: str, number: str, **fields: str | None) -> Row:
    """Add a contract (:func:`hdcli.customers.add_contract`, the fields of
    :data:`CONTRACT_FIELDS`); the new record."""
    given = {k: v for k, v in fields.items() if v is not None}
    if (done := _create(ctx, "contract", {"org": org, "number": number, **given})) is not None:
        return done
    from hdcli.customers import ContractFields
    from hdcli.customers import add_contract as run
    from hdcli.errors import UsageError

    unknown = sorted(set(given) - set(CONTRACT_FIELDS))
    if unknown:
        raise UsageError(f"unknown field {unknown[0]!r} (allowed: {', '.join(CONTRACT_FIELDS)})")
    return run(ctx, org, number, ContractFields(**given))


def add_contact(
    ctx: Context,
    *,
    org: str,
    name: str,
    email: str,
    phone: str | None = None,
    roles: Sequence[str] = (),
) -> Row:
    """Add a contact (:func:`hdcli.customers.add_contact`); the new record."""
    body = {"org": org, "name": name, "email": email, "phone": phone, "roles": list(roles)}
    if (done := _create(ctx, "contact", body)) is not None:
        return done
    from hdcli.customers import add_contact as run

    return run(ctx, org, name, email, phone, _texts(roles, "roles"))


def add_agent(ctx: Context, *, login: str, name: str, email: str) -> Row:
    """Add an agent (:func:`hdcli.customers.add_agent`); the new record."""
    if (done := _create(ctx, "agent", {"login": login, "name": name, "email": email})) is not None:
        return done
    from hdcli.customers import add_agent as run

    return run(ctx, login, name, email)


# -- approvals and the customer's answer to a service report (agent tokens) ------------------
def approval_request(ctx: Context, number: str, change: str, kind: str | None = None) -> Row:
    """Ask the approvers of the ticket's organisation (:func:`hdcli.approvals.request`); the
    approval."""
    if (done := _post(ctx, number, "approvals", {"change": change, "kind": kind})) is not None:
        return done
    from hdcli.approvals import request

    return request(ctx, number, change, kind)


def approval_decide(
    ctx: Context,
    number: str,
    decision: str,
    *,
    by: str,
    via: str,
    note: str | None = None,
    kind: str | None = None,
    approval_id: int | None = None,
) -> Row:
    """Record an approver's decision, ``granted`` or ``denied``
    (:func:`hdcli.approvals.decide`); the approval."""
    payload = {
        "decision": decision,
        "by": by,
        "via": via,
        "note": note,
        "kind": kind,
        "approval_id": approval_id,
    }
    if (done := _post(ctx, number, "approvals/decide", payload)) is not None:
        return done
    from hdcli.approvals import decide

    return decide(ctx, number, decision, by, via, note, kind, approval_id)


def approval_apply(
    ctx: Context, number: str, message: str, *, override: bool = False, reason: str | None = None
) -> Row:
    """Record an important change (:func:`hdcli.approvals.apply_change`); the ticket's number
    and status."""
    payload = {"message": message, "override": override, "reason": reason}
    if (done := _post(ctx, number, "approvals/apply", payload)) is not None:
        return done
    from hdcli.approvals import apply_change

    return _done(apply_change(ctx, number, message, override=override, reason=reason))


def approvals(ctx: Context, *, pending: bool = False, ticket: str | None = None) -> list[Row]:
    """Approvals newest first (:func:`hdcli.approvals.list_approvals`)."""
    params = {"pending": pending or None, "ticket": ticket}
    if (found := _get(ctx, "/approvals", params)) is not None:
        rows: list[Row] = found
        return rows
    from hdcli.approvals import list_approvals

    return list_approvals(ctx.store, pending=pending, number=ticket)


def report_decide(
    ctx: Context,
    number: str,
    status: str,
    *,
    by: str = "",
    via: str = "mail",
    reason: str | None = None,
) -> Row:
    """Record the customer's answer to a ticket's service report, ``approved`` or ``disputed``
    (:func:`hdcli.billing.servicereports.decide_report`); the ticket's number and the
    report's status."""
    payload = {"status": status, "by": by, "via": via, "reason": reason}
    if (done := _post(ctx, number, "report/decide", payload)) is not None:
        return done
    from hdcli.billing.servicereports import decide_report

    row = decide_report(ctx, number, status, by=by, via=via, reason=reason)
    return {"number": number, "status": row["status"]}


# -- records: show (every reader), edit and remove (admin tokens only) -----------------------
def record(ctx: Context, key: str, *, kind: str) -> Row:
    """The record of ``kind`` named ``key`` as ``hdcli KIND show`` shows it; NotFound (exit 3)
    else."""
    if (path := _record_path(ctx, kind, key)) is not None:
        found: Row = _get(ctx, path)
        return found
    import hdcli.customers as customers

    return dict(getattr(customers, RECORDS[kind][2])(ctx.store, key))


def remove_record(ctx: Context, key: str, *, kind: str) -> Row:
    """Remove the record (an agent with work on record is deactivated); the record as it was."""
    if (path := _record_path(ctx, kind, key)) is not None and ctx.remote is not None:
        data: Row = ctx.remote.call("DELETE", path, None, ctx)
        return data
    import hdcli.customers as customers

    return dict(getattr(customers, RECORDS[kind][3])(ctx, key))


def _change_record(ctx: Context, kind: str, key: str, body: dict[str, Any]) -> Row | None:
    """The change as a request when the helpdesk is remote (None: change it here)."""
    path = _record_path(ctx, kind, key)
    if path is None or ctx.remote is None:
        return None
    given = {k: v for k, v in body.items() if v is not None}
    data: Row = ctx.remote.call("POST", path, given, ctx)
    return data


def edit_org(
    ctx: Context,
    key: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    language: str | None = None,
    add_domains: Sequence[str] = (),
    remove_domains: Sequence[str] = (),
) -> Row:
    """Change an organisation (:func:`hdcli.customers.edit_org`); the record."""
    body = {
        "name": name,
        "kind": kind,
        "language": language,
        "add_domains": list(add_domains),
        "remove_domains": list(remove_domains),
    }
    if (done := _change_record(ctx, "org", key, body)) is not None:
        return done
    from hdcli.customers import edit_org as run

    return run(
        ctx,
        key,
        name=name,
        kind=kind,
        language=language,
        add_domains=_texts(add_domains, "add_domains"),
        remove_domains=_texts(remove_domains, "remove_domains"),
    )


def edit_contract(ctx: Context, number: str, **fields: str | None) -> Row:
    """Change a contract (:func:`hdcli.customers.edit_contract`, the fields of
    :data:`CONTRACT_FIELDS`); the record."""
    if (done := _change_record(ctx, "contract", number, fields)) is not None:
        return done
    from hdcli.customers import ContractFields
    from hdcli.customers import edit_contract as run
    from hdcli.errors import UsageError

    unknown = sorted(set(fields) - set(CONTRACT_FIELDS))
    if unknown:
        raise UsageError(f"unknown field {unknown[0]!r} (allowed: {', '.join(CONTRACT_FIELDS)})")
    return run(ctx, number, ContractFields(**fields))


def edit_contact(
    ctx: Context,
    key: str,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    roles: Sequence[str] | None = None,
    org: str | None = None,
) -> Row:
    """Change a contact (:func:`hdcli.customers.edit_contact`; ``roles`` replace the roles);
    the record."""
    body = {
        "name": name,
        "email": email,
        "phone": phone,
        "roles": None if roles is None else list(roles),
        "org": org,
    }
    if (done := _change_record(ctx, "contact", key, body)) is not None:
        return done
    from hdcli.customers import edit_contact as run

    return run(
        ctx,
        key,
        name=name,
        email=email,
        phone=phone,
        roles=None if roles is None else _texts(roles, "roles"),
        org=org,
    )


def edit_agent(
    ctx: Context,
    login: str,
    *,
    name: str | None = None,
    email: str | None = None,
    active: bool | None = None,
) -> Row:
    """Change an agent (:func:`hdcli.customers.edit_agent`); the record."""
    body = {"name": name, "email": email, "active": active}
    if (done := _change_record(ctx, "agent", login, body)) is not None:
        return done
    from hdcli.customers import edit_agent as run

    return run(ctx, login, name=name, email=email, active=active)


# -- billing overrides and reports by mail ---------------------------------------------------
def set_billable(
    ctx: Context, number: str, billable: bool | None = None, *, force: bool = False
) -> Row:
    """Override whether a ticket is billable, None: follow the contract again
    (:func:`hdcli.billing.servicereports.set_billable`); its number and status."""
    if (done := _post(ctx, number, "billable", {"billable": billable, "force": force})) is not None:
        return done
    from hdcli.billing.servicereports import set_billable as run

    return _done(run(ctx, number, billable, force=force))


def send_report(
    ctx: Context, name: str, options: dict[str, Any], to: str, *, language: str = "de"
) -> Row:
    """Run the registered report ``name`` and mail it to ``to`` (:func:`hdcli.reports.send`,
    through the outbound queue of the helpdesk); its ``title``, ``summary`` and the mail's
    ``message_id``."""
    remote = ctx.remote
    if remote is not None:
        body = {"to": to, "language": language, "options": options}
        data: Row = remote.call("POST", f"/reports/{remote.quote(name)}/send", body, ctx)
        return data
    from hdcli.errors import UsageError
    from hdcli.reports import run, send

    if not isinstance(options, dict):
        raise UsageError("bad options: an object of a report's options")
    result = run(ctx, name, options)
    message_id = send(ctx, result, to, language=language)
    return {"title": result.title, "summary": result.summary, "message_id": message_id}
