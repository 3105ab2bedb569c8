"""``hdcli edit`` (hdcli.tickets.edit) in process on both backends and through the CLI, and
internal notes on closed tickets."""

from __future__ import annotations

import pytest

from hdcli import customers, tickets, views
from hdcli.billing.servicereports import decide_report
from hdcli.context import Context
from hdcli.errors import Refused, UsageError
from tests.helpdesk import Helpdesk
from tests.workflow import ANNA


def opened(ctx: Context) -> str:
    req = tickets.OpenRequest(ANNA, "Drucker", "x", notify=False)
    return str(tickets.open_ticket(ctx, req).ticket["number"])


def test_edit_changes_and_records_old_and_new(any_ctx: Context) -> None:
    number = opened(any_ctx)
    customers.add_contact(any_ctx, "Muster GmbH", "Bernd Kurz", "bernd@muster.example")
    customers.add_contract(any_ctx, "Muster GmbH", "RV-2", customers.ContractFields(billing="free"))
    tickets.edit(
        any_ctx,
        number,
        tickets.Edit(
            subject="Alle Drucker im 2. OG",
            impact="several_users",
            requester="Bernd@muster.example",
            contract="RV-2",
            priority="high",
        ),
    )
    shown = views.show(any_ctx.store, number)
    assert (shown["subject"], shown["impact"], shown["priority"]) == (
        "Alle Drucker im 2. OG",
        "several_users",
        "high",
    )
    assert (shown["requester"], shown["contract"]) == ("bernd@muster.example", "RV-2")
    edited = shown["history"][-1]
    assert edited["action"] == "edited"
    assert edited["detail"]["changes"] == {
        "subject": ["Drucker", "Alle Drucker im 2. OG"],
        "impact": ["single_user", "several_users"],
        "priority": ["normal", "high"],
        "requester": [ANNA, "bernd@muster.example"],
        "contract": ["RV-1", "RV-2"],
    }


def test_edit_stays_within_the_organisation(ctx: Context) -> None:
    number = opened(ctx)
    customers.add_org(ctx, "Beispiel AG", "company", ["beispiel.example"])
    customers.add_contact(ctx, "Beispiel AG", "Bea", "bea@beispiel.example")
    customers.add_contract(ctx, "Beispiel AG", "RV-9", customers.ContractFields(billing="free"))
    with pytest.raises(Refused, match="not a contact of the ticket's organisation"):
        tickets.edit(ctx, number, tickets.Edit(requester="bea@beispiel.example"))
    with pytest.raises(Refused, match="not a contract of the ticket's organisation"):
        tickets.edit(ctx, number, tickets.Edit(contract="RV-9"))
    with pytest.raises(UsageError, match="priority"):
        tickets.edit(ctx, number, tickets.Edit(priority="sofort"))
    assert views.show(ctx.store, number)["history"][-1]["action"] == "opened"


def test_contract_of_an_approved_report_needs_force_and_reason(ctx: Context) -> None:
    number = opened(ctx)
    customers.add_contract(ctx, "Muster GmbH", "RV-2", customers.ContractFields(billing="free"))
    tickets.log_time(ctx, number, 60)
    tickets.close(ctx, number, notify=False)
    decide_report(ctx, number, "approved", by="A. Schmidt", via="phone")
    with pytest.raises(Refused, match="approved"):
        tickets.edit(ctx, number, tickets.Edit(contract="RV-2"))
    tickets.edit(ctx, number, tickets.Edit(priority="low"))  # not billing: allowed
    with pytest.raises(UsageError, match="--reason"):
        tickets.edit(ctx, number, tickets.Edit(contract="RV-2"), force=True)
    tickets.edit(ctx, number, tickets.Edit(contract="RV-2"), force=True, reason="falscher Vertrag")
    assert views.show(ctx.store, number)["contract"] == "RV-2"
    assert views.show(ctx.store, number)["history"][-1]["detail"]["reason"] == "falscher Vertrag"


def test_edit_and_note_on_a_closed_ticket_through_the_cli(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("edit", number, "--impact", "everyone", "--priority", "urgent")
    data = hd.json("show", number)
    assert (data["impact"], data["priority"]) == ("everyone", "urgent")
    assert "priority urgent" in hd.ok("show", number)
    bad = hd("edit", number, "--impact", "alle")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert hd("edit", number).returncode == 2
    assert hd("edit", "2026010110000000", "--priority", "low").returncode == 3
    hd.ok("close", number)
    mails = len(hd.mails())
    hd.ok("note", number, "-m", "Kunde rief an: alles gut")
    data = hd.json("show", number)
    assert data["status"] == "closed"
    assert data["articles"][-1]["direction"] == "internal"
    assert len(hd.mails()) == mails  # a note never reaches the customer
    assert hd("note", number, "-m", "x", "--time", "10m").returncode == 4


def test_list_filters_by_priority_on_both_backends(any_ctx: Context) -> None:
    high, plain = opened(any_ctx), opened(any_ctx)
    tickets.edit(any_ctx, high, tickets.Edit(priority="high"))
    listed = views.list_tickets(any_ctx.store, priority="high")
    assert [(r["number"], r["priority"]) for r in listed] == [(high, "high")]
    assert [r["number"] for r in views.list_tickets(any_ctx.store, priority="normal")] == [plain]
    assert views.list_tickets(any_ctx.store, priority="high", limit=1)[0]["number"] == high
    with pytest.raises(UsageError, match="priority"):
        views.list_tickets(any_ctx.store, priority="hoch")
