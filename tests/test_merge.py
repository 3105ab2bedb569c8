"""``hdcli merge`` (hdcli.tickets.merge) on both backends, and a later mail to the merged
number through the CLI."""

from __future__ import annotations

import pytest

from hdcli import customers, tickets, views
from hdcli.billing.servicereports import decide_report
from hdcli.context import Context
from hdcli.errors import Refused, UsageError
from tests.helpdesk import Helpdesk
from tests.test_ingest import ingest, mail
from tests.workflow import ANNA


def opened(ctx: Context, body: str, contact: str = ANNA) -> str:
    req = tickets.OpenRequest(contact, "Drucker", body, notify=False)
    return str(tickets.open_ticket(ctx, req).ticket["number"])


def test_merge_moves_everything_and_closes_the_source(any_ctx: Context) -> None:
    customers.add_contact(any_ctx, "Muster GmbH", "Bernd Kurz", "bernd@muster.example")
    source = opened(any_ctx, "Drucker im 2. OG", "bernd@muster.example")
    target = opened(any_ctx, "Drucker druckt nicht")
    tickets.log_time(any_ctx, source, 20)
    tickets.merge(any_ctx, source, target)
    merged, into = views.show(any_ctx.store, source), views.show(any_ctx.store, target)
    assert (merged["status"], merged["merged_into"]) == ("closed", target)
    assert merged["articles"] == [] and merged["time_entries"] == []
    assert [a["body"] for a in into["articles"]] == ["Drucker im 2. OG", "Drucker druckt nicht"]
    assert [e["minutes"] for e in into["time_entries"]] == [20]
    assert merged["history"][-1]["detail"] == {"into": target}
    assert into["history"][-1]["detail"] == {"source": source}
    with pytest.raises(Refused, match="closed"):
        tickets.merge(any_ctx, source, target)
    with pytest.raises(UsageError):
        tickets.merge(any_ctx, target, target)


def test_merge_is_refused_across_organisations_and_on_an_approved_report(ctx: Context) -> None:
    customers.add_org(ctx, "Beispiel AG", "company", ["beispiel.example"])
    customers.add_contract(ctx, "Beispiel AG", "RV-9", customers.ContractFields(billing="free"))
    customers.add_contact(ctx, "Beispiel AG", "Bea", "bea@beispiel.example")
    other = opened(ctx, "x", "bea@beispiel.example")
    a, b = opened(ctx, "a"), opened(ctx, "b")
    with pytest.raises(Refused, match="different organisations"):
        tickets.merge(ctx, other, a)
    tickets.log_time(ctx, b, 30)
    tickets.close(ctx, b, notify=False)
    decide_report(ctx, b, "approved", by="A. Schmidt", via="phone")
    tickets.reopen(ctx, b)
    with pytest.raises(Refused, match="approved"):
        tickets.merge(ctx, a, b)
    assert views.show(ctx.store, a)["status"] == "new"


def test_mail_to_the_merged_number_joins_the_target(hd: Helpdesk) -> None:
    hd.seed()
    source, target = hd.open(), hd.open("Drucker offline")
    hd.ok("merge", source, target)
    assert f"merged into:  {target}" in hd.ok("show", source)
    result = ingest(
        hd,
        mail(
            subject=f"AW: [Ticket#{source}] Drucker", body="Geht wieder nicht.", message_id="<x@m>"
        ),
    )
    assert (result["outcome"], result["ticket"]) == ("followup", target)
    assert "Geht wieder nicht." in [a["body"] for a in hd.json("show", target)["articles"]]
    assert hd("merge", target, source).returncode == 4


def test_split_moves_the_articles_into_a_new_ticket(any_ctx: Context) -> None:
    number = opened(any_ctx, "Drucker und Bildschirm")
    tickets.note(any_ctx, number, "Bildschirm flackert auch")
    tickets.note(any_ctx, number, "Drucker: Toner leer")
    arts = views.show(any_ctx.store, number)["articles"]
    new = tickets.split(any_ctx, number, [arts[1]["id"]], "Bildschirm flackert")
    split_off = views.show(any_ctx.store, str(new["number"]))
    assert [a["body"] for a in split_off["articles"]] == ["Bildschirm flackert auch"]
    assert (split_off["subject"], split_off["contract"], split_off["requester"]) == (
        "Bildschirm flackert",
        "RV-1",
        ANNA,
    )
    kept = views.show(any_ctx.store, number)
    assert [a["body"] for a in kept["articles"]] == [
        "Drucker und Bildschirm",
        "Drucker: Toner leer",
    ]
    assert kept["history"][-1]["detail"]["into"] == new["number"]
    with pytest.raises(Refused, match="nothing behind"):
        tickets.split(any_ctx, str(new["number"]), [arts[1]["id"]])


def test_split_through_the_cli(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("note", number, "-m", "zweites Problem")
    article = hd.json("show", number)["articles"][-1]["id"]
    assert hd("split", number, "--article", "99999").returncode == 3
    new = hd.ok("split", number, "--article", str(article)).strip()
    assert [a["body"] for a in hd.json("show", new)["articles"]] == ["zweites Problem"]
