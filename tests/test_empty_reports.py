"""A ticket closed without time (0 h): per contract (``--empty-reports``) no service report
(``skip``, the default) or the usual one (``send``)."""

from __future__ import annotations

import json

import pytest

from hdcli import customers, tickets, views
from hdcli.billing.monthly import billing_rows, month_range
from hdcli.billing.servicereports import latest_report
from hdcli.context import Context
from tests.helpdesk import Helpdesk
from tests.workflow import ANNA


@pytest.fixture
def seeded(hd: Helpdesk) -> Helpdesk:
    hd.seed()
    return hd


def report_mails(hd: Helpdesk) -> list[str]:
    return [str(m["Subject"]) for m in hd.mails() if m.get_content_type() == "multipart/mixed"]


def billing_total(hd: Helpdesk) -> dict[str, object]:
    data = json.loads(hd.ok("report", "billing", "--month", "this", "--format", "json"))
    total: dict[str, object] = data[-1] if isinstance(data, list) else data["rows"][-1]
    return total


def test_closing_without_time_sends_no_report_by_default(seeded: Helpdesk) -> None:
    hd = seeded
    contract = hd.json("contract", "show", "RV-1")
    assert contract["empty_reports"] == "skip"
    number = hd.open()
    proc = hd("close", number, check=True)
    assert f"closed: {number} (no service report sent: no time logged)" in proc.stderr
    assert report_mails(hd) == []
    history = hd.json("show", number)["history"]
    skipped = [h for h in history if h["action"] == "service_report_skipped"]
    assert skipped and skipped[0]["detail"]["reason"] == "no time logged"
    assert "service_report_created" not in [h["action"] for h in history]
    total = billing_total(hd)
    assert total["tickets"] == 1 and total["pending"] == 0
    proc = hd("report", "approve", number, "--by", "Anna Schmidt", "--via", "phone")
    assert proc.returncode == 3 and "has no service report" in proc.stderr


def test_a_ticket_with_time_still_gets_its_report(seeded: Helpdesk) -> None:
    hd = seeded
    number = hd.open()
    hd.ok("log", number, "20m")
    proc = hd("close", number, check=True)
    assert "no service report" not in proc.stderr
    assert len(report_mails(hd)) == 1
    assert billing_total(hd)["pending"] == 1


def test_send_keeps_the_report_of_zero_hours(seeded: Helpdesk) -> None:
    hd = seeded
    hd.ok("contract", "edit", "RV-1", "--empty-reports", "send")
    assert hd.json("contract", "show", "RV-1")["empty_reports"] == "send"
    number = hd.open()
    proc = hd("close", number, check=True)
    assert proc.stderr.strip().endswith(f"closed: {number}")
    assert len(report_mails(hd)) == 1
    actions = [h["action"] for h in hd.json("show", number)["history"]]
    assert "service_report_created" in actions and "service_report_skipped" not in actions
    assert billing_total(hd)["pending"] == 1


def test_empty_reports_is_a_choice(seeded: Helpdesk) -> None:
    proc = seeded("contract", "edit", "RV-1", "--empty-reports", "maybe")
    assert proc.returncode == 2 and "skip, send" in proc.stderr
    seeded.ok(
        "contract",
        "add",
        "Muster GmbH",
        "--number",
        "RV-9",
        "--billing",
        "free",
        "--empty-reports",
        "send",
    )
    listed = {c["number"]: c for c in seeded.json("contract", "list")}
    assert listed["RV-9"]["empty_reports"] == "send"
    assert listed["RV-1"]["empty_reports"] == "skip"


def test_skip_and_send_on_both_backends(any_ctx: Context) -> None:
    ctx = any_ctx
    month = month_range("this", ctx.today(), ctx.tz)

    def closed() -> str:
        req = tickets.OpenRequest(ANNA, "Drucker", "x", notify=False)
        number = str(tickets.open_ticket(ctx, req).ticket["number"])
        tickets.close(ctx, number)
        return number

    skipped = closed()
    assert latest_report(ctx.store, int(views.get_ticket(ctx.store, skipped)["id"])) is None
    customers.edit_contract(ctx, "RV-1", customers.ContractFields(empty_reports="send"))
    sent = closed()
    row = latest_report(ctx.store, int(views.get_ticket(ctx.store, sent)["id"]))
    assert row is not None and row["status"] == "pending" and row["worked_minutes"] == 0
    detail = {r["ticket"]: r for r in billing_rows(ctx, month, detail=True) if r["ticket"]}
    assert detail[skipped]["pending"] == 0 and detail[skipped]["report"] == "none"
    assert detail[sent]["pending"] == 1
    # reopened, with time logged, closed again: the report is made after all
    tickets.reopen(ctx, skipped)
    customers.edit_contract(ctx, "RV-1", customers.ContractFields(empty_reports="skip"))
    tickets.log_time(ctx, skipped, 15)
    tickets.close(ctx, skipped)
    row = latest_report(ctx.store, int(views.get_ticket(ctx.store, skipped)["id"]))
    assert row is not None and row["worked_minutes"] == 15


def test_closed_again_without_time_withdraws_the_earlier_report(any_ctx: Context) -> None:
    from hdcli import timeentries
    from hdcli.billing.servicereports import decide_report
    from hdcli.errors import Refused

    ctx = any_ctx
    month = month_range("this", ctx.today(), ctx.tz)
    req = tickets.OpenRequest(ANNA, "Drucker", "x", notify=False)
    number = str(tickets.open_ticket(ctx, req).ticket["number"])
    tickets.log_time(ctx, number, 30)
    tickets.close(ctx, number)
    tid = int(views.get_ticket(ctx.store, number)["id"])
    first = latest_report(ctx.store, tid)
    assert first is not None and first["status"] == "pending"
    # the time was a mistake: reopened, removed, closed again under ``skip``
    tickets.reopen(ctx, number)
    for entry in timeentries.entries(ctx, number):
        timeentries.remove_entry(ctx, int(entry["id"]))
    tickets.close(ctx, number)
    row = latest_report(ctx.store, tid)
    assert row is not None and row["id"] == first["id"] and row["status"] == "withdrawn"
    withdrawn = [h for h in ctx.store.query(
        "SELECT action FROM history WHERE ticket_id = ? ORDER BY id", (tid,)
    ) if h["action"] == "service_report_withdrawn"]  # fmt: skip
    assert len(withdrawn) == 1
    detail = {r["ticket"]: r for r in billing_rows(ctx, month, detail=True) if r["ticket"]}
    assert detail[number]["pending"] == 0 and detail[number]["report"] == "withdrawn"
    with pytest.raises(Refused, match="withdrawn"):
        decide_report(ctx, number, "approved", by="Anna Schmidt", via="phone")
    # with time again, a new report is made and awaits the answer
    tickets.reopen(ctx, number)
    tickets.log_time(ctx, number, 15)
    tickets.close(ctx, number)
    row = latest_report(ctx.store, tid)
    assert row is not None and row["status"] == "pending" and row["worked_minutes"] == 15
