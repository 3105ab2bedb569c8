"""hdcli attachment list/get: the bytes of a mailed file, exactly as received, saved safely."""

from __future__ import annotations

import json
import random
import stat
from email.message import EmailMessage
from email.utils import make_msgid

from helpdesk import Helpdesk
from workflow import ANNA

from hdcli.context import Context

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + bytes(range(256))


def mail_with(filename: str, data: bytes, ctype: str = "application/pdf") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Anna Schmidt <{ANNA}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = "Rechnung falsch"
    msg["Message-ID"] = make_msgid(domain="muster.example")
    msg.set_content("Anbei die Rechnung als PDF.")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)


def ingest(hd: Helpdesk, raw: bytes) -> str:
    rows = json.loads(hd.ok("mail", "ingest", "-", "--format", "json", input=raw))
    assert rows[0]["outcome"] == "new", rows
    return str(rows[0]["ticket"])


def test_get_returns_the_bytes_of_a_mailed_pdf_as_a_private_file(hd: Helpdesk) -> None:
    hd.seed()
    number = ingest(hd, mail_with("Rechnung 11-2026.pdf", PDF))
    listed = hd.json("attachment", "list", number)
    assert [(r["name"], r["type"], r["size"]) for r in listed] == [
        ("Rechnung 11-2026.pdf", "application/pdf", len(PDF))
    ]
    att = str(listed[0]["id"])
    hd.ok("attachment", "get", number, att)
    path = hd.root / "Rechnung 11-2026.pdf"
    assert path.read_bytes() == PDF
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # an existing file stays unless --force
    path.write_bytes(b"mine")
    refused = hd("attachment", "get", number, att)
    assert refused.returncode == 4 and "--force" in refused.stderr
    assert path.read_bytes() == b"mine"
    hd.ok("attachment", "get", number, att, "--force")
    assert path.read_bytes() == PDF
    # the reads are in the person's access trail
    actions = [r["action"] for r in hd.json("privacy", "trail", ANNA)]
    assert actions.count("attachment.get") == 2 and "attachment.list" in actions


def test_a_hostile_name_is_saved_inside_the_target_folder(hd: Helpdesk) -> None:
    hd.seed()
    number = ingest(hd, mail_with("../../.bashrc\x1b[31m", b"echo pwned\n", "text/plain"))
    (hd.root / "out").mkdir()
    att = str(hd.json("attachment", "list", number)[0]["id"])
    hd.ok("attachment", "get", number, att, "-o", "out")
    written = [p.name for p in (hd.root / "out").iterdir()]
    assert len(written) == 1
    assert "/" not in written[0] and not written[0].startswith(".") and "\x1b" not in written[0]
    assert not (hd.root.parent / ".bashrc").exists()
    assert (hd.root / "out" / written[0]).read_bytes() == b"echo pwned\n"


def test_unknown_attachment_is_exit_3_with_one_line(hd: Helpdesk) -> None:
    hd.seed()
    number = ingest(hd, mail_with("a.pdf", PDF))
    other = hd.open()
    att = str(hd.json("attachment", "list", number)[0]["id"])
    missing = hd("attachment", "get", other, att)  # an attachment of another ticket
    assert missing.returncode == 3 and len(missing.stderr.strip().splitlines()) == 1
    assert hd("attachment", "list", "2026010110000001").returncode == 3


def test_reply_attach_mails_the_file_and_keeps_it_on_the_article(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    (hd.root / "Anleitung.pdf").write_bytes(PDF)
    hd.ok(
        "--as",
        "mmueller",
        "reply",
        number,
        "-m",
        "Anbei die Anleitung.",
        "--attach",
        "Anleitung.pdf",
    )
    sent = hd.mails()[-1]
    files = [
        (p.get_filename(), p.get_content_type(), p.get_content()) for p in sent.iter_attachments()
    ]
    assert files == [("Anleitung.pdf", "application/pdf", PDF)]
    listed = hd.json("attachment", "list", number)
    assert [(r["name"], r["size"]) for r in listed] == [("Anleitung.pdf", len(PDF))]


def test_reply_over_the_attachment_cap_is_refused_and_sends_nothing(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    before = len(hd.mails())
    (hd.root / "big.bin").write_bytes(b"x" * 2000)
    refused = hd(
        "reply",
        number,
        "-m",
        "Anbei.",
        "--attach",
        "big.bin",
        env={"HDCLI_MAIL__MAX_OUTBOUND_ATTACHMENTS_SIZE": "1000"},
    )
    assert refused.returncode == 4 and len(refused.stderr.strip().splitlines()) == 1
    assert "max_outbound_attachments_size" in refused.stderr
    assert len(hd.mails()) == before
    missing = hd("reply", number, "-m", "Anbei.", "--attach", "nope.pdf")
    assert missing.returncode == 2 and "nope.pdf" in missing.stderr


def test_reply_answer_sends_the_canned_text_in_the_org_language(hd: Helpdesk) -> None:
    hd.seed()
    folder = hd.config.parent / "answers" / "de"
    folder.mkdir(parents=True)
    (folder / "drucker.txt").write_text(
        "Guten Tag {{ requester.name }},\n\nbitte starten Sie den Drucker neu "
        "(Ticket {{ ticket.number }}).\n\nViele Grüße\n{{ agent.name }}\n",
        encoding="utf-8",
    )
    listed = hd.json("answer", "list")
    assert listed == [
        {"name": "drucker", "language": "de", "first_line": "Guten Tag {{ requester.name }},"}
    ]
    number = hd.open()
    hd.ok("--as", "mmueller", "reply", number, "--answer", "drucker", "-m", "PS: Toner liegt bei.")
    body = hd.mails()[-1].get_body(("plain",)).get_content()
    assert "Guten Tag Anna Schmidt," in body and f"(Ticket {number})" in body
    assert "Max Müller" in body and "PS: Toner liegt bei." in body
    bad = hd("reply", number, "--answer", "../../etc/passwd")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert hd("reply", number, "--answer", "fehlt").returncode == 2


def test_reply_ends_with_the_agents_signature(hd: Helpdesk) -> None:
    hd.seed()
    folder = hd.config.parent / "signatures"
    folder.mkdir(parents=True)
    (folder / "mmueller.txt").write_text(
        "Max Müller\nSmartwork IT, Tel. 0711 123\n", encoding="utf-8"
    )
    number = hd.open()
    hd.ok("--as", "mmueller", "reply", number, "-m", "Bitte neu starten.")
    body = hd.mails()[-1].get_body(("plain",)).get_content()
    assert "Bitte neu starten.\n\n-- \nMax Müller\nSmartwork IT, Tel. 0711 123" in body


def test_an_erased_persons_attachment_is_refused(hd: Helpdesk) -> None:
    hd.seed()
    number = ingest(hd, mail_with("a.pdf", PDF))
    att = str(hd.json("attachment", "list", number)[0]["id"])
    hd.ok("privacy", "erase", ANNA, "--yes", "--force")
    refused = hd("attachment", "get", number, att)
    assert refused.returncode == 4 and "erased" in refused.stderr
    assert not (hd.root / "a.pdf").exists() and not (hd.root / "removed").exists()


def test_a_large_attachment_keeps_its_bytes_exactly_on_both_backends(any_ctx: Context) -> None:
    """An attachment of several MB is written in pieces where the store can (SQLite) and comes
    back byte for byte, beside a small one of the same mail."""
    from hdcli import attachments
    from hdcli.mail.ingest import ingest_one
    from hdcli.repo.articles import LARGE

    big = random.Random(7).randbytes(3 * LARGE + 12345)
    msg = EmailMessage()
    msg["From"] = f"Anna Schmidt <{ANNA}>"
    msg["To"] = "helpdesk@smartwork.example"
    msg["Subject"] = "Logdateien"
    msg["Message-ID"] = make_msgid(domain="muster.example")
    msg.set_content("Anbei die Logs.")
    msg.add_attachment(
        big, maintype="application", subtype="octet-stream", filename="Protokolle März.tar"
    )
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="klein.pdf")
    with any_ctx.store.transaction():
        result = ingest_one(any_ctx, bytes(msg), "test")
    assert result.outcome == "new", result
    number = str(result.ticket)
    listed = attachments.list_attachments(any_ctx.store, "mmueller", number)
    assert [(r["filename"], r["size"]) for r in listed] == [
        ("Protokolle März.tar", len(big)),
        ("klein.pdf", len(PDF)),
    ]
    got: list[bytes] = []
    for row in listed:
        attachments.fetch(
            any_ctx.store, "mmueller", number, int(row["id"]), lambda f: got.append(f.data)
        )
    assert got == [big, PDF]
