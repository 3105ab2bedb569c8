"""The shared corpus of real-world mail in one ``hdcli mail ingest`` call.

The corpus is read-only test data in ``shared/mail-corpus`` beside the repository root.
Locally a missing corpus skips; under ``CI=true`` it fails.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "mail-corpus"
FOLDERS = (
    "plain",
    "multipart-attachments",
    "encodings-german",
    "auto-replies",
    "bounces",
    "malformed",
    "line-endings",
)
# Sender domains of the corpus's person-written mail: one customer with a contract covers them.
DOMAINS = (
    "otobo.org",
    "example.com",
    "emprire.gob",
    "example.org",
    "khk.be",
    "silicondreams.hu",
    "test.loc",
    "company123.com",
    "mall.cz",
    "test.com",
    "otobo.fax",
    "ib.pl",
)


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not (CORPUS / "README.md").is_file():
        message = (
            f"mail corpus not found at {CORPUS.resolve()}: check out the shared test "
            "data (shared/mail-corpus) beside the repository root"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CORPUS


def run(hd: Any, corpus: Path) -> list[dict[str, Any]]:
    proc = hd("mail", "ingest", *(str(corpus / f) for f in FOLDERS), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_whole_corpus_in_one_call(hd: Any, corpus: Path) -> None:
    files = sorted(
        p for f in FOLDERS for p in (corpus / f).iterdir() if p.suffix in (".eml", ".box")
    )
    assert len(files) == 232
    domains = [x for d in DOMAINS for x in ("--domain", d)]
    hd.ok("org", "add", "Corpus AG", "--kind", "company", *domains)
    hd.ok("contract", "add", "Corpus AG", "--number", "RV-C", "--billing", "hourly", "--rate", "90")

    results = run(hd, corpus)
    assert len(results) == 232
    assert sorted(r["source"] for r in results) == sorted(str(p) for p in files)
    outcomes = Counter(r["outcome"] for r in results)
    assert outcomes["quarantined"] == 0, [r for r in results if r["outcome"] == "quarantined"]
    # most person-written mail passes the gate and becomes a ticket
    assert outcomes["new"] >= 30, outcomes
    assert outcomes["rejected"] <= 5, outcomes
    # bounces and auto-replies never become tickets
    for r in results:
        if "/bounces/" in r["source"] or "/auto-replies/" in r["source"]:
            assert r["outcome"] in ("ignored", "duplicate"), r

    # nothing automatic was answered: no mail to any bounce or auto-reply sender
    from hdcli.mail.parse import parse_message

    automatic_senders = set()
    for folder in ("bounces", "auto-replies", "line-endings"):
        for p in (corpus / folder).iterdir():
            if p.suffix in (".eml", ".box"):
                sender = parse_message(p.read_bytes()).from_addr
                if sender:
                    automatic_senders.add(sender)
    sent = hd.mails()
    assert len(sent) == outcomes["new"]  # one acknowledgement per new ticket, nothing else
    for m in sent:
        assert str(m["To"]).rpartition("<")[2].rstrip(">").lower() not in automatic_senders
        assert m["Auto-Submitted"] == "auto-replied"

    again = run(hd, corpus)
    assert len(again) == 232
    assert {r["outcome"] for r in again} == {"duplicate"}
    assert len(hd.mails()) == len(sent)
