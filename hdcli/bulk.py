"""Bulk ticket creation from JSONL or CSV (``hdcli open --from-file``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from hdcli.errors import EXIT_REFUSED, UsageError
from hdcli.tickets import OpenRequest, open_many  # only ``open --from-file`` imports this module

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


def open_from_file(ctx: Context, path: str, *, notify: bool, quiet: bool) -> int:
    """Open a ticket per row; prints one result per line (the number, or ``line N: error``).

    Returns the exit code: 0 when all rows were opened, 4 when some were refused.
    """
    csv_mode = path.lower().endswith(".csv")
    fh: TextIO
    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    progress = _Progress() if sys.stderr.isatty() else None
    failed = 0
    write = sys.stdout.write
    try:
        for result in open_many(ctx, read_requests(fh, notify, csv_mode)):
            if result.error:
                failed += 1
                sys.stderr.write(f"hdcli: error: line {result.line}: {result.error}\n")
                if not quiet:
                    write(f"line {result.line}: error: {result.error}\n")
            else:
                write(
                    f"{result.number}\n"
                    if quiet
                    else f"{result.number}\t{'created' if result.created else 'exists'}\n"
                )
            if progress:
                progress.tick()
    finally:
        if fh is not sys.stdin:
            fh.close()
        if progress:
            progress.done()
    return EXIT_REFUSED if failed else 0


class _Progress:
    """A minimal progress line on stderr (TTY only)."""

    def __init__(self) -> None:
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count % 250 == 0:
            sys.stderr.write(f"\ropened {self.count}")
            sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write(f"\ropened {self.count}\n")
