"""The record groups org, contract, contact and agent: list, show, remove and import."""

from __future__ import annotations

import json
from pathlib import Path

from helpdesk import Helpdesk


def test_list_speaks_every_format_and_filters_by_org(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("org", "add", "Beispiel AG", "--domain", "beispiel.example")
    assert "Beispiel AG" in hd.ok("org", "list")
    assert [r["name"] for r in hd.json("org", "list")] == ["Beispiel AG", "Muster GmbH"]
    assert json.loads(hd.ok("org", "list", "--json")) == hd.json("org", "list")
    assert hd.ok("agent", "list", "-f", "csv").splitlines() == [
        "login,name,email,active",
        "mmueller,Max Müller,max.mueller@smartwork.example,1",
    ]
    assert hd.ok("contact", "list", "--format", "jsonl").count("\n") == 1
    assert "RV-1" in hd.ok("contract", "list", "-f", "md")
    assert [c["number"] for c in hd.json("contract", "list", "--org", "Muster GmbH")] == ["RV-1"]
    assert hd.json("contract", "list", "--org", "Beispiel AG") == []
    assert hd.json("contact", "list", "--org", "Beispiel AG") == []
    missing = hd("contact", "list", "--org", "Nope")
    assert missing.returncode == 3 and missing.stdout == ""
    bad = hd("agent", "list", "--format", "xml")
    assert bad.returncode == 2
    assert bad.stderr == "hdcli: error: bad format 'xml' (allowed: table, json, jsonl, csv, md)\n"


def test_show_a_record_or_exit_3(hd: Helpdesk) -> None:
    hd.seed()
    org = hd.json("org", "show", "Muster GmbH")
    assert (org["contracts"], org["contacts"]) == (["RV-1"], ["anna.schmidt@muster.example"])
    assert hd.json("contract", "show", "RV-1")["organisation"] == "Muster GmbH"
    assert hd.json("contact", "show", "anna.schmidt@muster.example")["roles"] == "main,approver"
    assert json.loads(hd.ok("agent", "show", "mmueller", "--json"))["name"] == "Max Müller"
    assert "Muster GmbH" in hd.ok("contract", "show", "RV-1")
    for group, key, text in (
        ("org", "Nope", "no organisation 'Nope' (see `hdcli org list`)"),
        ("agent", "nobody", "no agent 'nobody' (see `hdcli agent list`)"),
    ):
        proc = hd(group, "show", key)
        assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", f"hdcli: error: {text}\n")
    for group in ("contract", "contact"):
        assert hd(group, "show", "nope@nowhere.example").returncode == 3
    assert hd("org", "show").returncode == 2


def test_remove_refuses_records_with_tickets(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "assign", number, "--to", "mmueller")
    for group, key, text in (
        ("org", "Muster GmbH", "organisation 'Muster GmbH' has tickets and cannot be removed"),
        ("contact", "anna.schmidt@muster.example", "contact anna.schmidt@muster.example has"),
    ):
        proc = hd(group, "remove", key)
        assert proc.returncode == 4 and proc.stderr.startswith(f"hdcli: error: {text}")
    proc = hd("agent", "remove", "mmueller")
    assert (proc.returncode, proc.stderr) == (0, "deactivated agent mmueller\n")
    assert hd.json("agent", "show", "mmueller")["active"] == 0
    assert hd("agent", "remove", "nobody").returncode == 3
    assert hd("contract", "remove").returncode == 2


def test_remove_records_without_tickets(hd: Helpdesk) -> None:
    hd.seed()
    hd.ok("agent", "add", "aneu", "--name", "A Neu", "--email", "a.neu@smartwork.example")
    for group, key, said in (
        ("contract", "RV-1", "removed contract RV-1"),
        ("contact", "anna.schmidt@muster.example", "removed contact anna.schmidt@muster.example"),
        ("org", "Muster GmbH", "removed organisation Muster GmbH"),
        ("agent", "aneu", "removed agent aneu"),
    ):
        proc = hd(group, "remove", key)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", said + "\n")
        assert hd(group, "show", key).returncode == 3
    assert hd("org", "remove", "Muster GmbH").returncode == 3


def test_import_from_csv_jsonl_and_stdin(hd: Helpdesk, tmp_path: Path) -> None:
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "name,kind,domains,language\n"
        "Beispiel AG,company,beispiel.example;bsp.example,en\n"
        "Stadt X,public_body,,de\n",
        encoding="utf-8",
    )
    dry = hd("org", "import", str(orgs), "--dry-run")
    assert dry.returncode == 0 and dry.stderr.splitlines() == [
        "would import organisation from line 2: {'name': 'Beispiel AG', 'kind': 'company', "
        "'domains': 'beispiel.example;bsp.example', 'language': 'en'}",
        "would import organisation from line 3: {'name': 'Stadt X', 'kind': 'public_body', "
        "'language': 'de'}",
        "imported 0 organisation(s), 0 failed",
    ]
    assert hd.json("org", "list") == []
    done = hd("org", "import", str(orgs))
    assert (done.returncode, done.stderr) == (0, "imported 2 organisation(s), 0 failed\n")
    beispiel = hd.json("org", "show", "Beispiel AG")
    assert (beispiel["domains"], beispiel["language"]) == (
        ["beispiel.example", "bsp.example"],
        "en",
    )

    contracts = (
        '{"org": "Beispiel AG", "number": "RV-2", "billing": "hourly", "rate": "80"}\n'
        "\n"
        '{"org": "Nope", "number": "RV-3", "billing": "free"}\n'
    )
    proc = hd("contract", "import", "-", input=contracts)
    assert proc.returncode == 4
    assert proc.stderr.splitlines()[-1] == "imported 1 contract(s), 1 failed"
    assert proc.stderr.startswith("hdcli: error: line 3: no organisation 'Nope'")
    assert hd.json("contract", "show", "RV-2")["rate"] == "80.00"

    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text(
        '{"org": "Beispiel AG", "name": "Bert", "email": "bert@beispiel.example",'
        ' "roles": ["main", "billing"]}\n',
        encoding="utf-8",
    )
    proc = hd("contact", "import", str(contacts))
    assert (proc.returncode, proc.stderr) == (0, "imported 1 contact(s), 0 failed\n")
    assert hd.json("contact", "show", "bert@beispiel.example")["roles"] == "main,billing"

    agents = tmp_path / "agents.csv"
    agents.write_text("login,name,email\naa,A A,aa@smartwork.example\n,,\nbb,,\n", "utf-8")
    proc = hd("agent", "import", str(agents))
    assert proc.returncode == 4
    assert proc.stderr.splitlines() == [
        "hdcli: error: line 3: missing or bad field 'login'",
        "hdcli: error: line 4: missing or bad field 'email'",
        "imported 1 agent(s), 2 failed",
    ]
    assert [a["login"] for a in hd.json("agent", "list")] == ["aa"]

    bad = hd("contact", "import", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    broken = hd("agent", "import", "-", input="not json\n")
    assert broken.returncode == 2 and broken.stderr.startswith("hdcli: error: -, line 1: ")


def test_amounts_beyond_any_contract_and_empty_or_taken_names_are_refused(hd: Helpdesk) -> None:
    """A rate no contract can hold is a usage error with one line, never an internal error;
    an organisation cannot be renamed to nothing or to another's name."""
    hd.seed()
    for rate in ("1e999999999", "Infinity", "NaN", "1e12"):
        done = hd(
            "contract", "add", "Muster GmbH", "--number", f"RV-{rate}", "--billing", "hourly",
            "--rate", rate,
        )  # fmt: skip
        assert done.returncode == 2, (rate, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"hdcli: error: bad amount {rate!r} (e.g. 95 or 95.50)"
        ]
        edited = hd("contract", "edit", "RV-1", "--rate", rate)
        assert edited.returncode == 2, (rate, edited.stderr)
    assert hd.json("contract", "show", "RV-1")["rate"] == "95.00"
    hd.ok("org", "add", "Beispiel AG", "--kind", "company", "--domain", "beispiel.example")
    empty = hd("org", "edit", "Muster GmbH", "--name", " ")
    assert empty.returncode == 2 and "needs a name" in empty.stderr
    taken = hd("org", "edit", "Muster GmbH", "--name", "Beispiel AG")
    assert taken.returncode == 4 and "exists already" in taken.stderr
    assert {o["name"] for o in hd.json("org", "list")} == {"Muster GmbH", "Beispiel AG"}
