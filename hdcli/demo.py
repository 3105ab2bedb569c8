"""The demo: a whole ticket's life on a separate SQLite helpdesk with a Maildir outbox."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hdcli.config import Config, default_data_dir


def run_demo(directory: Path | None = None) -> None:
    from hdcli import customers, tickets, views
    from hdcli.context import Context
    from hdcli.customers import ContractFields

    base = directory or default_data_dir() / "demo"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    env = {
        "HDCLI_STORAGE__URL": f"sqlite:///{base / 'hdcli.db'}",
        "HDCLI_MAIL__OUTBOUND__TRANSPORT": "maildir",
        "HDCLI_MAIL__OUTBOUND__PATH": str(base / "outbox"),
        "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
        "HDCLI_MAIL__FROM_NAME": "SmartWork Helpdesk",
        "HDCLI_MAIL__BILLING_ADDRESS": "abrechnung@smartwork.example",
        "HDCLI_MAIL__FAX_NUMBER": "+49 621 53817 40",
    }
    ctx = Context(Config.load(base / "config.toml", env=env), actor="admin")

    def step(text: str) -> None:
        sys.stdout.write(f"- {text}\n")

    try:
        customers.add_org(ctx, "Muster GmbH", "company", ["muster.example"], "de")
        step("organisation Muster GmbH (company, domain muster.example)")
        customers.add_contract(
            ctx,
            "Muster GmbH",
            "RV-2026-001",
            ContractFields(billing="hourly", rate="95", increment="15m"),
        )
        step("contract RV-2026-001: hourly, 95 EUR, 15-minute increment")
        customers.add_contact(
            ctx,
            "Muster GmbH",
            "Anna Schmidt",
            "anna.schmidt@muster.example",
            "+49 621 1234",
            ["main", "approver"],
        )
        step("contact Anna Schmidt <anna.schmidt@muster.example> (main, approver)")
        customers.add_agent(ctx, "mmueller", "Max Müller", "max.mueller@smartwork.example")
        step("agent mmueller (Max Müller)")
        opened = tickets.open_ticket(
            ctx,
            tickets.OpenRequest(
                contact="anna.schmidt@muster.example",
                subject="Drucker im 2. OG druckt nicht",
                body="Seit heute früh druckt der Drucker im 2. OG nicht mehr. Neustart half nicht.",
                channel="phone",
                impact="several_users",
            ),
        )
        number = opened.ticket["number"]
        step(f"opened ticket {number} by phone (acknowledgement mailed)")
        ctx._actor = "mmueller"
        tickets.assign(ctx, number, "mmueller", start_work=True)
        step("assigned to mmueller and started (mail names Max Müller)")
        tickets.reply(
            ctx,
            number,
            "Guten Tag Frau Schmidt,\n\nder Druckertreiber wurde per "
            "Fernwartung neu installiert. Bitte testen Sie den Druck.",
        )
        step("replied to the customer")
        tickets.log_time(ctx, number, 90, note="Treiber neu installiert", activity="remote")
        step("logged 1h30m remote session")
        tickets.close(ctx, number, "erledigt")
        step("closed; service report (1.5 h, 142.50 EUR) mailed with a PDF to sign")
        data = views.show(ctx.store, number, history=False)
        sys.stdout.write(
            f"\nticket {number}: status {data['status']}, "
            f"{len(data['articles'])} articles, {data['total_minutes']} minutes\n"
        )
        outbox = base / "outbox"
        sys.stdout.write(f"\noutbox (Maildir): {outbox}\n")
        from email import policy
        from email.parser import BytesHeaderParser

        for path in sorted(
            (outbox / "new").iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name)
        ):
            with path.open("rb") as fh:
                headers = BytesHeaderParser(policy=policy.default).parse(fh)
            sys.stdout.write(f"  {path.name}: {headers['subject']}\n")
        sys.stdout.write(
            f"\ndemo helpdesk: {base / 'hdcli.db'}\n"
            f"look around: HDCLI_STORAGE__URL=sqlite:///{base / 'hdcli.db'} "
            f"hdcli show {number}\n"
        )
    finally:
        ctx.close()
