"""``hdcli link`` (hdcli.tickets.link) on both backends and through the CLI."""

from __future__ import annotations

import pytest

from hdcli import tickets, views
from hdcli.billing.servicereports import decide_report
from hdcli.context import Context
from hdcli.errors import Refused, UsageError
from tests.helpdesk import Helpdesk
from tests.workflow import ANNA


def opened(ctx: Context, subject: str = "Drucker") -> str:
    req = tickets.OpenRequest(ANNA, subject, "x", notify=False)
    return str(tickets.open_ticket(ctx, req).ticket["number"])


def test_links_show_on_both_sides_and_in_the_history(any_ctx: Context) -> None:
    a, b, c = opened(any_ctx), opened(any_ctx), opened(any_ctx)
    tickets.link(any_ctx, a, b, "parent")
    tickets.link(any_ctx, c, b, "duplicate")
    tickets.link(any_ctx, a, c)
    links = {n: views.show(any_ctx.store, n)["links"] for n in (a, b, c)}
    assert sorted((x["kind"], x["number"]) for x in links[a]) == [
        ("parent", b),
        ("relates_to", c),
    ]
    assert sorted((x["kind"], x["number"]) for x in links[b]) == [
        ("child", a),
        ("duplicated_by", c),
    ]
    assert sorted((x["kind"], x["number"]) for x in links[c]) == [
        ("duplicate_of", b),
        ("relates_to", a),
    ]
    assert views.show(any_ctx.store, b)["history"][-1]["action"] == "linked"
    with pytest.raises(Refused, match="linked already"):
        tickets.link(any_ctx, b, a)
    with pytest.raises(UsageError):
        tickets.link(any_ctx, a, a)
    with pytest.raises(UsageError, match="link kind"):
        tickets.link(any_ctx, a, b, "sibling")


def test_link_is_refused_while_a_report_is_approved(ctx: Context) -> None:
    a, b = opened(ctx), opened(ctx)
    tickets.log_time(ctx, b, 30)
    tickets.close(ctx, b, notify=False)
    decide_report(ctx, b, "approved", by="A. Schmidt", via="phone")
    with pytest.raises(Refused, match="approved"):
        tickets.link(ctx, a, b)
    assert views.show(ctx.store, a)["links"] == []


def test_link_through_the_cli(hd: Helpdesk) -> None:
    hd.seed()
    a, b = hd.open(), hd.open("Bildschirm")
    hd.ok("link", a, b, "--kind", "duplicate")
    assert f"duplicated by: {a}" in hd.ok("show", b)
    assert hd("link", a, "2026010110000000").returncode == 3
    assert hd("link", a, b).returncode == 4
