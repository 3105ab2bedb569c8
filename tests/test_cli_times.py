"""Times for people in the configured time zone (``billing.timezone``): the tables and text
of ``list``, ``show`` and ``search``; json, jsonl and csv keep the stored ISO 8601 moment."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

from helpdesk import Helpdesk

WINTER = "2026-12-03T13:05:00Z"  # 14:05 in Berlin (+01:00)
SUMMER = "2026-07-01T10:00:00Z"  # 12:00 in Berlin (+02:00)


def _ticket_at(hd: Helpdesk, subject: str, created: str, updated: str) -> str:
    number = hd.open(subject)
    with sqlite3.connect(hd.db) as db:
        db.execute(
            "UPDATE tickets SET created_at = ?, updated_at = ? WHERE number = ?",
            (created, updated, number),
        )
        db.execute(
            "UPDATE articles SET created_at = ? "
            "WHERE ticket_id = (SELECT id FROM tickets WHERE number = ?)",
            (created, number),
        )
    db.close()
    return number


def test_list_show_and_search_show_berlin_time_and_keep_iso_in_machine_formats(
    hd: Helpdesk,
) -> None:
    hd.seed()
    number = _ticket_at(hd, "Drucker im Winter", WINTER, SUMMER)

    table = hd.ok("list")
    assert "2026-07-01 12:00" in table  # updated_at, summer time
    assert "10:00" not in table and "Z" not in table
    assert "| 2026-07-01 12:00 |" in hd.ok("list", "--format", "md")
    picked = hd.ok("list", "--fields", "number,created_at,updated_at")
    assert "2026-12-03 14:05" in picked and "2026-07-01 12:00" in picked

    listed = hd.json("list", "--json")[0]
    assert (listed["created_at"], listed["updated_at"]) == (WINTER, SUMMER)
    line = json.loads(hd.ok("list", "--format", "jsonl").splitlines()[0])
    assert line["created_at"] == WINTER
    rows = list(csv.DictReader(io.StringIO(hd.ok("list", "--format", "csv"))))
    assert rows[0]["updated_at"] == SUMMER

    text = hd.ok("show", number)
    assert "created:      2026-12-03 14:05, updated 2026-07-01 12:00" in text
    assert "--- 2026-12-03 14:05 " in text  # the article
    assert WINTER not in text
    shown = hd.json("show", number, "--json")
    assert shown["created_at"] == WINTER and shown["articles"][0]["created_at"] == WINTER
    field = hd.ok("show", number, "--fields", "created_at")
    assert "2026-12-03 14:05" in field and WINTER not in field
    assert json.loads(hd.ok("show", number, "--fields", "created_at", "--json")) == {
        "created_at": WINTER
    }

    found = hd.ok("search", "Drucker", "--fields", "number,created_at")
    assert number in found and "2026-12-03 14:05" in found
    assert hd.json("search", "Drucker", "--json")[0]["created_at"] == WINTER


def test_another_configured_time_zone(hd: Helpdesk) -> None:
    hd.seed()
    number = _ticket_at(hd, "Drucker", WINTER, WINTER)
    env = {"HDCLI_BILLING__TIMEZONE": "America/New_York"}
    assert "2026-12-03 08:05" in hd("list", env=env, check=True).stdout
    assert "created:      2026-12-03 08:05" in hd("show", number, env=env, check=True).stdout
    assert hd("list", "--json", env=env, check=True).stdout.count(WINTER) == 2
