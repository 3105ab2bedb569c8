"""Health checks behind ``hdcli doctor``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.context import Context


class CheckWarning(Exception):
    """A check that passes but wants a human to look (``ok`` stays true, ``warning`` is set)."""


class _RolledBack(Exception):
    pass


def _write_probe(store: Any) -> None:
    """Write a counter in a transaction that is then rolled back: the store takes writes (not
    read-only, not locked for good, not full), and nothing stays."""
    from hdcli.repo import counters as counter_repo

    try:
        with store.transaction():
            counter_repo.reserve(store, "doctor:write-probe", 1)
            raise _RolledBack
    except _RolledBack:
        pass


def run_checks(ctx: Context, connect: bool = True) -> list[dict[str, Any]]:
    """One row per check: ``check``, ``ok`` (false fails ``hdcli doctor``), ``detail`` and
    ``warning`` (true: it passes, but something waits for a human)."""
    rows: list[dict[str, Any]] = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            rows.append({"check": name, "ok": True, "detail": fn(), "warning": False})
        except CheckWarning as exc:
            rows.append({"check": name, "ok": True, "detail": f"warning: {exc}", "warning": True})
        except Exception as exc:  # every check reports, none stops the others
            rows.append(
                {
                    "check": name,
                    "ok": False,
                    "detail": f"{type(exc).__name__}: {exc}",
                    "warning": False,
                }
            )

    def config() -> str:
        return f"{ctx.config.path}" + ("" if ctx.config.path.exists() else " (defaults only)")

    def storage() -> str:
        from hdcli.backends.base import latest_version
        from hdcli.config import mask_url

        store = ctx.store
        version = store.schema_version()
        if version != latest_version():
            raise RuntimeError(f"schema {version}, need {latest_version()}: hdcli db upgrade")
        from hdcli.repo import tickets as ticket_repo

        count = ticket_repo.count(store)
        _write_probe(store)
        return f"{mask_url(ctx.config.storage_url)}: schema {version}, {count} tickets, writable"

    def queue() -> str:
        from hdcli.repo import outbound as outbound_repo

        counts = outbound_repo.unsent_counts(ctx.store)
        if counts.get("failed"):
            raise RuntimeError(
                f"{counts['failed']} failed mail(s): hdcli mail queue --status failed"
            )
        return f"{counts.get('queued', 0)} queued"

    def quarantine() -> str:
        from hdcli.mail.quarantine import waiting

        found = waiting(ctx.store)
        if not found["n"]:
            return "empty"
        removed = f", {found['purged']} past retention (content removed)" if found["purged"] else ""
        raise CheckWarning(
            f"{found['n']} message(s) wait, the oldest since {found['oldest']}{removed}: "
            "hdcli mail quarantine list"
        )

    def transport() -> str:
        from hdcli.mail.outbound import make_transport

        name = str(ctx.config.get("mail.outbound.transport"))
        t = make_transport(ctx.config)
        try:
            probe = getattr(t, "check", None)
            if connect and callable(probe):
                return f"{name}: {probe()}"  # SMTP: connect, STARTTLS, AUTH; nothing sent
        finally:
            t.close()
        return name if name not in ("maildir", "file") else f"{name}: {ctx.config.outbox_path}"

    def templates() -> str:
        from hdcli.templates import NAMES, render

        ticket = {
            "number": "0",
            "subject": "x",
            "tag": "[x]",
            "impact": "single_user",
            "status": "new",
        }
        for lang in ("de", "en"):
            for name in NAMES:
                render(
                    ctx.config,
                    name,
                    lang,
                    {
                        "ticket": ticket,
                        "requester": {"name": "", "email": ""},
                        "org": {"name": ""},
                        "helpdesk": {"name": "", "address": "", "billing_address": "", "fax": ""},
                        "agent": {"name": "", "login": ""},
                        "approver": {"name": ""},
                        "recipient": {"name": ""},
                        "body": "",
                        "report_text": "",
                        "change": "",
                        "old_number": None,
                        "title": "",
                        "summary": "",
                        "language": lang,
                    },
                )
        return "all templates render in de and en"

    def sources() -> str:
        from hdcli.mail.fetch import configured_sources

        found = configured_sources(ctx.config)
        if not connect:
            return ", ".join(s.name for s in found) or "none configured"
        done, failed = [], []
        for src in found:  # every source is tried; the message names each that failed
            try:
                probe = getattr(src, "check", None)
                done.append(probe() if callable(probe) else src.name)
            except Exception as exc:
                failed.append(f"{src.name}: {exc}")
            finally:
                src.close()
        if failed:
            raise RuntimeError("; ".join(failed))
        return "; ".join(done) or "none configured"

    check("config", config)
    check("storage", storage)
    check("outbound queue", queue)
    check("mail quarantine", quarantine)
    check("mail transport", transport)
    check("mail sources", sources)
    check("templates", templates)
    return rows
