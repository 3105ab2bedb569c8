"""The quarantine: messages ingest could not process, kept with their bytes and the reason.

:func:`hdcli.mail.ingest.ingest_one` puts a message here when it cannot be read or fails inside
hdcli (a plugin's veto, a bug). A human works the quarantine: :func:`list_rows` and
:func:`show` (headers escaped for a terminal, never the body), :func:`raw_bytes` (the original
message), :func:`retry` (the stored bytes through ingest again, after a fix or a new version)
and :func:`drop` (the bytes go; the inbound log keeps the digest and the reason, so the message
stays a ``duplicate`` if it comes again).

Retention: after ``mail.quarantine_days`` (default 30; 0 keeps the bytes for ever) the raw bytes
are removed and only the reason, the digest and the size stay (:func:`purge`;
:func:`purge_if_due` does it at most once a day, from ``mail fetch`` and ``mail flush``).

:func:`attention` lists every outcome of mail that needs a human: quarantined messages,
unclear answers to approvals and service reports, suppressed acknowledgements and attachments
not kept for their size.

Every SQL statement sits in a small function of the section "storage" below. Library code: no
printing; text from mail is escaped (:func:`escape`) before it leaves this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound, Refused, UsageError
from hdcli.repo import quarantine as quarantine_repo
from hdcli.unit import history
from hdcli.util import now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row

LIST_COLUMNS = ("id", "when", "source", "reason", "size", "digest", "content")
ATTENTION_COLUMNS = ("when", "outcome", "ticket", "reason", "quarantine")
RETRY_COLUMNS = ("id", "outcome", "ticket", "message_id", "reason")
#: The counter that holds the day (its ordinal) of the last automatic purge.
PURGE_COUNTER = "quarantine_purged_day"


# -- reading ------------------------------------------------------------------------------------
def escape(text: Any) -> str:
    """``text`` with every character a terminal could act on written as an escape
    (:func:`hdcli.output.visible`: control and format characters, separators, lone surrogates;
    line breaks and tabs too)."""
    from hdcli.output import visible

    return visible("" if text is None else str(text))


def _view(row: Row) -> dict[str, Any]:
    purged = row["purged_at"]
    return {
        "id": int(row["id"]),
        "when": row["created_at"],
        "source": escape(row["source"]),
        "reason": escape(row["reason"]),
        "size": int(row["size"] or 0),
        "digest": row["message_key"],
        "content": f"removed {purged}" if purged else "kept",
    }


def list_rows(store: SqlStorage) -> list[dict[str, Any]]:
    """Every quarantined message, newest first: id, when, source, reason, size, digest and
    whether its content is still kept. Never the content itself."""
    return [_view(r) for r in quarantine_repo.select_all(store)]


def get(store: SqlStorage, qid: int) -> dict[str, Any]:
    """One quarantined message as :func:`list_rows` shows it; NotFound (exit 3) if unknown."""
    row = quarantine_repo.select_one(store, qid)
    if row is None:
        raise NotFound(f"no quarantined message {qid} (see `hdcli mail quarantine list`)")
    return _view(row)


def headers(raw: bytes) -> list[dict[str, str]]:
    """The header fields of ``raw`` in order, decoded (RFC 2047) and escaped; unfolded."""
    from email.parser import BytesHeaderParser

    from hdcli.mail.parse import decode_header_value

    try:
        msg = BytesHeaderParser().parsebytes(raw)
        items = msg.raw_items()
    except Exception:  # not even a header block: there is nothing to show
        return []
    fields = []
    for name, value in items:
        text = decode_header_value(str(value).replace("\r\n", "\n"))  # unfolded, decoded
        fields.append({"name": escape(name), "value": escape(text)})
    return fields


def show(store: SqlStorage, qid: int) -> dict[str, Any]:
    """A quarantined message: what :func:`get` gives, with its ``headers`` (empty once the
    content was removed)."""
    data = get(store, qid)
    raw = quarantine_repo.select_raw(store, qid) or b""
    data["headers"] = headers(raw) if raw else []
    return data


def raw_bytes(store: SqlStorage, qid: int) -> bytes:
    """The original bytes of a quarantined message; Refused (exit 4) once retention removed
    them."""
    data = get(store, qid)
    if data["content"] != "kept":
        raise Refused(f"quarantined message {qid}: content {data['content']} (retention)")
    return quarantine_repo.select_raw(store, qid) or b""


# -- retry and drop -----------------------------------------------------------------------------
@dataclass
class Retried:
    """What became of one quarantined message given to :func:`retry`."""

    id: int
    outcome: str
    ticket: str | None
    message_id: str | None
    reason: str
    #: the message still waits in the quarantine (under the same id)
    kept: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "ticket": self.ticket,
            "message_id": escape(self.message_id) if self.message_id else None,
            "reason": escape(self.reason),
        }


class _Rollback(Exception):
    """Ends a dry run's transaction after the work was done."""

    def __init__(self, result: Retried) -> None:
        self.result = result


def _is_billing(ctx: Context, source: str) -> bool:
    """Whether ``source`` names a configured billing mailbox (``[mail.sources.NAME]``)."""
    sources = ctx.config.get("mail.sources") or {}
    settings = sources.get(source) if isinstance(sources, dict) else None
    return bool(isinstance(settings, dict) and settings.get("billing"))


def retry_one(
    ctx: Context, qid: int, *, billing: bool | None = None, dry_run: bool = False
) -> Retried:
    """Run a quarantined message through ingest again, in one transaction.

    Its inbound log row goes first (else the message would be a ``duplicate`` of itself); the
    new result writes the log row anew. When the message is quarantined again it keeps its
    id (and its date, which retention counts from) with the new reason; otherwise its row is
    removed. ``billing`` None takes the billing flag of the configured source it came from.
    With ``dry_run`` everything is done and rolled back: the result says what would happen.
    NotFound (exit 3) for an unknown id, Refused (exit 4) once retention removed the bytes;
    a store that is locked or unreachable raises as in ingest.
    """
    from hdcli.mail.ingest import ingest_one
    from hdcli.unit import finish

    store = ctx.store
    mark = len(ctx.after_commit)
    try:
        with store.transaction():
            row = quarantine_repo.select_one(store, qid, lock=True)
            if row is None:
                raise NotFound(f"no quarantined message {qid} (see `hdcli mail quarantine list`)")
            if row["purged_at"]:
                raise Refused(
                    f"quarantined message {qid}: content removed {row['purged_at']} "
                    "(retention): nothing to retry; `hdcli mail quarantine drop` removes it"
                )
            raw = quarantine_repo.select_raw(store, qid) or b""
            source = str(row["source"])
            flag = _is_billing(ctx, source) if billing is None else billing
            top = quarantine_repo.max_id(store)
            quarantine_repo.forget_log(store, str(row["message_key"]))
            result = ingest_one(ctx, raw, source, billing=flag, deliver=False)
            kept = result.outcome == "quarantined"
            if kept:
                new = quarantine_repo.find_new(store, top, raw)
                if new is not None:
                    quarantine_repo.update_reason(
                        store, qid, str(new["message_key"]), str(new["reason"])
                    )
                    quarantine_repo.delete(store, int(new["id"]))
            else:
                quarantine_repo.delete(store, qid)
            history(
                store,
                ctx.actor,
                "quarantine",
                str(qid),
                "quarantine_retried",
                {"outcome": result.outcome, "ticket": result.ticket, "reason": result.reason},
            )
            done = Retried(
                qid, result.outcome, result.ticket, result.message_id, result.reason, kept
            )
            if dry_run:
                raise _Rollback(done)
    except _Rollback as stop:
        del ctx.after_commit[mark:]  # nothing of a dry run leaves
        return stop.result
    except BaseException:
        del ctx.after_commit[mark:]
        raise
    finish(ctx)
    return done


def drop(ctx: Context, qid: int, *, dry_run: bool = False) -> dict[str, Any]:
    """Remove a quarantined message; its inbound log row (digest, reason) stays, so the same
    message coming again is a ``duplicate``. Returns the row as :func:`get` showed it."""
    store = ctx.store
    with store.transaction():
        row = quarantine_repo.select_one(store, qid, lock=True)
        if row is None:
            raise NotFound(f"no quarantined message {qid} (see `hdcli mail quarantine list`)")
        if not dry_run:
            quarantine_repo.delete(store, qid)
            history(
                store,
                ctx.actor,
                "quarantine",
                str(qid),
                "quarantine_dropped",
                {"digest": row["message_key"], "reason": row["reason"]},
            )
    return _view(row)


def parse_ids(values: Iterable[str], stdin: Any = None) -> Iterator[int]:
    """Quarantine ids from arguments; ``-`` reads them from ``stdin``, one per line: the first
    word (up to a space or a comma) counts, so ``list`` output in any format but json works;
    lines that do not start with an id (headers, rules, ``#`` comments) are skipped."""
    import re

    for value in values:
        if value == "-":
            if stdin is None:
                raise UsageError("no standard input to read ids from")
            for line in stdin:
                word = re.split(r"[\s,]+", line.strip(), maxsplit=1)[0]
                if word.isdigit():
                    yield int(word)
            continue
        if not value.strip().isdigit():
            raise UsageError(f"bad quarantine id {value!r} (a number, or - for stdin)")
        yield int(value)


# -- retention ----------------------------------------------------------------------------------
def retention_days(ctx: Context) -> int:
    days = int(ctx.config.get("mail.quarantine_days"))
    if days < 0:
        raise UsageError(f"mail.quarantine_days cannot be negative ({days})")
    return days


def purge(
    ctx: Context, days: int | None = None, *, dry_run: bool = False, now: datetime | None = None
) -> list[int]:
    """Remove the raw bytes of messages quarantined more than ``days`` (default
    ``mail.quarantine_days``) ago; their reason, digest and size stay. 0 days keeps them for
    ever. Returns the ids whose content was (with ``dry_run``: would be) removed."""
    days = retention_days(ctx) if days is None else days
    if days < 0:
        raise UsageError(f"--days cannot be negative ({days})")
    if days == 0:
        return []
    store = ctx.store
    with store.transaction():
        return _purge_in_tx(ctx, days, dry_run=dry_run, now=now)


def _purge_in_tx(
    ctx: Context, days: int, *, dry_run: bool = False, now: datetime | None = None
) -> list[int]:
    store = ctx.store
    moment = now or datetime.now(UTC)
    cutoff = (moment - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = quarantine_repo.due_ids(store, cutoff)
    if ids and not dry_run:
        quarantine_repo.strip_raw(store, cutoff, now_iso())
        history(store, ctx.actor, "quarantine", "", "quarantine_purged", {"ids": ids, "days": days})
    return ids


def purge_if_due(ctx: Context) -> list[int]:
    """:func:`purge` at most once a day (whichever run comes first that day does it).

    Reads one counter and returns at once on any other run of the day; ``mail fetch`` and
    ``mail flush`` call it, so the cron jobs that exist carry out the retention.
    """
    days = retention_days(ctx)
    if days == 0:
        return []
    store = ctx.store
    day = ctx.today().toordinal()
    if quarantine_repo.purged_day(store) >= day:
        return []
    with store.transaction():
        if not quarantine_repo.claim_day(store, day):
            return []
        return _purge_in_tx(ctx, days)


def waiting(store: SqlStorage) -> dict[str, Any]:
    """How many messages wait in the quarantine: ``n``, ``purged`` (content removed by
    retention) and the ``oldest`` date."""
    row = quarantine_repo.counts(store)
    return {"n": int(row["n"] or 0), "purged": int(row["purged"] or 0), "oldest": row["oldest"]}


# -- what needs a human -------------------------------------------------------------------------
def _since(since: str | None) -> str:
    if not since:
        return ""
    from datetime import date

    try:
        return date.fromisoformat(since).isoformat()
    except ValueError:
        raise UsageError(f"bad date {since!r} (use YYYY-MM-DD)") from None


def _history_reason(action: str, detail: dict[str, Any]) -> tuple[str, str]:
    """``(outcome, reason)`` of an attention event of the history."""
    if action == "mail_suppressed":
        return (
            "mail_suppressed",
            f"{detail.get('template', 'mail')} to {detail.get('to', '?')} not sent: "
            f"{detail.get('reason', 'suppressed')}",
        )
    if action in ("attachments_skipped", "mail_followup"):
        files = detail.get("files") or detail.get("skipped_attachments") or []
        return "attachment_dropped", "attachment not kept: " + "; ".join(str(f) for f in files)
    if action == "approval_answer_unclear":
        return (
            "unclear_answer",
            f"approval {detail.get('approval')} pending: the answer of "
            f"{detail.get('sender', '?')} is not a clear yes or no",
        )
    return (
        "unclear_answer",
        f"answer of {detail.get('sender', '?')} to service report {detail.get('report')} "
        "kept on the ticket for review",
    )


def attention(store: SqlStorage, since: str | None = None) -> list[dict[str, Any]]:
    """Mail outcomes that need a human, newest first: ``when``, ``outcome`` (quarantined,
    unclear_answer, mail_suppressed, attachment_dropped), ``ticket``, ``reason`` and the
    ``quarantine`` id of a quarantined message (for ``hdcli mail quarantine show``).

    Quarantined messages come from the quarantine and the inbound log (a dropped one no longer
    needs anyone; a retried one has its new result), the rest from the tickets' history.
    """
    day = _since(since)
    rows: list[dict[str, Any]] = [
        {
            "when": r["created_at"],
            "outcome": "quarantined",
            "ticket": None,
            "reason": escape(r["reason"]),
            "quarantine": int(r["id"]),
        }
        for r in quarantine_repo.quarantined_since(store, day)
    ]
    for r in quarantine_repo.history_since(store, day):
        try:
            detail = json.loads(r["detail"]) if r["detail"] else {}
        except ValueError:
            detail = {}
        outcome, reason = _history_reason(str(r["action"]), detail)
        rows.append(
            {
                "when": r["created_at"],
                "outcome": outcome,
                "ticket": r["number"],
                "reason": escape(reason),
                "quarantine": None,
            }
        )
    rows.sort(key=lambda r: str(r["when"]), reverse=True)
    return rows
