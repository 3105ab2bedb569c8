"""The ticket lifecycle (hdcli.tickets) in process: opening one or many, transitions and their
guards, and the features that hang on the lifecycle through hooks (approvals, billing)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from workflow import ANNA, make_context, registered

from hdcli import customers, hookimpl, tickets, views
from hdcli.context import Context
from hdcli.errors import Refused
from hdcli.events import Change, TicketEvent
from hdcli.mail.ingest import ingest_one
from hdcli.unit import change


def _outbound(ctx: Context) -> list[tuple[str, str]]:
    return [
        (r["kind"], r["recipient"])
        for r in ctx.store.query("SELECT kind, recipient FROM outbound ORDER BY id")
    ]


def _history(ctx: Context) -> list[tuple[str, str]]:
    rows = ctx.store.query(
        "SELECT t.subject, h.action FROM history h JOIN tickets t ON t.id = h.ticket_id "
        "ORDER BY h.id"
    )
    return [(r["subject"], r["action"]) for r in rows]


def _requests(n: int) -> list[tickets.OpenRequest]:
    return [tickets.OpenRequest(ANNA, f"Drucker {i}", "Hilfe") for i in range(n)]


def test_open_many_gives_every_row_what_one_open_gives(tmp_path: Path) -> None:
    # A low daily cap of automatic mail: it must treat both ways alike.
    one = make_context(tmp_path / "one", MAIL__AUTO_REPLY_LIMIT="3")
    many = make_context(tmp_path / "many", MAIL__AUTO_REPLY_LIMIT="3")
    for req in _requests(12):
        tickets.open_ticket(one, req)
    results = list(tickets.open_many(many, enumerate(_requests(12), start=1), batch=5))
    assert [r.error for r in results] == [None] * 12
    assert all(r.created for r in results)
    assert _outbound(one) == _outbound(many) == [("acknowledgement", ANNA)] * 12
    assert _history(one) == _history(many)
    articles = "SELECT kind, direction, subject FROM articles ORDER BY id"
    assert one.store.query(articles) == many.store.query(articles)


#: What a store holds after opening, without ids and times (PostgreSQL burns the ids of
#: rolled-back rows, which a bulk batch that falls back to its savepoint path has).
_ROWS = {
    "tickets": "SELECT t.number, t.subject, t.channel, t.impact, t.status, t.external_id, "
    "o.name AS org, c.email AS requester FROM tickets t JOIN organisations o ON o.id = t.org_id "
    "JOIN contacts c ON c.id = t.requester_id ORDER BY t.number",
    "history": "SELECT entity, entity_key, actor, action, detail FROM history ORDER BY id",
    "contacts": "SELECT c.name, c.email, c.roles, o.name AS org FROM contacts c "
    "JOIN organisations o ON o.id = c.org_id ORDER BY c.email",
    "participants": "SELECT t.number, p.email, p.role FROM ticket_participants p "
    "JOIN tickets t ON t.id = p.ticket_id ORDER BY t.number, p.email",
    "articles": "SELECT t.number, a.kind, a.direction, a.sender, a.subject, a.body "
    "FROM articles a JOIN tickets t ON t.id = a.ticket_id ORDER BY a.id",
    "outbound": "SELECT t.number, b.kind, b.automatic, b.recipient, b.subject, b.status "
    "FROM outbound b JOIN tickets t ON t.id = b.ticket_id ORDER BY b.id",
}


def _mixed_requests() -> list[tickets.OpenRequest]:
    """Rows of every kind: repeated external ids (in the input and in the store), a new
    contact of a mail domain, a refused sender, an empty subject."""
    new = "neu.kunde@muster.example"
    reqs = [
        tickets.OpenRequest(ANNA, "Drucker", external_id="x-1"),
        tickets.OpenRequest(ANNA, "Scanner", external_id="x-2"),
        tickets.OpenRequest(ANNA, "Drucker wieder", external_id="x-1"),
        tickets.OpenRequest(new, "Zugang", name="Neu Kunde"),
        # a batch whose rows all pass, then one with a refused row, then a bad subject
        tickets.OpenRequest(new, "Zugang 2", channel="phone", impact="several_users"),
        tickets.OpenRequest(ANNA, "Monitor", external_id="x-3"),
        tickets.OpenRequest(ANNA, "Maus"),
        tickets.OpenRequest(ANNA, "Tastatur", external_id="x-2"),
        tickets.OpenRequest("fremd@example.org", "Spam", external_id="x-9"),
        tickets.OpenRequest(ANNA, "Headset"),
        tickets.OpenRequest(ANNA, "   "),
        tickets.OpenRequest(ANNA, "Netzwerk", external_id="x-9"),
    ]
    return reqs


def test_bulk_and_single_open_write_the_same_rows(
    any_ctx: Context, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from hdcli.errors import UsageError

    with contextlib.ExitStack() as stack:
        if str(any_ctx.config.get("storage.url")).startswith("sqlite"):
            single = make_context(tmp_path / "single")
        else:
            from hdcli.backends.testing import postgres_schema

            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
            single = make_context(tmp_path / "single", STORAGE__URL=url)
        stack.callback(single.close)
        errors = []
        for req in _mixed_requests():
            try:
                opened = tickets.open_ticket(single, req)
                errors.append((str(opened.ticket["number"]), opened.created, None))
            except (Refused, UsageError) as exc:
                errors.append((None, False, str(exc)))
        savepoints = []
        real = any_ctx.store.savepoint

        def counted() -> Any:
            savepoints.append(1)
            return real()

        setattr(any_ctx.store, "savepoint", counted)  # on this one object
        bulk = list(tickets.open_many(any_ctx, enumerate(_mixed_requests(), start=1), batch=4))
        # Rows 1-8 pass their checks: two batches without a savepoint; rows 9-12 (the spam and
        # the blank subject) go row by row, plus the ticket insert's own for the one of them
        # with an external id (without one there is no twin to fall back on).
        assert len(savepoints) == 5
        assert [(r.number, r.created, r.error) for r in bulk] == errors
        assert [e is None for _, _, e in errors].count(False) == 2  # the spam and the blank row
        for table, sql in _ROWS.items():
            assert any_ctx.store.query(sql) == single.store.query(sql), table
        assert len(any_ctx.store.query(_ROWS["tickets"])) == 8
        actions = {r["action"] for r in any_ctx.store.query(_ROWS["history"])}
        assert {"opened", "created"} <= actions  # the tickets, the contact of the mail domain
        assert len(any_ctx.store.query(_ROWS["outbound"])) == 8  # an acknowledgement each


def test_cli_from_file_and_single_opens_queue_the_same_mail(tmp_path: Path) -> None:
    from helpdesk import Helpdesk

    rows = [{"contact": ANNA, "subject": f"Drucker {i}", "body": "Hilfe"} for i in range(12)]
    single, bulk = Helpdesk(tmp_path / "single"), Helpdesk(tmp_path / "bulk")
    for hd in (single, bulk):
        hd.root.mkdir()
        hd.env["HDCLI_MAIL__AUTO_REPLY_LIMIT"] = "3"
        hd.seed()
    for row in rows:
        single.ok("open", "--contact", row["contact"], "--subject", row["subject"], "-m", "Hilfe")
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert len(bulk.ok("open", "--from-file", str(data), "-q").split()) == 12

    def subjects(hd: Helpdesk) -> list[str]:
        return sorted(str(m["Subject"]).split("] ", 1)[1] for m in hd.mails())

    assert len(single.mails()) == len(bulk.mails()) == 12
    assert subjects(single) == subjects(bulk)


def test_open_many_refuses_a_row_alone_and_reuses_external_ids(ctx: Context) -> None:
    reqs: list[Any] = [
        tickets.OpenRequest(ANNA, "Drucker", external_id="x-1"),
        tickets.OpenRequest("fremd@example.org", "Spam"),
        ValueError("line 3 is unreadable"),
        tickets.OpenRequest(ANNA, "Drucker nochmal", external_id="x-1"),
        tickets.OpenRequest(ANNA, "Bildschirm"),
    ]
    results = list(tickets.open_many(ctx, enumerate(reqs, start=1)))
    assert [r.line for r in results] == [1, 2, 3, 4, 5]
    assert results[0].created and results[4].created
    assert "fremd@example.org" in str(results[1].error) and results[1].number is None
    assert results[2].error == "line 3 is unreadable"
    assert (results[3].number, results[3].created) == (results[0].number, False)
    assert ctx.store.query_one("SELECT count(*) AS n FROM tickets") == {"n": 2}
    assert not ctx.store.query("SELECT 1 FROM contacts WHERE email = 'fremd@example.org'")


def test_transition_refuses_a_move_the_lifecycle_does_not_know(ctx: Context) -> None:
    number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    tickets.close(ctx, number, notify=False)
    with pytest.raises(Refused, match="closed: it cannot become in_progress"), change(ctx):
        ticket = views.get_ticket(ctx.store, number)
        tickets.transition(ctx, ticket, "in_progress", action="ticket.start")
    assert views.get_ticket(ctx.store, number)["status"] == "closed"


class Recorder:
    """Records every change the guards see; vetoes the actions in ``veto``."""

    def __init__(self, *veto: str) -> None:
        self.veto = set(veto)
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def guard_change(self, change: Change) -> str | None:
        self.seen.append((change.action, change.data.get("status")))
        return "not today" if change.action in self.veto else None


def _mail(number: str, body: str = "Danke, geht wieder nicht.", n: int = 1) -> bytes:
    return (
        f"From: Anna Schmidt <{ANNA}>\r\nTo: helpdesk@smartwork.example\r\n"
        f"Subject: AW: [Ticket#{number}] Drucker 0\r\nMessage-ID: <reply-{n}@muster.example>\r\n"
        f"Date: Wed, 02 Dec 2026 10:00:00 +0100\r\n\r\n{body}\r\n"
    ).encode()


def test_every_status_change_goes_through_the_guards(ctx: Context) -> None:
    recorder = Recorder()
    with registered(recorder, "test-recorder"):
        number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
        tickets.assign(ctx, number, "mmueller", start_work=True)
        tickets.reply(ctx, number, "Bitte neu starten.")
        assert ingest_one(ctx, _mail(number)).outcome == "followup"
        tickets.close(ctx, number, notify=False)
        tickets.reopen(ctx, number, "doch nicht")
    moves = [(action, status) for action, status in recorder.seen if status]
    assert moves == [
        ("ticket.assign", "assigned"),
        ("ticket.start", "in_progress"),
        ("ticket.wait", "waiting"),
        ("ticket.resume", "in_progress"),  # the customer's mail
        ("ticket.close", "closed"),
        ("ticket.reopen", "assigned"),
    ]


def test_a_vetoed_reopen_stops_a_reopen_by_mail(ctx: Context) -> None:
    customers.edit_contract(ctx, "RV-1", customers.ContractFields(closed_policy="reopen"))
    number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    tickets.close(ctx, number, notify=False)
    with registered(Recorder("ticket.reopen"), "test-veto"):
        result = ingest_one(ctx, _mail(number))
    assert result.outcome == "quarantined"
    assert "ticket.reopen refused: not today" in result.reason
    assert views.get_ticket(ctx.store, number)["status"] == "closed"
    inbound = [a for a in views.show(ctx.store, number)["articles"] if a["direction"] == "in"]
    assert len(inbound) == 1  # the opening article only: the mail waits in quarantine
    assert ctx.store.query_one("SELECT count(*) AS n FROM quarantine") == {"n": 1}
    # without the veto the same policy reopens the ticket
    assert ingest_one(ctx, _mail(number, n=2)).outcome == "followup"
    assert views.get_ticket(ctx.store, number)["status"] == "new"


def test_a_vetoed_start_stops_the_start(ctx: Context) -> None:
    number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    with registered(Recorder("ticket.start"), "test-veto"), pytest.raises(Refused, match="not"):
        tickets.assign(ctx, number, "mmueller", start_work=True)
    ticket = views.get_ticket(ctx.store, number)
    assert (ticket["status"], ticket["assignee_id"]) == ("new", None)  # nothing of it stays
    assert [k for k, _ in _outbound(ctx)] == ["acknowledgement"]  # no start notice


def test_approvals_and_billing_are_built_in_plugins() -> None:
    from hdcli.plugins import plugin_table

    rows = {r["name"]: r for r in plugin_table()}
    approvals, billing = (
        rows["hdcli.default_plugins.approvals"],
        rows["hdcli.default_plugins.billing"],
    )
    assert approvals["builtin"] and billing["builtin"]
    assert {"ticket_changing", "handle_inbound_mail"} <= set(approvals["hooks"])
    assert {"ticket_changing", "ticket_changed", "handle_inbound_mail", "register_reports"} <= set(
        billing["hooks"]
    )


def test_the_approval_gate_is_the_approvals_plugin(ctx: Context) -> None:
    from hdcli.plugins import load_plugins, pm

    customers.edit_contract(ctx, "RV-1", customers.ContractFields(approval="before_work"))
    first = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    with pytest.raises(Refused, match="needs approval before work starts"):
        tickets.assign(ctx, first, "mmueller", start_work=True)
    load_plugins()
    plugin = pm.unregister(name="hdcli.default_plugins.approvals")
    try:
        tickets.assign(ctx, first, "mmueller", start_work=True)  # no plugin, no gate
    finally:
        pm.register(plugin, "hdcli.default_plugins.approvals")
    assert views.get_ticket(ctx.store, first)["status"] == "in_progress"


class Exploding:
    @hookimpl
    def ticket_changed(self, event: TicketEvent, ticket: Any, ctx: Any) -> None:
        if event.event == "ticket.closed":
            raise RuntimeError("boom")


def test_what_a_feature_adds_in_the_transaction_rolls_back_with_the_change(ctx: Context) -> None:
    number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    tickets.log_time(ctx, number, 30)
    with registered(Exploding(), "test-exploding"), pytest.raises(RuntimeError):
        tickets.close(ctx, number)
    assert views.get_ticket(ctx.store, number)["status"] == "new"
    assert not ctx.store.query("SELECT 1 FROM service_reports")
    tickets.close(ctx, number)  # the billing plugin makes the report in the close
    report = ctx.store.query_one("SELECT status, worked_minutes FROM service_reports")
    assert report == {"status": "pending", "worked_minutes": 30}
    assert [k for k, _ in _outbound(ctx)] == ["acknowledgement", "service_report"]


def test_dry_run_checks_everything_and_keeps_nothing(ctx: Context) -> None:
    from hdcli.unit import DryRun

    number = tickets.open_ticket(ctx, _requests(1)[0]).ticket["number"]
    ctx.dry_run = True
    with pytest.raises(DryRun):
        tickets.close(ctx, number)
    ctx.dry_run = False
    assert views.get_ticket(ctx.store, number)["status"] == "new"
    assert not ctx.store.query("SELECT 1 FROM service_reports")
    assert [k for k, _ in _outbound(ctx)] == ["acknowledgement"]
