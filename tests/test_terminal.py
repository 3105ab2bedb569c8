"""Text from mail never reaches the agent's terminal as control sequences or bidi tricks."""

from __future__ import annotations

import json

import pytest
from helpdesk import Helpdesk

from hdcli.commands.show import _text
from hdcli.output import render_record, render_rows, visible

HOSTILE = "a\x1b]0;owned\x07b\x1b[2Jc\x9b31m\u202efdp.exe\u2066x\u2069\u200b\u200d\ufeff\u061c\x7f"
BAD = ("\x1b", "\x07", "\x9b", "\x7f", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff")


def clean(text: str) -> bool:
    return not any(ch in text for ch in BAD)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\u202efdp.exe", "\\u202efdp.exe"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x9b2J", "\\x9b2J"),
        ("a\u200bb\u200e\u200f\u061c", "a\\u200bb\\u200e\\u200f\\u061c"),
        ("\u2066x\u2069\u2060\ufeff", "\\u2066x\\u2069\\u2060\\ufeff"),
        ("line\u2028two", "line\\u2028two"),
        ("bytes \udcff", "bytes \\udcff"),
        ("tab\there", "tab\\there"),
        ("Grüße, 1\u00a0000 €, C:\\x", "Grüße, 1\u00a0000 €, C:\\x"),
    ],
)
def test_visible_escapes_what_a_terminal_acts_on(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_keeps_the_layout_it_is_told_to() -> None:
    assert visible("a\r\nb\tc\rd", "\n\t") == "a\nb\tc\\x0dd"
    assert visible("a\nb", "") == "a\\x0ab"


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_human_formats_escape(fmt: str) -> None:
    text = render_rows([{"subject": HOSTILE, "n": 1}], fmt)
    assert clean(text)
    assert "\\u202efdp.exe" in text and "\\x1b]0;owned\\x07" in text
    assert clean(render_record({"subject": HOSTILE}, fmt))


def test_data_formats_stay_exact() -> None:
    rows = [{"subject": HOSTILE}]
    assert json.loads(render_rows(rows, "json"))[0]["subject"] == HOSTILE
    assert json.loads(render_rows(rows, "jsonl"))["subject"] == HOSTILE
    assert render_rows(rows, "csv").splitlines()[1] == HOSTILE


def test_the_text_of_show_escapes_every_field_and_keeps_body_lines() -> None:
    data = {
        "number": "1",
        "subject": HOSTILE,
        "status": "new",
        "waiting_for": None,
        "organisation": "Muster\x1b[31m",
        "contract": "RV-1",
        "requester": "a@muster.example",
        "requester_name": "Eve\u202e",
        "assignee": None,
        "preselected": None,
        "channel": "mail",
        "impact": "single_user",
        "priority": HOSTILE,
        "merged_into": HOSTILE,
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
        "closed_at": None,
        "total_minutes": 0,
        "links": [],
        "articles": [
            {
                "created_at": "2026-12-01T00:00:00Z",
                "kind": "mail",
                "direction": "in",
                "sender": "a@muster.example\x1b[8m",
                "created_by": None,
                "recipients": None,
                "subject": "Re: \x1b[2J",
                "attachments": [
                    {"filename": "\u202efdp.exe", "content_type": "x/y\x07", "size": 3}
                ],
                "body": "Zeile 1\r\n\tZeile 2\x1b]0;owned\x07\nZeile 3",
            }
        ],
        "time_entries": [],
    }
    text = _text(data)
    assert clean(text)
    assert "[attachment] \\u202efdp.exe (x/y\\x07, 3 bytes)" in text
    assert "Zeile 1\n\tZeile 2\\x1b]0;owned\\x07\nZeile 3" in text


HOSTILE_MAIL = (
    "From: Anna Schmidt <anna.schmidt@muster.example>\r\n"
    "To: helpdesk@smartwork.example\r\n"
    "Subject: =?utf-8?q?Drucker_=E2=80=AE_kaputt?=\r\n"
    "Message-ID: <hostile-1@muster.example>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n'
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallo\x1b]0;owned\x07\x1b[2J\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename*=utf-8''%E2%80%AEfdp.exe\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVo=\r\n"
    "--b--\r\n"
)


def test_show_and_list_of_a_hostile_mail(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("mail", "ingest", "-", input=HOSTILE_MAIL.encode())
    number = hd.ok("list", "-q").split()[0]
    shown = hd.ok("show", number)
    assert clean(shown)
    assert "[attachment] fdp.exe " in shown  # stored without the override: what it is
    assert "Hallo\\x1b]0;owned\\x07\\x1b[2J" in shown
    listed = hd.ok("list")
    assert clean(listed) and "\\u202e" in listed
    assert clean(hd.ok("list", "--format", "md"))
    data = hd.json("show", number)
    assert "\x1b]0;owned\x07" in data["articles"][0]["body"]  # stored as received
    assert data["articles"][0]["attachments"][0]["filename"] == "fdp.exe"


def test_error_lines_are_one_escaped_line(hd: Helpdesk) -> None:
    hd.seed()
    proc = hd("show", "2026\x1b]0;owned\x07\n\u202e1")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr
    assert "\\x1b" in proc.stderr and "\\u202e" in proc.stderr
