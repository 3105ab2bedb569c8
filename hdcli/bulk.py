"""Bulk ticket creation from JSONL or CSV (``hdcli open --from-file``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from hdcli.errors import UsageError
from hdcli.tickets import (
    BulkResult,
    OpenRequest,
    open_many,
)  # only ``open --from-file`` imports this module

if TYPE_CHECKING:
    from hdcli.context import Context

FIELDS = ("contact", "subject", "body", "channel", "impact", "external_id", "name")


def _request(rec: dict[str, Any], notify: bool) -> OpenRequest:
    unknown = set(rec) - set(FIELDS)
    if unknown:
        raise UsageError(
            f"unknown field(s) {', '.join(sorted(unknown))} (known: {', '.join(FIELDS)})"
        )
    if not rec.get("contact") or not rec.get("subject"):
        raise UsageError("contact and subject are required")
    return OpenRequest(
        contact=str(rec["contact"]),
        subject=str(rec["subject"]),
        body=str(rec.get("body") or ""),
        channel=str(rec.get("channel") or "email"),
        impact=str(rec.get("impact") or "single_user"),
        external_id=str(rec["external_id"]) if rec.get("external_id") else None,
        name=str(rec.get("name") or ""),
        notify=notify,
    )


def read_requests(fh: TextIO, notify: bool, csv_mode: bool) -> Iterator[tuple[int, Any]]:
    if csv_mode:
        import csv

        for line, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                yield line, _request({k: v for k, v in rec.items() if k and v != ""}, notify)
            except UsageError as exc:
                yield line, exc
        return
    for line, text in enumerate(fh, start=1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
            if not isinstance(rec, dict):
                raise UsageError("each line must be a JSON object")
            yield line, _request(rec, notify)
        except (json.JSONDecodeError, UsageError) as exc:
            yield line, UsageError(f"line {line}: {exc}")


def open_from_file(ctx: Context, path: str, *, notify: bool) -> Iterator[BulkResult]:
    """Open a ticket per row of the JSONL or CSV file ``path`` (``-`` = stdin): one
    :class:`~hdcli.tickets.BulkResult` per row, in file order (a row that cannot be read or is
    refused carries its error; the others are opened). The caller renders them.

    The file is opened at once (a missing file is a UsageError before any row), the rows as
    the results are taken."""
    csv_mode = path.lower().endswith(".csv")
    fh: TextIO
    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return _results(ctx, fh, notify, csv_mode)


def _results(ctx: Context, fh: TextIO, notify: bool, csv_mode: bool) -> Iterator[BulkResult]:
    try:
        yield from open_many(ctx, read_requests(fh, notify, csv_mode))
    finally:
        if fh is not sys.stdin:
            fh.close()
