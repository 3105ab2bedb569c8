"""hdcli list filters: requester, preselected agent."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid

from helpdesk import Helpdesk


def _mail(sender: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="muster.example")
    msg.set_content("Bitte um Hilfe.")
    return bytes(msg)


def _ingest(hd: Helpdesk, raw: bytes) -> str:
    rows = json.loads(hd.ok("mail", "ingest", "-", "--format", "json", input=raw))
    assert rows[0]["outcome"] == "new", rows
    return str(rows[0]["ticket"])


def test_list_by_requester_and_preselected_agent(hd: Helpdesk) -> None:
    hd.seed()
    hd.config.parent.mkdir(parents=True, exist_ok=True)
    hd.config.write_text(
        "[[routing.rules]]\nagent = 'mmueller'\nsubject = '(?i)drucker'\n", encoding="utf-8"
    )
    hd.ok(
        "contact",
        "add",
        "Muster GmbH",
        "--name",
        "Bernd Kurz",
        "--email",
        "bernd.kurz@muster.example",
    )
    routed = _ingest(hd, _mail("Anna Schmidt <anna.schmidt@muster.example>", "Drucker defekt"))
    plain = _ingest(hd, _mail("Bernd Kurz <bernd.kurz@muster.example>", "VPN geht nicht"))

    def numbers(*args: str) -> list[str]:
        return [r["number"] for r in hd.json("list", *args)]

    assert numbers("--preselected") == [routed]
    assert numbers("--no-preselected") == [plain]
    assert numbers("--requester", "Bernd.Kurz@muster.example") == [plain]
    assert hd.json("list", "--preselected")[0]["preselected"] == "mmueller"
    assert "preselected" in hd.ok("list").splitlines()[0]
    unknown = hd("list", "--requester", "nobody@muster.example")
    assert unknown.returncode == 3 and len(unknown.stderr.strip().splitlines()) == 1
