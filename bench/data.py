"""Data for the benchmarks: realistic German mail, JSONL requests, big stores built by SQL.

Everything is seeded (``random.Random(seed)``) so a size always yields the same data.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

from hdcli.numbers import check_digit

DOMAINS = (
    "muster.example",
    "stadtwerke-nord.example",
    "kanzlei-weiss.example",
    "baeckerei-koenig.example",
    "gemeinde-oberau.example",
)
ORGS = (
    "Muster GmbH",
    "Stadtwerke Nord",
    "Kanzlei Weiß & Partner",
    "Bäckerei König",
    "Gemeinde Oberau",
)
KINDS = ("company", "company", "company", "company", "public_body")
PEOPLE = (
    "Anna Schmidt",
    "Jürgen Müller",
    "Sören Weiß",
    "Özlem Yılmaz",
    "Björn Köhler",
    "Käthe Groß",
    "Lena Bäcker",
    "Günther Strauß",
    "Marie-Luise Fößel",
    "Hans Jörg Ähren",
)
PROBLEMS = (
    "Drucker im 2. OG druckt nicht",
    "Outlook fragt ständig nach dem Passwort",
    "VPN-Verbindung bricht ab",
    "Neuer Mitarbeiter: Zugang für Frau Größer",
    "Bildschirm flackert nach Windows-Update",
    "Scanner speichert keine PDFs",
    "Telefonanlage: Rufumleitung ändern",
    "Zugriffsrechte für Ordner Buchhaltung",
    "Kassensystem startet nicht",
    "Fehlermeldung „Datenträger voll“ auf dem Server",
)
BODIES = (
    "Guten Tag,\n\nseit heute Morgen {p}. Betroffen sind {who}. Ich habe den Rechner bereits "
    "neu gestartet.\n\nMit freundlichen Grüßen\n{name}\n",
    "Hallo zusammen,\n\nbei uns gilt: {p}. Es betrifft {who}. Können Sie sich das bitte "
    "heute noch ansehen? Rückruf gern unter 0761 123456.\n\nViele Grüße\n{name}\n",
)
WHO = ("nur mich", "mehrere Kolleginnen und Kollegen", "das ganze Büro")
REPLIES = (
    "Danke, das Problem besteht leider weiterhin.",
    "Hat funktioniert, vielen Dank!",
    "Anbei der Screenshot der Fehlermeldung.",
    "Bitte rufen Sie mich morgen früh an.",
)
PREFIXES = ("AW: ", "Re: ", "AW: AW: ", "WG: ", "Antw: ", "RE: ")


def contacts() -> list[tuple[str, str, str]]:
    """(org, name, e-mail) of every benchmark contact: two per organisation."""
    rows = []
    for i, (org, domain) in enumerate(zip(ORGS, DOMAINS, strict=True)):
        for name in PEOPLE[2 * i : 2 * i + 2]:
            local = (
                name.lower()
                .replace(" ", ".")
                .replace("ä", "ae")
                .replace("ö", "oe")
                .replace("ü", "ue")
                .replace("ß", "ss")
                .replace("ı", "i")
            )
            rows.append((org, name, f"{local}@{domain}"))
    return rows


def seed_commands() -> list[list[str]]:
    """hdcli arguments that create the organisations, contracts, contacts and an agent."""
    cmds: list[list[str]] = []
    for i, (org, domain, kind) in enumerate(zip(ORGS, DOMAINS, KINDS, strict=True)):
        cmds.append(["org", "add", org, "--kind", kind, "--domain", domain])
        cmds.append(
            [
                "contract",
                "add",
                org,
                "--number",
                f"RV-{i + 1}",
                "--billing",
                "hourly",
                "--rate",
                "95",
                "--increment",
                "15m",
            ]
        )
    for org, name, mail in contacts():
        cmds.append(["contact", "add", org, "--name", name, "--email", mail, "--role", "main"])
    cmds.append(
        [
            "agent",
            "add",
            "mmueller",
            "--name",
            "Max Müller",
            "--email",
            "max.mueller@smartwork.example",
        ]
    )
    return cmds


def write_requests(path: Path, n: int, seed: int = 1) -> None:
    """``n`` JSONL requests for ``hdcli open --from-file``."""
    rnd = random.Random(seed)
    people = contacts()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            _org, name, mail = rnd.choice(people)
            problem = rnd.choice(PROBLEMS)
            body = rnd.choice(BODIES).format(p=problem.lower(), who=rnd.choice(WHO), name=name)
            fh.write(
                json.dumps(
                    {
                        "contact": mail,
                        "subject": problem,
                        "body": body,
                        "channel": "email",
                        "external_id": f"bench-{seed}-{i}",
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def _pdf(rnd: random.Random) -> bytes:
    """A small PDF-like attachment (a valid header, some kilobytes of stream)."""
    stream = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(4000, 24000)))
    return (
        b"%PDF-1.4\n1 0 obj << /Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\ntrailer << >>\n%%EOF\n"
    )


def mail(
    rnd: random.Random,
    i: int,
    reply_to: str | None,
    hook: str = "Ticket#",
    attachment: bool = False,
) -> bytes:
    """One inbound mail: new (``reply_to`` None) or a reply ``AW: [Ticket#N] …``."""
    _org, name, addr = rnd.choice(contacts())
    problem = rnd.choice(PROBLEMS)
    msg = EmailMessage()
    msg["From"] = f"{name} <{addr}>"
    msg["To"] = "Helpdesk <helpdesk@smartwork.example>"
    if reply_to:
        msg["Subject"] = f"{rnd.choice(PREFIXES)}[{hook}{reply_to}] {problem}"
        text = f"{rnd.choice(REPLIES)}\n\nGrüße\n{name}\n\n> Ihre Anfrage {reply_to} …\n"
    else:
        msg["Subject"] = problem
        text = rnd.choice(BODIES).format(p=problem.lower(), who=rnd.choice(WHO), name=name)
    msg["Date"] = format_datetime(_when(rnd))
    msg["Message-ID"] = make_msgid(f"b{i}", domain=addr.rpartition("@")[2])
    msg.set_content(text)
    if attachment:
        msg.add_attachment(
            _pdf(rnd),
            maintype="application",
            subtype="pdf",
            filename="Fehlermeldung Überweisung.pdf",
        )
    return msg.as_bytes(policy=SMTP)


def big_mail(size: int, message_id: str = "<big@muster.example>") -> bytes:
    """One mail of about ``size`` bytes from a served contact: a short text and one
    base64 attachment (random bytes) that makes up the rest."""
    rnd = random.Random(size)
    _org, name, addr = contacts()[0]
    head = (
        f"From: {name} <{addr}>\r\nTo: helpdesk@smartwork.example\r\n"
        "Subject: Logdateien des Servers\r\nDate: Mon, 02 Nov 2026 08:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="bb"\r\n\r\n'
        "--bb\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Logs.\r\n"
        "--bb\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="logs.tar"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    import base64

    raw = rnd.randbytes(max(size - len(head) - 20, 0) // 78 * 57)  # 57 bytes: 76 chars + CRLF
    body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head + body + b"--bb--\r\n"


def cc_mail(count: int, stranger: bool = True) -> bytes:
    """A mail with ``count`` Cc addresses (the Cc bomb): from a stranger's domain, or from a
    served contact when ``stranger`` is false."""
    if stranger:
        sender = "Mallory <mallory@fremd.example>"
    else:
        _org, name, addr = contacts()[0]
        sender = f"{name} <{addr}>"
    cc = ",\r\n ".join(f"user{i}@empfaenger{i % 97}.example" for i in range(count))
    return (
        f"From: {sender}\r\nTo: helpdesk@smartwork.example\r\nCc: {cc}\r\n"
        f"Subject: An alle\r\nDate: Mon, 02 Nov 2026 08:00:00 +0100\r\n"
        f"Message-ID: <cc-{count}-{int(stranger)}@fremd.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nBitte an alle weiterleiten.\r\n"
    ).encode()


def _open_seeded(db: Path) -> tuple[sqlite3.Connection, list[tuple[tuple[int, int], int, str]]]:
    """A connection to a seeded store, for filling it fast, and its contacts as
    ``((org id, contract id), contact id, address)``."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    orgs = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "SELECT o.name, o.id, c.id FROM organisations o JOIN contracts c ON c.org_id = o.id"
        )
    }
    people = [
        (orgs[org], cid, mail)
        for org, _n, mail in contacts()
        for (cid,) in con.execute("SELECT id FROM contacts WHERE email = ?", (mail,))
    ]
    return con, people


def _when(rnd: random.Random) -> datetime:
    return datetime(2026, 11, 2, 8, 0, tzinfo=UTC) + timedelta(minutes=rnd.randint(0, 60 * 24 * 20))


def write_mails(
    folder: Path,
    n: int,
    numbers: list[str],
    reply_share: float = 0.3,
    attach_share: float = 0.1,
    seed: int = 2,
) -> None:
    """``n`` mails as ``NNNNNN.eml`` in ``folder``; a share are replies to ``numbers``."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        reply = rnd.choice(numbers) if numbers and rnd.random() < reply_share else None
        data = mail(rnd, i, reply, attachment=rnd.random() < attach_share)
        (folder / f"{i:06d}.eml").write_bytes(data)


def ticket_numbers(
    n: int, start: date = date(2025, 1, 1), per_day: int = 3000, system_id: str = "10"
) -> Iterator[tuple[str, date]]:
    """``n`` valid ``date_checksum`` numbers with their day, ``per_day`` a day."""
    for i in range(n):
        day = start + timedelta(days=i // per_day)
        base = f"{day:%Y%m%d}{system_id}{i % per_day + 1:05d}"
        yield f"{base}{check_digit(base)}", day


#: a word in one ticket of about a thousand (``hdcli search`` of a rare word)
RARE = "Zebrastreifenkalibrierung"


def _body(rnd: random.Random, name: str, i: int) -> str:
    """A customer's mail: one of the BODIES with a problem, and now and then the rare word."""
    text = rnd.choice(BODIES).format(p=rnd.choice(PROBLEMS), who=rnd.choice(WHO), name=name)
    return f"{text}\nStichwort: {RARE}\n" if i % 1000 == 7 else text


def fill_store(
    db: Path,
    tickets: int,
    entries: int,
    month: str = "2026-03",
    seed: int = 3,
    *,
    bodies: bool = False,
) -> list[str]:
    """Add ``tickets`` closed tickets (with participants, a first article and a service report)
    and ``entries`` time entries spread over them to a store the CLI has set up.

    Time entries of every ticket fall into one month of 2026; ``month`` gets its share. Returns
    a sample of the numbers (for ``show`` and replies). With ``bodies`` the first articles are
    varied mails (for ``hdcli search``) instead of one short line; the search index is left
    to :func:`hdcli.search.rebuild`.
    """
    rnd = random.Random(seed)
    con, people = _open_seeded(db)
    agent = con.execute("SELECT id FROM agents LIMIT 1").fetchone()[0]
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    sample: list[str] = []
    per_ticket = max(entries // max(tickets, 1), 0)
    extra = entries - per_ticket * tickets
    batch_t, batch_e, batch_a, batch_s, batch_p = [], [], [], [], []
    next_id = (con.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0] or 0) + 1

    def flush() -> None:
        con.executemany(
            "INSERT INTO tickets (id, number, subject, org_id, contract_id, "
            "requester_id, channel, impact, status, assignee_id, created_at, "
            "updated_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            batch_t,
        )
        con.executemany(
            "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?,?,?)", batch_p
        )
        con.executemany(
            "INSERT INTO articles (ticket_id, kind, direction, sender, subject, "
            "body, created_by, created_at) VALUES (?,?,?,?,?,?,?,?)",
            batch_a,
        )
        con.executemany(
            "INSERT INTO time_entries (ticket_id, agent_id, work_date, minutes, "
            "activity, note, billable, created_at) VALUES (?,?,?,?,?,?,?,?)",
            batch_e,
        )
        con.executemany(
            "INSERT INTO service_reports (ticket_id, created_at, month, "
            "worked_minutes, billed_minutes, billable, amount, sent_to, status) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            batch_s,
        )
        for b in (batch_t, batch_e, batch_a, batch_s, batch_p):
            b.clear()

    for i, (number, day) in enumerate(ticket_numbers(tickets)):
        tid = next_id + i
        (org_id, contract_id), contact_id, mail_addr = rnd.choice(people)
        subject = rnd.choice(PROBLEMS)
        created = f"{day}T08:{i % 60:02d}:00Z"
        tmonth = month if rnd.random() < 0.1 else rnd.choice(months)
        status = "closed" if i < tickets * 0.9 else rnd.choice(("new", "assigned", "in_progress"))
        closed = f"{tmonth}-28T16:00:00Z" if status == "closed" else None
        batch_t.append(
            (
                tid,
                number,
                subject,
                org_id,
                contract_id,
                contact_id,
                "email",
                "single_user",
                status,
                agent,
                created,
                closed or created,
                closed,
            )
        )
        batch_p.append((tid, mail_addr, "requester"))
        body = _body(rnd, mail_addr.split("@")[0], i) if bodies else "Guten Tag, bitte helfen."
        batch_a.append((tid, "email", "in", mail_addr, subject, body, "mail", created))
        n_entries = per_ticket + (1 if i < extra else 0)
        worked = 0
        for k in range(n_entries):
            minutes = rnd.choice((15, 30, 45, 60, 90))
            worked += minutes
            batch_e.append(
                (
                    tid,
                    agent,
                    f"{tmonth}-{k % 27 + 1:02d}",
                    minutes,
                    rnd.choice(("remote", "phone", "onsite", "other")),
                    "Fernwartung, Druckertreiber neu installiert",
                    1,
                    created,
                )
            )
        if status == "closed":
            billed = -(-worked // 15) * 15
            batch_s.append(
                (
                    tid,
                    closed,
                    tmonth,
                    worked,
                    billed,
                    1,
                    f"{billed * 95 / 60:.2f}",
                    mail_addr,
                    rnd.choice(("approved", "approved", "pending", "disputed")),
                )
            )
        if len(sample) < 200 and rnd.random() < 0.01 + 200 / max(tickets, 1):
            sample.append(number)
        if len(batch_t) >= 20000:
            flush()
    flush()
    con.execute(
        "INSERT INTO counters (name, value) VALUES ('bench', 0) ON CONFLICT(name) DO NOTHING"
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return sample or [number for number, _ in ticket_numbers(1)]


def fill_person(db: Path, tickets: int, seed: int = 4) -> str:
    """Add ``tickets`` tickets requested by one person (the first benchmark contact) and as
    many of the other contacts to a store the CLI has set up; returns the person's address.

    Each of the person's tickets has their mail (every fifth with a colleague in the Cc, every
    fourth with a small PDF attached), the agent's answer to them, two time entries and, once
    closed, a service report. The other tickets have one mail each and are scanned by the
    export, never exported."""
    rnd = random.Random(seed)
    con, people = _open_seeded(db)
    person, colleague = people[0], people[1]
    agent = con.execute("SELECT id FROM agents LIMIT 1").fetchone()[0]
    next_id = (con.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0] or 0) + 1
    next_art = (con.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()[0] or 0) + 1
    pdf = _pdf(rnd)
    rows: dict[str, list[tuple[object, ...]]] = {
        k: [] for k in ("tickets", "participants", "articles", "attachments", "time", "reports")
    }
    sql = {
        "tickets": "INSERT INTO tickets (id, number, subject, org_id, contract_id, requester_id, "
        "channel, impact, status, assignee_id, created_at, updated_at, closed_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "participants": "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?,?,?)",
        "articles": "INSERT INTO articles (id, ticket_id, kind, direction, sender, recipients, "
        "cc, subject, body, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        "attachments": "INSERT INTO attachments (article_id, filename, content_type, size, "
        "content) VALUES (?,?,?,?,?)",
        "time": "INSERT INTO time_entries (ticket_id, agent_id, work_date, minutes, activity, "
        "note, billable, created_at) VALUES (?,?,?,?,?,?,?,?)",
        "reports": "INSERT INTO service_reports (ticket_id, created_at, month, worked_minutes, "
        "billed_minutes, billable, amount, sent_to, status) VALUES (?,?,?,?,?,?,?,?,?)",
    }

    def flush() -> None:
        for key, batch in rows.items():
            con.executemany(sql[key], batch)
            batch.clear()

    helpdesk = "Helpdesk <helpdesk@smartwork.example>"
    for i, (number, day) in enumerate(ticket_numbers(2 * tickets, per_day=200)):
        tid = next_id + i
        mine = i % 2 == 0
        (org_id, contract_id), contact_id, addr = person if mine else rnd.choice(people[1:])
        subject = rnd.choice(PROBLEMS)
        created = f"{day}T08:{i % 60:02d}:00Z"
        closed = f"{day}T16:00:00Z" if i < 2 * tickets * 0.9 else None
        rows["tickets"].append(
            (tid, number, subject, org_id, contract_id, contact_id, "email", "single_user",
             "closed" if closed else "in_progress", agent, created, closed or created, closed)
        )  # fmt: skip
        rows["participants"].append((tid, addr, "requester"))
        body = _body(rnd, addr.split("@")[0], i)
        cc = colleague[2] if mine and i % 5 == 0 else ""
        rows["articles"].append(
            (next_art, tid, "email", "in", addr, helpdesk, cc, subject, body, "mail", created)
        )
        if mine and i % 4 == 0:
            rows["attachments"].append(
                (next_art, "Fehlermeldung.pdf", "application/pdf", len(pdf), pdf)
            )
        next_art += 1
        if not mine:
            continue
        rows["articles"].append(
            (next_art, tid, "email", "out", helpdesk, addr, cc, f"AW: {subject}",
             rnd.choice(REPLIES), "mmueller", created)
        )  # fmt: skip
        next_art += 1
        worked = 0
        for _ in range(2):
            minutes = rnd.choice((15, 30, 45, 60))
            worked += minutes
            rows["time"].append(
                (tid, agent, f"{day}", minutes, rnd.choice(("remote", "phone", "onsite")),
                 "Fernwartung", 1, created)
            )  # fmt: skip
        if closed:
            billed = -(-worked // 15) * 15
            rows["reports"].append(
                (tid, closed, f"{day:%Y-%m}", worked, billed, 1, f"{billed * 95 / 60:.2f}", addr,
                 "approved")
            )  # fmt: skip
        if len(rows["tickets"]) >= 20000:
            flush()
    flush()
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return person[2]
