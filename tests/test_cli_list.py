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


def test_list_by_priority_with_priority_and_preselected_columns(hd: Helpdesk) -> None:
    hd.seed()
    urgent = hd.open("Server steht")
    plain = hd.open("Drucker druckt nicht")
    hd.ok("edit", urgent, "--priority", "urgent")

    def numbers(*args: str) -> list[str]:
        return [r["number"] for r in hd.json("list", *args)]

    assert numbers("--priority", "urgent") == [urgent]
    assert numbers("--priority", "normal") == [plain]
    assert numbers("--priority", "low") == []
    rows = {r["number"]: r for r in hd.json("list")}
    assert rows[urgent]["priority"] == "urgent" and rows[plain]["priority"] == "normal"
    assert rows[urgent]["preselected"] is None
    header = hd.ok("list").splitlines()[0].split()
    assert "priority" in header and "preselected" in header
    table = hd.ok("list", "--priority", "urgent").splitlines()
    assert len(table) == 3 and urgent in table[-1] and "urgent" in table[-1]
    lines = hd.ok("list", "--format", "csv").splitlines()
    columns = lines[0].split(",")
    assert "priority" in columns and "preselected" in columns
    cells = next(line.split(",") for line in lines[1:] if line.startswith(urgent))
    assert cells[columns.index("priority")] == "urgent"
    assert hd.ok("list", "--priority", "urgent", "-q").split() == [urgent]
    bad = hd("list", "--priority", "hoch")
    assert bad.returncode == 2 and "low, normal, high, urgent" in bad.stderr
