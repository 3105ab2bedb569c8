"""Corrections of time entries (hdcli.timeentries) in process, on both backends, and the
``hdcli time`` commands through the CLI."""

from __future__ import annotations

from datetime import date

import pytest

from hdcli import tickets, timeentries, views
from hdcli.billing.servicereports import current_report, decide_report, latest_report
from hdcli.context import Context
from hdcli.errors import NotFound, Refused, UsageError
from tests.helpdesk import Helpdesk
from tests.workflow import ANNA


def closed_ticket_with(ctx: Context, minutes: int) -> tuple[str, int]:
    opened = tickets.open_ticket(ctx, tickets.OpenRequest(ANNA, "Drucker", "x", notify=False))
    number = str(opened.ticket["number"])
    tickets.log_time(ctx, number, minutes)
    tickets.close(ctx, number, notify=False)
    return number, int(timeentries.entries(ctx, number)[0]["id"])


def stored_report(ctx: Context, number: str) -> dict[str, object]:
    row = latest_report(ctx.store, int(views.get_ticket(ctx.store, number)["id"]))
    assert row is not None
    return row


def test_edit_corrects_the_entry_and_the_service_report(any_ctx: Context) -> None:
    number, entry = closed_ticket_with(any_ctx, 300)  # 5h typed for 30m
    assert str(stored_report(any_ctx, number)["amount"]) == "475.00"
    timeentries.edit_entry(
        any_ctx, entry, minutes=30, note="Fernwartung", work_date=date(2026, 12, 1), billable=True
    )
    [row] = timeentries.entries(any_ctx, number)
    assert (row["minutes"], row["note"], row["date"]) == (30, "Fernwartung", "2026-12-01")
    assert str(current_report(any_ctx, number).charge.amount) == "47.50"
    stored = stored_report(any_ctx, number)
    assert (stored["worked_minutes"], str(stored["amount"])) == (30, "47.50")
    edited = views.show(any_ctx.store, number)["history"][-1]
    assert edited["action"] == "time_edited"
    assert edited["detail"]["changes"]["minutes"] == [300, 30]
    assert "billable" not in edited["detail"]["changes"]  # unchanged values are not changes


def test_remove_takes_the_time_off_the_report(any_ctx: Context) -> None:
    number, entry = closed_ticket_with(any_ctx, 60)
    timeentries.remove_entry(any_ctx, entry)
    assert timeentries.entries(any_ctx, number) == []
    assert str(stored_report(any_ctx, number)["amount"]) == "0.00"
    removed = views.show(any_ctx.store, number)["history"][-1]
    assert (removed["action"], removed["detail"]["minutes"]) == ("time_removed", 60)
    with pytest.raises(NotFound):
        timeentries.remove_entry(any_ctx, entry)


def test_approved_report_locks_corrections_unless_forced_with_a_reason(ctx: Context) -> None:
    number, entry = closed_ticket_with(ctx, 60)
    decide_report(ctx, number, "approved", by="A. Schmidt", via="phone")
    with pytest.raises(Refused, match="approved"):
        timeentries.edit_entry(ctx, entry, minutes=45)
    with pytest.raises(Refused, match="approved"):
        timeentries.remove_entry(ctx, entry)
    with pytest.raises(UsageError, match="--reason"):
        timeentries.edit_entry(ctx, entry, minutes=45, force=True)
    assert timeentries.entries(ctx, number)[0]["minutes"] == 60
    timeentries.edit_entry(ctx, entry, minutes=45, force=True, reason="Kunde: 45 Minuten")
    actions = views.show(ctx.store, number)["history"][-2:]
    assert actions[0]["action"] == "locked_time_changed"
    assert actions[0]["detail"]["reason"] == "Kunde: 45 Minuten"
    assert actions[1]["detail"]["reason"] == "Kunde: 45 Minuten"
    assert stored_report(ctx, number)["worked_minutes"] == 45


def test_one_entry_above_the_maximum_is_refused_everywhere_unless_forced(ctx: Context) -> None:
    opened = tickets.open_ticket(ctx, tickets.OpenRequest(ANNA, "Server", "x", notify=False))
    number = str(opened.ticket["number"])
    with pytest.raises(Refused, match=r"25h is more than time.max_entry \(12h\)"):
        tickets.log_time(ctx, number, 25 * 60)
    with pytest.raises(Refused, match=r"time\.max_entry"):
        tickets.reply(ctx, number, "Erledigt.", minutes=13 * 60)
    assert timeentries.entries(ctx, number) == []  # the refused reply left nothing
    tickets.log_time(ctx, number, 12 * 60)  # the maximum itself is fine
    entry = int(timeentries.entries(ctx, number)[0]["id"])
    with pytest.raises(Refused, match=r"time\.max_entry"):
        timeentries.edit_entry(ctx, entry, minutes=12 * 60 + 1)
    with pytest.raises(Refused, match=r"time\.max_entry"):
        tickets.note(ctx, number, "Rückruf", 13 * 60, kind="phone")
    tickets.log_time(ctx, number, 25 * 60, force=True)
    tickets.note(ctx, number, "Umzug vor Ort", 13 * 60, force=True)
    assert [e["minutes"] for e in timeentries.entries(ctx, number)] == [720, 1500, 780]


def test_time_commands(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    refused = hd("--as", "mmueller", "log", number, "25h")
    assert refused.returncode == 4 and "time.max_entry" in refused.stderr
    refused = hd("note", number, "-m", "Umzug", "--time", "13h")
    assert refused.returncode == 4 and "time.max_entry" in refused.stderr
    hd.ok("--as", "mmueller", "log", number, "3h", "--note", "Drucker")
    [entry] = hd.json("time", "list", number)
    assert (entry["minutes"], entry["duration"], entry["charge"], entry["agent"]) == (
        180,
        "3h",
        True,
        "mmueller",
    )
    hd.ok("close", number)
    hd.ok("time", "edit", str(entry["id"]), "--duration", "30m", "--no-charge")
    table = hd.ok("time", "list", number)
    assert table.splitlines()[-1].split()[2:5] == ["30m", "other", "no"]
    csv = hd.ok("time", "list", number, "--format", "csv").splitlines()
    assert csv[0] == "id,date,minutes,duration,activity,charge,note,agent"
    report = hd.json("report", "service", number)
    assert (report["worked_minutes"], report["amount"]) == (30, "0.00")
    nothing = hd("time", "edit", str(entry["id"]))
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    hd.ok("report", "approve", number, "--by", "Anna Schmidt", "--via", "fax")
    locked = hd("time", "remove", str(entry["id"]))
    assert locked.returncode == 4 and "approved" in locked.stderr
    hd.ok("time", "remove", str(entry["id"]), "--force", "--reason", "doppelt erfasst")
    assert hd.json("time", "list", number) == []
    missing = hd("time", "edit", "999", "--note", "x")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
