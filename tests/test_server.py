"""The remote helpdesk: ``hdcli serve`` as a real uvicorn process on a free loopback port (the
process is the point: the CLI and hdcli-mailgate talk to it over HTTP), on SQLite and on
PostgreSQL; the CLI as its client, tokens and roles, the gateway path."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from servers import free_port
from test_ingest import mail
from test_mailgate import mailgate_cmd

from hdcli.server.app import allowed
from hdcli.server.openapi import document

DOCS = Path(__file__).resolve().parent.parent / "docs"


@contextmanager
def served(hd: Any, logs: list[str] | None = None) -> Iterator[str]:
    """``hdcli serve`` over ``hd``'s storage; yields its ``…/api`` URL; stopped afterwards (its
    log, stderr, then appended to ``logs``). The log goes to a file: a pipe nobody reads while
    the server runs would fill and stop it in the middle of a log line."""
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="hdcli-serve-", suffix=".log", dir=hd.root)[1])
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hdcli", "serve", "--port", str(port)],
            env=hd.env,
            cwd=hd.root,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    text = log_path.read_text(errors="replace")
                    raise AssertionError(f"hdcli serve did not come up: {text}") from None
                time.sleep(0.05)  # polling the port while the process starts, not a wait
        yield f"http://127.0.0.1:{port}/api"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if logs is not None:
            logs.append(log_path.read_text(errors="replace"))
        log_path.unlink(missing_ok=True)


def token(hd: Any, role: str = "agent", login: str = "mmueller", expires: str = "90d") -> str:
    return hd.ok("token", "create", login, "--role", role, "--expires", expires).strip()


def client(url: str, secret: str) -> dict[str, str]:
    """The environment of a fresh machine that knows only the URL and a token."""
    return {"HDCLI_STORAGE__URL": url, "HDCLI_STORAGE__TOKEN_ENV": "HD_TOKEN", "HD_TOKEN": secret}


def test_lifecycle_through_the_cli_against_the_server(backend_hd: Any) -> None:
    hd = backend_hd
    agent, readonly = token(hd), token(hd, "readonly")
    with served(hd) as url:
        remote = client(url, agent)

        def run(*args: str, env: dict[str, str] = remote) -> subprocess.CompletedProcess[str]:
            return hd(*args, env=env)

        opened = run("open", "-c", "anna.schmidt@muster.example", "-s", "VPN", "-m", "Hilfe", "-q")
        assert opened.returncode == 0, opened.stderr
        number = opened.stdout.strip()
        # the name a client sends is never the actor: the token's agent is
        steps = [
            ("--as", "intruder", "assign", number, "--to", "mmueller", "--start"),
            ("reply", number, "-m", "Bitte neu starten."),
            ("log", number, "30m", "--note", "Fernwartung"),
        ]
        for step in steps:
            done = run(*step)
            assert done.returncode == 0, (step, done.stderr)
        remote_show = json.loads(run("show", number, "--format", "json").stdout)
        assert [r["number"] for r in json.loads(run("list", "--format", "json").stdout)] == [number]
        denied = run("close", number, env=client(url, readonly))
        assert denied.returncode == 4 and "readonly" in denied.stderr
        assert run("list", "-q", env=client(url, readonly)).stdout.strip() == number
        assert run("close", number, "--reason", "gelöst").returncode == 0
        assert run("close", number).returncode == 4  # closed already: the same refusal
        assert run("show", "2000010100000000").returncode == 3
        # not a remote command: said, not misdone
        assert run("mail", "attention").returncode == 2
        second = run("open", "-c", "anna.schmidt@muster.example", "-s", "Drucker", "-q")
        assert second.returncode == 0, second.stderr
        urgent = second.stdout.strip()
        hd.ok("edit", urgent, "--priority", "urgent")  # on the store itself

        def listed(*args: str) -> list[tuple[str, str]]:
            rows = json.loads(run("list", "--format", "json", *args).stdout)
            return [(r["number"], r["priority"]) for r in rows]

        assert listed("--priority", "urgent") == [(urgent, "urgent")]
        assert listed("--priority", "normal") == [(number, "normal")]
        assert run("list", "--priority", "hoch").returncode == 2
        closed = run("close", urgent)
        assert closed.returncode == 0, closed.stderr
        assert "no service report sent: no time logged" in closed.stderr
    local_show = hd.json("show", number)
    assert set(remote_show) == set(local_show)
    assert remote_show["total_minutes"] == 30 and remote_show["assignee"] == "mmueller"
    actors = {e["actor"] for e in local_show["history"]}
    assert actors == {"mmueller"}
    assert local_show["status"] == "closed"
    assert hd.mails(), "the reply left through the server's outbound queue"


def test_tokens_refused_and_roles_denied(hd: Any) -> None:
    hd.seed()
    revoked, expired, gateway = token(hd), token(hd), token(hd, "gateway")
    hd.ok("token", "revoke", revoked)
    prefix = expired.split("_")[1]
    with sqlite3.connect(hd.db) as con:
        con.execute(
            "UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE prefix = ?", (prefix,)
        )
    with served(hd) as url:
        for secret, words in ((revoked, "revoked"), (expired, "expired"), ("hdt_x", "invalid")):
            done = hd("list", env=client(url, secret))
            assert done.returncode == 4 and words in done.stderr
        denied = hd("list", env=client(url, gateway))
        assert denied.returncode == 4 and "gateway" in denied.stderr
        import requests

        served_doc = requests.get(url.removesuffix("/api") + "/openapi.json", timeout=10).json()
        anonymous = requests.get(url + "/tickets", timeout=10)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == 4
        bad = requests.post(
            url + "/tickets",
            json={"contact": "anna.schmidt@muster.example", "subject": "x", "owner": "root"},
            headers={"Authorization": f"Bearer {token(hd)}"},
            timeout=10,
        )
        assert bad.status_code == 422 and "owner" in bad.json()["error"]
    assert served_doc == document()
    assert json.loads((DOCS / "openapi.json").read_text(encoding="utf-8")) == document(), (
        "docs/openapi.json is stale: python -m hdcli.server.openapi > docs/openapi.json"
    )
    assert hd("serve", "--host", "0.0.0.0").returncode == 2  # no TLS, no proxy: refused


def test_mailgate_url_delivers_and_exits_75_when_the_server_is_down(hd: Any) -> None:
    hd.seed()
    gateway = token(hd, "gateway")
    env = {**hd.env, "GATEWAY_TOKEN": gateway, "HDCLI_STORAGE__URL": "sqlite:////nonexistent/x.db"}
    with served(hd) as url:
        args = [*mailgate_cmd(), "--url", url, "--token-env", "GATEWAY_TOKEN"]
        done = subprocess.run(args, input=mail(), capture_output=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["outcome"] == "new"
    down = subprocess.run(args, input=mail(), capture_output=True, env=env, timeout=60)
    assert down.returncode == 75 and b"try again later" in down.stderr
    assert [t["subject"] for t in hd.json("list")] == ["Drucker druckt nicht"]


def test_reads_through_the_server_equal_the_local_output(backend_hd: Any) -> None:
    """Every read the server offers gives, through the CLI, what the command gives locally:
    the same JSON (and the same table); a readonly token may read all of it."""
    hd = backend_hd
    number = hd.open("Drucker im Lager druckt nicht")
    hd.ok("assign", number, "--to", "mmueller", "--start")
    hd.ok("log", number, "1h", "--note", "Treiber", "--activity", "remote")
    hd.ok("log", number, "20m", "--note", "Test", "--no-charge")
    hd.ok("close", number, "--reason", "gelöst")
    reads = [
        ("search", "Lager"),
        ("search", "Drucker", "--status", "closed", "--limit", "5"),
        ("time", "list", number),
        ("org", "list"),
        ("contract", "list", "--org", "Muster GmbH"),
        ("contact", "list"),
        ("agent", "list"),
        ("report", "billing", "--month", "this", "--detail"),
        ("report", "tickets", "--by", "agent"),
        ("report", "run", "billing", "-o", "month=this"),
        ("mail", "queue", "--all"),
        ("list", "--search", "Lager"),
    ]
    local = {}
    for args in reads:
        for fmt in ("json", "table"):
            done = hd(*args, "--format", fmt)
            assert done.returncode == 0, (args, done.stderr)
            local[args, fmt] = (done.stdout, done.stderr)
    local_report = hd.ok("report", "service", number, "--format", "json")
    local_text = hd.ok("report", "service", number, "--format", "md")
    with served(hd) as url:
        remote = client(url, token(hd, "readonly"))
        for (args, fmt), (stdout, stderr) in local.items():
            done = hd(*args, "--format", fmt, env=remote)
            assert done.returncode == 0, (args, done.stderr)
            assert (done.stdout, done.stderr) == (stdout, stderr), (args, fmt)
        assert hd.ok("report", "service", number, "--format", "json") == local_report
        done = hd("report", "service", number, "--format", "json", env=remote)
        assert done.stdout == local_report
        assert hd("report", "service", number, "--format", "md", env=remote).stdout == local_text
        pdf = hd("report", "service", number, "--format", "pdf", "-o", "r.pdf", env=remote)
        assert pdf.returncode == 0 and (hd.root / "r.pdf").read_bytes().startswith(b"%PDF")
        assert hd("report", "run", "nosuch", env=remote).returncode == 2
        assert hd("report", "service", "2000010100000000", env=remote).returncode == 3
        assert hd("time", "list", "2000010100000000", env=remote).returncode == 3
        assert hd("contract", "list", "--org", "Niemand AG", env=remote).returncode == 3
        assert hd("search", "Lager", "--format", "xml", env=remote).returncode == 2
    entries = json.loads(local[("time", "list", number), "json"][0])
    assert [e["minutes"] for e in entries] == [60, 20]


def test_edit_and_time_through_the_server(backend_hd: Any) -> None:
    """edit, time edit and time remove through the CLI against the server: the same change as
    in process, the token's agent as actor; a readonly token is denied (403, exit 4), errors
    keep their exit codes."""
    hd = backend_hd
    number = hd.open()
    hd.ok("log", number, "30m", "--note", "Anruf")
    hd.ok("log", number, "15m", "--note", "Nacharbeit")
    first, second = (e["id"] for e in hd.json("time", "list", number))
    with served(hd) as url:
        agent, readonly = client(url, token(hd)), client(url, token(hd, "readonly"))
        denied = hd("edit", number, "--priority", "high", env=readonly)
        assert denied.returncode == 4 and "readonly" in denied.stderr
        assert hd("time", "remove", str(first), env=readonly).returncode == 4
        assert hd("time", "edit", str(first), "--note", "x", env=readonly).returncode == 4
        done = hd("edit", number, "--priority", "high", "--subject", "Drucker im Lager", env=agent)
        assert done.returncode == 0 and f"edited: {number}" in done.stderr, done.stderr
        assert hd("edit", number, env=agent).returncode == 2  # nothing to change, as locally
        assert hd("edit", number, "--impact", "galaxy", env=agent).returncode == 2
        assert hd("edit", "2000010100000000", "--priority", "low", env=agent).returncode == 3
        done = hd("time", "edit", str(first), "--duration", "45m", "--no-charge", env=agent)
        assert done.returncode == 0 and "corrected" in done.stderr, done.stderr
        done = hd("time", "remove", str(second), env=agent)
        assert done.returncode == 0 and f"of {number} removed" in done.stderr, done.stderr
        assert hd("time", "remove", str(second), env=agent).returncode == 3
        assert hd("time", "edit", "99999999999999999999", "--note", "x", env=agent).returncode == 3
        bad_date = hd("time", "edit", str(first), "--date", "31.02.2026", env=agent)
        assert bad_date.returncode == 2
        found = json.loads(hd("search", "Lager", "--json", env=agent).stdout)
    assert [r["number"] for r in found] == [number]
    ticket = hd.json("show", number)
    assert (ticket["priority"], ticket["subject"]) == ("high", "Drucker im Lager")
    assert [(e["minutes"], e["charge"]) for e in hd.json("time", "list", number)] == [(45, False)]
    changes = [e for e in ticket["history"] if e["action"] in ("edited", "time_edited")]
    assert changes and {e["actor"] for e in changes} == {"mmueller"}


@pytest.mark.parametrize(
    ("role", "method", "path", "ok"),
    [
        ("admin", "POST", "/orgs", True),
        ("agent", "POST", "/orgs", False),
        ("agent", "POST", "/contracts/RV-1", False),
        ("agent", "GET", "/orgs", True),
        ("readonly", "GET", "/agents", True),
        ("readonly", "POST", "/tickets/1/edit", False),
        ("readonly", "DELETE", "/time/1", False),
        ("agent", "DELETE", "/time/1", True),
        ("agent", "POST", "/time/1", True),
        ("agent", "POST", "/tickets/1/edit", True),
        ("gateway", "GET", "/search", False),
        ("gateway", "POST", "/mail", True),
    ],
)
def test_roles(role: str, method: str, path: str, ok: bool) -> None:
    assert allowed(role, method, path) is ok


def test_records_are_added_through_the_server_by_admins_only(backend_hd: Any) -> None:
    hd = backend_hd
    org = ("org", "add", "Beispiel AG", "--domain", "beispiel.example", "--language", "en")
    contract = ("contract", "add", "Beispiel AG", "--number", "RV-9", "--billing", "free")
    contact = (
        "contact",
        "add",
        "Beispiel AG",
        "--name",
        "Ben Berg",
        "--email",
        "ben@beispiel.example",
    )
    agent = (
        "agent",
        "add",
        "jkoch",
        "--name",
        "Jana Koch",
        "--email",
        "jana.koch@smartwork.example",
    )
    admin_token = token(hd, "admin")
    with served(hd) as url:
        admin = client(url, admin_token)
        for role in ("agent", "readonly"):
            denied = hd(*org, env=client(url, token(hd, role)))
            assert denied.returncode == 4 and role in denied.stderr
        said = []
        for args in (org, contract, contact, agent):
            done = hd(*args, env=admin)
            assert done.returncode == 0, (args, done.stderr)
            said.append(done.stderr)
        assert said[:2] == [
            "added organisation Beispiel AG\n",
            "added contract RV-9 for Beispiel AG\n",
        ]
        again = hd(*agent, env=admin)
        assert again.returncode == 4 and "exists already" in again.stderr
        assert (
            hd(
                "contact", "add", "Niemand AG", "--name", "X", "--email", "x@y.example", env=admin
            ).returncode
            == 3
        )
        assert hd("org", "add", "Kaputt", "--kind", "verein", env=admin).returncode == 2
        import requests

        auth = {"Authorization": f"Bearer {admin_token}"}
        created = requests.post(
            url + "/orgs", json={"name": "Dritte GmbH"}, headers=auth, timeout=10
        )
        assert created.status_code == 201 and created.json()["name"] == "Dritte GmbH"
        dry = requests.post(
            url + "/orgs",
            params={"dry_run": "true"},
            json={"name": "Vierte"},
            headers=auth,
            timeout=10,
        )
        assert dry.status_code == 422 and "no dry run" in dry.json()["error"]
        listed = hd("org", "list", "--json", env=admin).stdout
    assert listed == hd.ok("org", "list", "--json")
    assert [o["name"] for o in json.loads(listed)] == ["Beispiel AG", "Dritte GmbH", "Muster GmbH"]
    assert hd.json("contract", "show", "RV-9")["billing"] == "free"
    assert [c["email"] for c in hd.json("contact", "list", "--org", "Beispiel AG")] == [
        "ben@beispiel.example"
    ]
    assert "jkoch" in {a["login"] for a in hd.json("agent", "list")}


def _same_here_and_there(
    hd: Any, env: dict[str, str], steps: list[tuple[str, ...]], here: str, there: str
) -> None:
    """Each step (``N`` for the ticket's number) run locally on ticket ``here`` and through the
    server on ticket ``there``: the same exit code, stdout and stderr (numbers and ids aside)."""
    import re

    def norm(text: str, number: str) -> str:
        return re.sub(r"approval \d+", "approval #", text.replace(number, "N"))

    for step in steps:
        local = hd(*(here if a == "N" else a for a in step))
        remote = hd(*(there if a == "N" else a for a in step), env=env)
        assert remote.returncode == local.returncode, (step, local.stderr, remote.stderr)
        assert norm(remote.stdout, there) == norm(local.stdout, here), step
        assert norm(remote.stderr, there) == norm(local.stderr, here), step


def test_approvals_and_report_answers_through_the_server(backend_hd: Any) -> None:
    """approval request, grant, deny, apply and list, report approve and dispute: through the
    server what they do and say in process, for agent tokens; readonly is denied (exit 4)."""
    hd = backend_hd
    hd.ok("contract", "edit", "RV-1", "--approval", "changes")
    here, there = hd.open("Rechte hier"), hd.open("Rechte dort")
    for number in (here, there):  # time worked: the close makes a service report to answer
        hd.ok("log", number, "30m")
    anna = "anna.schmidt@muster.example"
    steps = [
        ("approval", "request", "N", "--change", "Admin-Rechte für M. Beispiel"),
        ("approval", "request", "N", "--change", " "),
        ("approval", "request", "N", "--change", "x", "--kind", "sometimes"),
        ("approval", "apply", "N", "-m", "Admin-Rechte gesetzt"),
        ("approval", "grant", "N", "--by", "fremd@example.com", "--via", "phone"),
        ("approval", "grant", "N", "--by", anna, "--via", "brieftaube"),
        ("approval", "grant", "N", "--by", anna, "--via", "phone", "--note", "ok"),
        ("approval", "grant", "N", "--by", anna, "--via", "phone", "--id", "99999"),
        ("approval", "apply", "N", "-m", "Admin-Rechte gesetzt"),
        ("approval", "apply", "N", "-m", "noch mehr"),
        ("approval", "apply", "N", "-m", "ohne", "--override", "--reason", "Notfall"),
        ("approval", "deny", "2000010100000000", "--by", anna, "--via", "mail"),
        ("report", "approve", "N", "--by", "A. Schmidt", "--via", "fax"),
        ("close", "N", "--reason", "erledigt"),
        ("approval", "deny", "N", "--by", anna, "--via", "mail"),
        ("report", "dispute", "N", "--reason", " "),
        ("report", "dispute", "N", "--reason", "nur 1 h vereinbart", "--via", "fax"),
        ("report", "approve", "N", "--by", "A. Schmidt", "--via", "brief"),
        ("report", "approve", "N", "--by", "A. Schmidt", "--via", "fax"),
        ("report", "approve", "2000010100000000", "--by", "A. Schmidt", "--via", "fax"),
    ]
    with served(hd) as url:
        agent, readonly = client(url, token(hd)), client(url, token(hd, "readonly"))
        for step in (steps[0], steps[6], steps[8], steps[12], steps[16]):
            denied = hd(*(there if a == "N" else a for a in step), env=readonly)
            assert denied.returncode == 4 and "readonly" in denied.stderr, step
        _same_here_and_there(hd, agent, steps, here, there)
        listed = {
            fmt: hd("approval", "list", "--format", fmt, env=readonly).stdout
            for fmt in ("json", "table")
        }
        pending = hd("approval", "list", "--pending", "--ticket", there, "--json", env=readonly)
        assert pending.returncode == 0 and json.loads(pending.stdout) == []
    assert listed == {fmt: hd.ok("approval", "list", "--format", fmt) for fmt in listed}
    rows = [a for a in hd.json("approval", "list") if a["ticket"] == there]
    assert [(a["status"], a["decided_by"]) for a in rows] == [("applied", anna)]
    history = hd.json("show", there)["history"]
    decided = [e for e in history if e["action"].startswith(("approval_", "service_report_"))]
    assert {e["actor"] for e in decided} == {"mmueller"}
    assert {e["action"] for e in decided} >= {"approval_granted", "service_report_approved"}


def test_records_shown_by_every_reader_changed_and_removed_by_admins(backend_hd: Any) -> None:
    """org, contract, contact and agent show, edit and remove through the server: show for
    every reader, the same output as in process; edit and remove for admin tokens only."""
    hd = backend_hd
    hd.open()
    hd.ok("agent", "add", "chef", "--name", "Chefin", "--email", "chef@smartwork.example")
    hd.ok("org", "add", "A/B GmbH", "--domain", "ab.example")
    shows = [
        ("org", "show", "Muster GmbH"),
        ("org", "show", "A/B GmbH"),
        ("contract", "show", "RV-1"),
        ("contact", "show", "anna.schmidt@muster.example"),
        ("agent", "show", "mmueller"),
        ("org", "show", "Niemand AG"),
    ]
    refused = [
        ("org", "edit", "Muster GmbH", "--kind", "verein"),
        ("org", "edit", "Muster GmbH", "--add-domain", "ab.example"),
        ("org", "edit", "Niemand AG", "--language", "en"),
        ("contract", "edit", "RV-1", "--billing", "hourly", "--rate", "0"),
        ("contract", "edit", "RV-1", "--valid-to", "31.02.2026"),
        ("contact", "edit", "niemand@muster.example", "--phone", "1"),
        ("contact", "edit", "anna.schmidt@muster.example", "--role", "chef"),
        ("agent", "edit", "niemand", "--inactive"),
        ("org", "remove", "Muster GmbH"),
        ("contract", "remove", "RV-404"),
        ("contact", "remove", "anna.schmidt@muster.example"),
    ]
    local = {(args, fmt): hd(*args, "--format", fmt) for args in shows for fmt in ("json", "table")}
    local_refused = {args: hd(*args) for args in refused}
    changes = [
        ("org", "edit", "Muster GmbH", "--add-domain", "muster-gruppe.example", "--language", "en"),
        ("contract", "edit", "RV-1", "--valid-to", "2026-12-31", "--rate", "105"),
        (
            "contact",
            "edit",
            "anna.schmidt@muster.example",
            "--phone",
            "+49 30 1234",
            "--role",
            "main",
        ),
        ("agent", "edit", "mmueller", "--name", "Max M. Müller"),
        ("org", "remove", "A/B GmbH"),
        ("agent", "add", "jkoch", "--name", "Jana Koch", "--email", "jana@smartwork.example"),
        ("agent", "remove", "jkoch"),
        ("agent", "remove", "mmueller"),
    ]
    said = [
        "changed organisation Muster GmbH\n",
        "changed contract RV-1\n",
        "changed contact anna.schmidt@muster.example\n",
        "changed agent mmueller\n",
        "removed organisation A/B GmbH\n",
        "added agent jkoch\n",
        "removed agent jkoch\n",
        "deactivated agent mmueller\n",
    ]
    with served(hd) as url:
        readonly = client(url, token(hd, "readonly"))
        admin = client(url, token(hd, "admin", login="chef"))
        for args in shows:
            for fmt in ("json", "table"):
                done = hd(*args, "--format", fmt, env=readonly)
                want = local[args, fmt]
                assert (done.returncode, done.stdout, done.stderr) == (
                    want.returncode,
                    want.stdout,
                    want.stderr,
                ), (args, fmt)
        for role in ("readonly", "agent"):
            for args in (changes[0], changes[4], ("contact", "remove", "x@y.example")):
                denied = hd(*args, env=client(url, token(hd, role)))
                assert denied.returncode == 4 and role in denied.stderr, (role, args)
        for args, want in local_refused.items():
            done = hd(*args, env=admin)
            assert (done.returncode, done.stderr) == (want.returncode, want.stderr), args
            assert done.returncode in (2, 3, 4), args
        answers = [hd(*args, env=admin) for args in changes]
        remote_shows = {args: hd(*args, "--json", env=admin).stdout for args in shows[:5]}
    for args, words, done in zip(changes, said, answers, strict=True):
        assert (done.returncode, done.stderr) == (0, words), (args, done.stderr)
    for args, shown in remote_shows.items():
        if args[-1] == "A/B GmbH":
            assert hd(*args).returncode == 3
        else:
            assert shown == hd.ok(*args, "--json"), args
    org = hd.json("org", "show", "Muster GmbH")
    assert (org["language"], org["domains"]) == ("en", ["muster-gruppe.example", "muster.example"])
    contract = hd.json("contract", "show", "RV-1")
    assert (contract["valid_to"], str(contract["rate"])) == ("2026-12-31", "105.00")
    assert hd.json("contact", "show", "anna.schmidt@muster.example")["roles"] == "main"
    agent = hd.json("agent", "show", "mmueller")
    assert (agent["name"], agent["active"]) == ("Max M. Müller", 0)
    assert "jkoch" not in {a["login"] for a in hd.json("agent", "list")}


def test_billable_and_reports_by_mail_through_the_server(backend_hd: Any) -> None:
    """report billable, and report billing|run --send-to: the server queues the mail; the same
    messages and exit codes as in process; readonly is denied."""
    import re

    hd = backend_hd
    here, there = hd.open("hier"), hd.open("dort")
    for number in (here, there):
        hd.ok("log", number, "30m", "--note", "Arbeit")
        hd.ok("close", number, "--reason", "gelöst")
    steps = [
        ("report", "billable", "N", "--no"),
        ("report", "billable", "N", "--yes", "--no"),
        ("report", "billable", "N", "--contract"),
        ("report", "approve", "N", "--by", "A. Schmidt", "--via", "fax"),
        ("report", "billable", "N", "--no"),
        ("report", "billable", "N", "--no", "--force"),
        ("report", "billable", "2000010100000000", "--yes"),
    ]
    sends = [
        ("report", "billing", "--month", "this", "--send-to", "buchhaltung@example.com"),
        ("report", "billing", "--month", "this", "--org", "Muster GmbH", "--send-to", "b@x.de"),
        ("report", "run", "tickets", "--send-to", "chef@example.com", "--language", "en"),
        ("report", "billing", "--month", "this", "--send-to", "kein-mail"),
        ("report", "run", "nosuch", "--send-to", "chef@example.com"),
    ]

    def norm(text: str) -> str:
        return re.sub(r"\(<[^>]+>\)", "(<id>)", text)

    before = len(hd.mails())
    with served(hd) as url:
        agent, readonly = client(url, token(hd)), client(url, token(hd, "readonly"))
        for args in (steps[0], sends[0]):
            denied = hd(*(there if a == "N" else a for a in args), env=readonly)
            assert denied.returncode == 4 and "readonly" in denied.stderr, args
        _same_here_and_there(hd, agent, steps, here, there)
        remote = [hd(*args, env=agent) for args in sends]
    sent = hd.mails()[before:]
    local = [hd(*args) for args in sends]
    for args, want, done in zip(sends, local, remote, strict=True):
        assert done.returncode == want.returncode, (args, want.stderr, done.stderr)
        assert (done.stdout, norm(done.stderr)) == (want.stdout, norm(want.stderr)), args
    assert [d.returncode for d in remote] == [0, 0, 0, 2, 2]
    assert sorted(str(m["To"]) for m in sent) == [
        "b@x.de",
        "buchhaltung@example.com",
        "chef@example.com",
    ]
    history = hd.json("show", there)["history"]
    assert [e["actor"] for e in history if e["action"] == "billable_set"] == ["mmueller"] * 3


def test_failed_authentications_are_logged_and_then_answered_429(hd: Any) -> None:
    """After MAX_FAILURES failed authentications within the window, an address gets 429 even
    with a good token; every denied call is in the server's log, the token never is."""
    import requests

    from hdcli.server.app import MAX_FAILURES

    hd.seed()
    good = token(hd)
    logs: list[str] = []
    with served(hd, logs) as url:
        wrong = "hd_" + "x" * 43
        answers = [
            requests.get(
                url + "/tickets", headers={"Authorization": f"Bearer {wrong}"}, timeout=10
            ).status_code
            for _ in range(MAX_FAILURES)
        ]
        assert answers == [401] * MAX_FAILURES
        after = requests.get(
            url + "/tickets", headers={"Authorization": f"Bearer {good}"}, timeout=10
        )
        assert after.status_code == 429 and after.json()["code"] == 4
        anonymous = requests.get(url + "/tickets", timeout=10)
        assert anonymous.status_code == 429
    log = logs[0]
    denied = [line for line in log.splitlines() if "denied GET /api/tickets" in line]
    assert len(denied) == MAX_FAILURES + 2, log
    assert sum("too many failed authentications" in line for line in denied) == 2
    assert wrong not in log and good not in log


def test_the_quarantine_through_the_server_for_admin_tokens_only(hd: Any) -> None:
    """mail quarantine list, show (and --raw), retry --dry-run and drop: through the server what
    they do and say in process, for an admin token; agent and readonly tokens are denied
    (quarantined mail holds strangers' data)."""
    from test_mail_quarantine import ingest as ingest_cli
    from test_mail_quarantine import nested

    hd.seed()
    for raw in (nested(), nested().replace(b"<deep@", b"<deap@")):
        assert ingest_cli(hd, raw)["outcome"] == "quarantined"
    first, second = sorted(str(r["id"]) for r in hd.json("mail", "quarantine", "list"))
    reads: list[tuple[str, ...]] = [
        ("mail", "quarantine", "list"),
        ("mail", "quarantine", "list", "--format", "json"),
        ("mail", "quarantine", "show", first),
        ("mail", "quarantine", "show", first, "--format", "json"),
        ("mail", "quarantine", "show", first, "--raw"),
        ("mail", "quarantine", "retry", first, "--dry-run", "--format", "json"),
        ("mail", "quarantine", "drop", first, "--dry-run"),
        ("mail", "quarantine", "show", "999999"),
        ("mail", "quarantine", "retry", "999999"),
        ("mail", "quarantine", "drop", "x"),
    ]
    with served(hd) as url:
        admin = client(url, token(hd, "admin"))
        for role in ("agent", "readonly"):
            denied = hd("mail", "quarantine", "list", env=client(url, token(hd, role)))
            assert denied.returncode == 4 and role in denied.stderr, denied.stderr
        for step in reads:
            local, remote = hd(*step), hd(*step, env=admin)
            assert (remote.returncode, remote.stdout, remote.stderr) == (
                local.returncode,
                local.stdout,
                local.stderr,
            ), step
        dropped = hd("mail", "quarantine", "drop", second, env=admin)
        assert dropped.returncode == 0, dropped.stderr
    assert [str(r["id"]) for r in hd.json("mail", "quarantine", "list")] == [first]
    assert dropped.stderr == hd("mail", "quarantine", "drop", first).stderr.replace(first, second)
