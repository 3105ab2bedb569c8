"""Rendering data for stdout: table, json, jsonl, csv, md.

``list`` and ``show`` import this on every run, so ``json``, ``csv`` and tabulate are imported
only by the format that uses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "jsonl", "csv", "md")


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None:
        return ""
    return value


def to_json(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def render_rows(
    rows: Sequence[Mapping[str, Any]], fmt: str, columns: Sequence[str] | None = None
) -> str:
    """Render a list of records. ``json`` is an array; ``csv`` always has a header row."""
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    if fmt == "json":
        return to_json([dict(r) for r in rows])
    if fmt == "jsonl":
        import json

        return "\n".join(json.dumps(dict(r), ensure_ascii=False, default=str) for r in rows)
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in cols])
        return buf.getvalue().rstrip("\n")
    from tabulate import tabulate

    table = [[_cell(r.get(c)) for c in cols] for r in rows]
    return tabulate(
        table, headers=cols, tablefmt="github" if fmt == "md" else "simple", disable_numparse=True
    )


def render_record(record: Mapping[str, Any], fmt: str) -> str:
    """Render one record: json/jsonl as an object, the rest as key/value rows."""
    if fmt == "json":
        return to_json(dict(record))
    if fmt == "jsonl":
        import json

        return json.dumps(dict(record), ensure_ascii=False, default=str)
    rows = [
        {"field": k, "value": _cell(v)}
        for k, v in record.items()
        if not isinstance(v, list) or not v or not isinstance(v[0], dict)
    ]
    return render_rows(rows, fmt, ["field", "value"])


def lines(items: Iterable[str]) -> str:
    return "\n".join(items)
