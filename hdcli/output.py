"""The one renderer of data on stdout: table, json, jsonl, csv, md, for every command and report.

:func:`render` writes any iterable of rows (a generator too) through a ``write`` callable:
``json``, ``jsonl`` and ``csv`` row by row in constant memory, ``table`` and ``md`` at the end
(tabulate needs every row to size its columns). :func:`render_rows` and :func:`render_record`
return the text of a list or of one record; :func:`print_results` prints result lines as they
come (``mail ingest``, ``mail fetch``).

Cells are converted the same way in every format: ``None`` is empty (``null`` in JSON), a
``Decimal`` is its exact text (a JSON string, so that no digit is lost), a date or time is ISO
8601, a bool is ``True``/``False`` (JSON ``true``/``false``); in table, md and csv a list is
its items joined by ``", "`` and a dict is compact JSON. md escapes ``|`` and line breaks so
that a cell stays one cell. Nothing is coloured.

Moments (a stored timestamp ``2026-12-03T13:05:00Z``, an ISO text with an offset, an aware
``datetime``) are shown by table and md, and by the text view of ``show``, through
:func:`local_time`: ``2026-12-03 14:05`` in the run's time zone (:data:`time_zone`, which the
CLI sets to the configured ``billing.timezone``, Europe/Berlin by default). json, jsonl and
csv keep them ISO 8601 with their offset, as stored.

Text from mail never reaches a terminal as control sequences: table and md (and the text
views of ``show``, through :func:`visible`) write control characters (C0, DEL, C1), format
characters (bidi overrides, isolates and marks, zero-width characters), line and paragraph
separators and lone surrogates as visible escapes (``\\x1b``, ``\\u202e``); a table cell keeps
its line breaks, a tab becomes ``\\t``. json, jsonl and csv stay exact: they are data for
programs (JSON escapes control characters itself), and a spreadsheet or script reading csv
must get the text as it was received.

``list`` and ``show`` import this on every run, so ``json``, ``csv`` and tabulate are imported
only by the format that uses them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import tzinfo

FORMATS = ("table", "json", "jsonl", "csv", "md")

Write = Callable[[str], object]

#: The time zone of the run, asked the first time a table shows a moment (the CLI sets it to
#: the configured ``billing.timezone``); None: moments are shown as stored.
time_zone: Callable[[], tzinfo | None] | None = None

# A moment as stored or sent: ISO 8601 date and time with seconds and an offset (Z for UTC)
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)")


def is_moment(value: Any) -> bool:
    """Whether ``value`` is a moment: an aware datetime, or ISO text with a time and offset."""
    if isinstance(value, str):
        return len(value) <= 40 and _MOMENT.fullmatch(value) is not None
    return getattr(value, "tzinfo", None) is not None and hasattr(value, "astimezone")


def local_time(value: Any, tz: tzinfo | None = None) -> str:
    """A moment (see :func:`is_moment`) for people: ``2026-12-03 14:05`` in ``tz`` (default:
    :data:`time_zone`; without one, in its own offset). Anything else is its :func:`cell` text.

    The one conversion of times for table, md and the text views: machine formats never come
    here."""
    if not is_moment(value):
        return cell(value)
    from datetime import datetime

    moment = value
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return value
    if tz is None and time_zone is not None:
        tz = time_zone()
    if tz is not None:
        moment = moment.astimezone(tz)
    return f"{moment:%Y-%m-%d %H:%M}"


def _text(value: Any) -> str:
    if hasattr(value, "isoformat"):  # date, datetime, time: without importing datetime
        return str(value.isoformat())
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return _text(value)  # Decimal, dates, anything else: its text


def _dumps(value: Any, indent: int | None = None) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


# Spaces other than the ASCII one are "not printable" to Python but harmless: they stay.
_SPACES = frozenset("\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))


def to_json(value: Any) -> str:
    """``value`` as ``--format json`` writes it, on one line (the server's answers)."""
    return _dumps(value)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return "\\t" if ch == "\t" else f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` safe to print on a terminal: every character a terminal could act on, or that
    changes how the text around it looks, written as an escape.

    Escaped: control characters (C0, DEL, C1 such as CSI), so no ANSI sequence starts; format
    characters (bidi overrides, embeddings, isolates and marks, U+061C, zero-width characters,
    U+FEFF); line and paragraph separators; lone surrogates (undecodable bytes); private-use and
    unassigned code points. ``keep`` names the characters the layout allows (``"\\n"`` or
    ``"\\n\\t"``); with ``"\\n"`` kept, CRLF becomes one line break. A backslash stays itself.
    """
    if text.isprintable():
        return text
    if "\n" in keep and "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return "".join(
        ch if ch.isprintable() or ch in keep or ch in _SPACES else _escape(ch) for ch in text
    )


def cell(value: Any) -> str:
    """``value`` as the text of a table, md or csv cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return _dumps(value)
    return _text(value)


def _md_cell(value: Any) -> str:
    text = local_time(value).replace("|", "\\|")
    return visible(text.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>"))


def _table_cell(value: Any) -> str:
    return visible(local_time(value), "\n")


class _Sink:
    """One format's output: ``row`` per row, then ``end`` once."""

    def __init__(self, columns: Sequence[str] | None, write: Write, only: bool = False) -> None:
        self.columns = list(columns) if columns else None
        self.write = write
        self.only = only and self.columns is not None

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """What json and jsonl write of ``row``."""
        if self.only:
            return {c: row.get(c) for c in self.columns or ()}
        return dict(row)

    def row(self, row: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def end(self) -> None:
        pass


class _Jsonl(_Sink):
    def row(self, row: Mapping[str, Any]) -> None:
        self.write(_dumps(self.record(row)) + "\n")


class _Json(_Sink):
    """An array, byte for byte what ``json.dumps(rows, indent=2)`` gives, one row at a time."""

    count = 0

    def row(self, row: Mapping[str, Any]) -> None:
        # JSON text has no raw newline: every line break is the indentation's
        text = _dumps(self.record(row), indent=2).replace("\n", "\n  ")
        self.write(("," if self.count else "[") + "\n  " + text)
        self.count += 1

    def end(self) -> None:
        self.write("\n]\n" if self.count else "[]\n")


# Cells the csv module writes as cell() would (its str()), so that a row needs no call per cell.
_PLAIN = frozenset({str, int, float})


class _Csv(_Sink):
    def __init__(self, columns: Sequence[str] | None, write: Write) -> None:
        import csv

        super().__init__(columns, write)
        self.writer = csv.writer(self, lineterminator="\n")  # one write per line
        if self.columns:
            self.writer.writerow(self.columns)

    def row(self, row: Mapping[str, Any]) -> None:
        if self.columns is None:
            self.columns = list(row)
            self.writer.writerow(self.columns)
        self.writer.writerow(
            [v if v.__class__ in _PLAIN else cell(v) for v in map(row.get, self.columns)]
        )


class _Table(_Sink):
    def __init__(
        self, columns: Sequence[str] | None, write: Write, *, md: bool, empty: bool
    ) -> None:
        super().__init__(columns, write)
        self.md = md
        self.empty = empty
        self.cells: list[list[str]] = []

    def row(self, row: Mapping[str, Any]) -> None:
        if self.columns is None:
            self.columns = list(row)
        convert = _md_cell if self.md else _table_cell
        self.cells.append([convert(row.get(c)) for c in self.columns])

    def end(self) -> None:
        if not self.cells and not self.empty:
            return
        from tabulate import tabulate

        text = tabulate(
            self.cells,
            headers=self.columns or [],
            tablefmt="github" if self.md else "simple",
            disable_numparse=True,
        )
        if text:
            self.write(text + "\n")


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    columns: Sequence[str] | None = None,
    write: Write | None = None,
    *,
    only_columns: bool = False,
    empty_table: bool = True,
) -> None:
    """Write ``rows`` in ``fmt`` through ``write`` (default: stdout), each line ending in a newline.

    ``columns`` choose and order the columns of table, md and csv (default: the first row's
    keys); json and jsonl write every row whole, or with ``only_columns`` just those columns
    (missing ones as null). json is an array, jsonl one object per line; csv has a header row
    even without rows. With ``empty_table=False`` table and md write nothing when there is no
    row. When ``rows`` raises, what was written is finished first (the JSON array closed, the
    table of the rows so far printed), then the error propagates.
    """
    out: Write = write or sys.stdout.write
    sink: _Sink
    if fmt == "jsonl":
        sink = _Jsonl(columns, out, only_columns)
    elif fmt == "json":
        sink = _Json(columns, out, only_columns)
    elif fmt == "csv":
        sink = _Csv(columns, out)
    elif fmt in ("table", "md"):
        sink = _Table(columns, out, md=fmt == "md", empty=empty_table)
    else:
        from hdcli.errors import UsageError

        raise UsageError(f"bad format {fmt!r} (allowed: {', '.join(FORMATS)})")
    try:
        for row in rows:
            sink.row(row)
    except Exception:
        import contextlib

        with contextlib.suppress(Exception):  # the first error is the one to report
            sink.end()
        raise
    sink.end()


def pick_fields(spec: str | None, valid: Iterable[str]) -> list[str] | None:
    """The fields a ``--fields a,b`` option names, in its order, or None without one.

    A UsageError (exit 2) names an unknown field and lists the valid ones, as ``gh --json``
    does; so does an empty list."""
    if spec is None:
        return None
    known = list(valid)
    fields = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = [f for f in fields if f not in known]
    if unknown or not fields:
        from hdcli.errors import UsageError

        what = f"unknown field(s) {', '.join(unknown)}" if unknown else "no field given"
        raise UsageError(f"--fields: {what} (valid: {', '.join(known)})")
    return list(dict.fromkeys(fields))


def render_rows(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    only_columns: bool = False,
) -> str:
    """The text :func:`render` writes for ``rows``, without its final newline."""
    parts: list[str] = []
    render(rows, fmt, columns, parts.append, only_columns=only_columns)
    text = "".join(parts)
    return text[:-1] if text.endswith("\n") else text


def render_record(record: Mapping[str, Any], fmt: str, fields: Sequence[str] | None = None) -> str:
    """One record: json as an indented object, jsonl as one line, the rest as ``field`` /
    ``value`` rows (lists of records, such as a ticket's articles, are left to json).
    ``fields`` (from :func:`pick_fields`) keeps only those, in that order."""
    if fields is not None:
        record = {f: record.get(f) for f in fields}
    if fmt == "json":
        return _dumps(dict(record), indent=2)
    if fmt == "jsonl":
        return _dumps(dict(record))
    rows = [
        {"field": k, "value": v}
        for k, v in record.items()
        if not isinstance(v, list) or not v or not isinstance(v[0], dict)
    ]
    return render_rows(rows, fmt, ["field", "value"])


def _write_now(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def print_results(results: Iterable[Mapping[str, Any]], fmt: str, columns: Sequence[str]) -> None:
    """Print result lines to stdout as they come: jsonl and csv a line per result, flushed at
    once so that a log or a pipe sees each result when it is committed; table, md and json when
    the results end (also when they end in an error). No result: no table, a csv header, ``[]``.
    """
    render(results, fmt, columns, _write_now, empty_table=False)
