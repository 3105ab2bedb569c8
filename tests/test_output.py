"""hdcli.output: one renderer for every format, streaming where the format allows, used by the
listings, the reports and the result lines of ``mail ingest``/``mail fetch``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_ingest import mail
from typer.testing import CliRunner

from hdcli import hookimpl, output
from hdcli.errors import TransientError, UsageError
from hdcli.output import render, render_record, render_rows
from hdcli.reports import ReportContext, ReportResult

FORMATS = ("table", "md", "csv", "jsonl", "json")

ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "amount": Decimal("12.50"),
        "note": None,
        "ok": True,
        "at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC),
        "tags": ["a", "b"],
        "meta": {"k": "ü"},
    },
    {
        "id": 2,
        "amount": Decimal("0.10"),
        "note": 'says "hi", | then\nbye',
        "ok": False,
        "at": date(2026, 11, 28),
        "tags": [],
        "meta": {},
    },
]

EXPECTED = {
    # table and md show a moment for people (in the run's time zone, here its own offset)
    "table": (
        "id    amount    note               ok     at                tags    meta\n"
        "----  --------  -----------------  -----  ----------------  ------  ----------\n"
        '1     12.50                        True   2026-11-27 10:05  a, b    {"k": "ü"}\n'
        '2     0.10      says "hi", | then  False  2026-11-28                {}\n'
        "                bye\n"
    ),
    "md": (
        "| id   | amount   | note                      | ok    | at               "
        "| tags   | meta       |\n"
        "|------|----------|---------------------------|-------|------------------"
        "|--------|------------|\n"
        "| 1    | 12.50    |                           | True  | 2026-11-27 10:05 "
        '| a, b   | {"k": "ü"} |\n'
        '| 2    | 0.10     | says "hi", \\| then<br>bye | False | 2026-11-28       '
        "|        | {}         |\n"
    ),
    "csv": (
        "id,amount,note,ok,at,tags,meta\n"
        '1,12.50,,True,2026-11-27T10:05:00+00:00,"a, b","{""k"": ""ü""}"\n'
        '2,0.10,"says ""hi"", | then\nbye",False,2026-11-28,,{}\n'
    ),
    "jsonl": (
        '{"id": 1, "amount": "12.50", "note": null, "ok": true, '
        '"at": "2026-11-27T10:05:00+00:00", "tags": ["a", "b"], "meta": {"k": "ü"}}\n'
        '{"id": 2, "amount": "0.10", "note": "says \\"hi\\", | then\\nbye", "ok": false, '
        '"at": "2026-11-28", "tags": [], "meta": {}}\n'
    ),
}
# Every cell as text, the same in every format (JSON keeps null, booleans, lists and objects).
TEXT = {
    "amount": ["12.50", "0.10"],
    "note": ["", 'says "hi", | then\nbye'],
    "at": ["2026-11-27T10:05:00+00:00", "2026-11-28"],
}


def rendered(rows: Any, fmt: str, columns: list[str] | None = None, **kw: Any) -> str:
    chunks: list[str] = []
    render(rows, fmt, columns, chunks.append, **kw)
    return "".join(chunks)


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "jsonl"])
def test_each_format_of_the_same_rows(fmt: str) -> None:
    assert rendered(ROWS, fmt) == EXPECTED[fmt]
    assert rendered(iter(ROWS), fmt) == EXPECTED[fmt]  # a generator gives the same bytes
    assert render_rows(ROWS, fmt) == EXPECTED[fmt].removesuffix("\n")


def test_json_is_an_indented_array_with_decimal_text_and_null() -> None:
    text = rendered(iter(ROWS), "json")
    # what json.dumps of the whole list gives, although it was written row by row
    converted = [json.loads(line) for line in EXPECTED["jsonl"].splitlines()]
    assert text == json.dumps(converted, ensure_ascii=False, indent=2) + "\n"
    data = json.loads(text)
    assert data[0]["amount"] == "12.50" and data[0]["note"] is None and data[0]["ok"] is True
    assert data[0]["tags"] == ["a", "b"] and data[0]["meta"] == {"k": "ü"}
    assert rendered([], "json") == "[]\n"


def test_cells_are_converted_the_same_in_every_format() -> None:
    by_csv = list(csv.DictReader(io.StringIO(rendered(ROWS, "csv"))))
    by_json = json.loads(rendered(ROWS, "json"))
    for key, texts in TEXT.items():
        assert [r[key] for r in by_csv] == texts
        assert [r[key] or "" for r in by_json] == texts
    for fmt in ("table", "md"):
        out = rendered(ROWS, fmt)
        assert "12.50" in out and "0.10" in out and "2026-11-27 10:05" in out
        assert "None" not in out and "Decimal" not in out


def raising_after(n: int, check: Callable[[int], None]) -> Iterator[dict[str, Any]]:
    """Rows 0..n-1, then an error; ``check(i)`` runs before row ``i`` is produced."""
    for i in range(n):
        check(i)
        yield {"n": i, "amount": Decimal(i) / 4, "note": None}
    check(n)
    raise RuntimeError("store went away")


@pytest.mark.parametrize(("fmt", "header"), [("csv", 1), ("jsonl", 0)])
def test_csv_and_jsonl_write_every_row_before_the_next_is_made(fmt: str, header: int) -> None:
    log: list[str] = []

    def check(i: int) -> None:
        assert "".join(log).count("\n") == header + i  # every earlier row is out already

    with pytest.raises(RuntimeError, match="store went away"):
        render(raising_after(3, check), fmt, ["n", "amount", "note"], log.append)
    lines = "".join(log).splitlines()
    assert len(lines) == header + 3
    if fmt == "csv":
        assert lines == ["n,amount,note", "0,0,", "1,0.25,", "2,0.5,"]
    else:
        assert [json.loads(x) for x in lines][1] == {"n": 1, "amount": "0.25", "note": None}


def test_json_streams_and_stays_valid_when_the_rows_fail() -> None:
    log: list[str] = []

    def check(i: int) -> None:
        assert "".join(log).count('"n"') == i

    with pytest.raises(RuntimeError):
        render(raising_after(3, check), "json", None, log.append)
    assert json.loads("".join(log)) == [
        {"n": 0, "amount": "0", "note": None},
        {"n": 1, "amount": "0.25", "note": None},
        {"n": 2, "amount": "0.5", "note": None},
    ]


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_table_and_md_collect_then_print_what_came_before_an_error(fmt: str) -> None:
    log: list[str] = []

    def check(i: int) -> None:
        assert log == []  # tabulate sizes the columns from every row: nothing before the end

    with pytest.raises(RuntimeError):
        render(raising_after(2, check), fmt, None, log.append)
    assert len(log) == 1
    assert "0.25" in log[0] and len(log[0].splitlines()) == 4


def test_columns_choose_and_order_text_formats_json_is_whole_unless_asked() -> None:
    rows = [{"b": 2, "a": 1, "extra": "x"}]
    assert rendered(rows, "csv", ["a", "b"]) == "a,b\n1,2\n"
    assert rendered(rows, "table", ["a", "missing"]).splitlines()[2].split() == ["1"]
    assert json.loads(rendered(rows, "jsonl", ["a"])) == {"b": 2, "a": 1, "extra": "x"}
    only = rendered(rows, "jsonl", ["a", "missing"], only_columns=True)
    assert only == '{"a": 1, "missing": null}\n'
    assert json.loads(rendered(rows, "json", ["a"], only_columns=True)) == [{"a": 1}]


def test_no_rows() -> None:
    assert rendered([], "csv", ["a", "b"]) == "a,b\n"  # a header row even then
    assert rendered([], "jsonl", ["a"]) == ""
    assert rendered([], "json", ["a"]) == "[]\n"
    assert rendered([], "table", ["a", "b"]) == "a    b\n---  ---\n"
    assert rendered([], "table", ["a"], empty_table=False) == ""
    assert rendered([], "md", ["a"], empty_table=False) == ""
    assert rendered([], "table") == rendered([], "csv") == ""


def test_a_bad_format_is_a_usage_error_before_any_row_is_made() -> None:
    def rows() -> Iterator[dict[str, Any]]:
        raise AssertionError("rows were read")
        yield {}

    with pytest.raises(UsageError, match="bad format 'xml'") as err:
        render(rows(), "xml", None, print)
    assert err.value.exit_code == 2


def test_render_record() -> None:
    record = {**ROWS[0], "articles": [{"id": 1}]}
    assert json.loads(render_record(record, "json"))["articles"] == [{"id": 1}]
    assert render_record(record, "json").startswith('{\n  "id": 1,\n  "amount": "12.50"')
    assert json.loads(render_record(record, "jsonl"))["amount"] == "12.50"
    assert "\n" not in render_record(record, "jsonl")
    table = render_record(record, "csv").splitlines()
    assert table[0] == "field,value"
    assert "amount,12.50" in table and "note," in table and 'tags,"a, b"' in table
    assert not any(line.startswith("articles") for line in table)  # lists of records: json only


class _Stdout:
    def __init__(self) -> None:
        self.events: list[str] = []

    def write(self, text: str) -> int:
        self.events.append(text)
        return len(text)

    def flush(self) -> None:
        self.events.append("<flush>")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_print_results_flushes_each_line_as_it_comes(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    stdout = _Stdout()
    monkeypatch.setattr("sys.stdout", stdout)

    def results() -> Iterator[dict[str, Any]]:
        for i in range(2):
            assert stdout.events[-1:] in ([], ["<flush>"])  # nothing left in a buffer
            yield {"source": f"m{i}", "outcome": "new"}

    output.print_results(results(), fmt, ["source", "outcome"])
    lines = [e for e in stdout.events if e != "<flush>"]
    assert len(lines) == (3 if fmt == "csv" else 2)
    assert stdout.events[-1] == "<flush>"


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("table", ""), ("md", ""), ("csv", "a,b\n"), ("json", "[]\n"), ("jsonl", "")],
)
def test_print_results_without_results(
    monkeypatch: pytest.MonkeyPatch, fmt: str, text: str
) -> None:
    stdout = _Stdout()
    monkeypatch.setattr("sys.stdout", stdout)
    output.print_results(iter([]), fmt, ["a", "b"])
    assert "".join(e for e in stdout.events if e != "<flush>") == text


# -- the commands use it ------------------------------------------------------------------------


def money_report(rctx: ReportContext, options: Mapping[str, Any]) -> ReportResult:
    def rows() -> Iterator[dict[str, Any]]:
        yield from ({**r, "hidden": "not a column"} for r in ROWS)

    return ReportResult("money", ["id", "amount", "note", "ok", "at", "tags", "meta"], rows())


class MoneyPlugin:
    @hookimpl
    def register_reports(self, register: Callable[[str, Any], None]) -> None:
        register("money", money_report)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from hdcli.cli import build
    from hdcli.commands._common import STATE
    from hdcli.plugins import pm, reset_registries

    env = {
        "HDCLI_CONFIG": str(tmp_path / "config.toml"),
        "HDCLI_STORAGE__URL": f"sqlite:///{tmp_path / 'hd.db'}",
        "HDCLI_MAIL__OUTBOUND__PATH": str(tmp_path / "outbox"),
        "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
        "HDCLI_LOAD_PLUGINS": "",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "HDCLI_BILLING__TIMEZONE": "UTC",  # the moments of ROWS as EXPECTED shows them
    }
    runner = CliRunner()
    app = build()

    def invoke(*args: str, code: int = 0) -> Any:
        try:
            result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            output.time_zone = None
            if STATE._ctx is not None:
                STATE._ctx.close()
                STATE._ctx = None
        assert result.exit_code == code, result.output
        return result

    pm.register(MoneyPlugin(), "test-money-report")
    reset_registries()
    try:
        yield invoke
    finally:
        pm.unregister(name="test-money-report")
        reset_registries()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every call of hdcli.output.render: its format and the rows it was given."""
    calls: list[tuple[str, list[dict[str, Any]]]] = []
    real = output.render

    def watched(rows: Any, fmt: str, *args: Any, **kw: Any) -> None:
        seen: list[dict[str, Any]] = []
        calls.append((fmt, seen))

        def passing() -> Iterator[Any]:
            for row in rows:
                seen.append(dict(row))
                yield row

        real(passing(), fmt, *args, **kw)

    monkeypatch.setattr(output, "render", watched)
    return calls


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_output_is_the_renderer_s(cli: Callable[..., Any], spy: Any, fmt: str) -> None:
    out = cli("report", "run", "money", "--format", fmt).stdout
    assert [f for f, _ in spy] == [fmt]
    if fmt == "json":
        assert json.loads(out) == json.loads(rendered(ROWS, "json"))
    else:
        assert out == EXPECTED[fmt]  # the report's columns only: "hidden" is not shown


def test_billing_report_uses_the_renderer(cli: Callable[..., Any], spy: Any) -> None:
    out = cli("report", "billing", "--month", "2026-01", "--format", "csv").stdout
    assert [f for f, _ in spy] == ["csv"]
    assert out.splitlines()[-1].startswith("TOTAL,")


def seed_and_inbox(cli: Callable[..., Any], tmp_path: Path) -> Path:
    cli("org", "add", "Muster GmbH", "--kind", "company", "--domain", "muster.example")
    cli("contract", "add", "Muster GmbH", "--number", "RV-1", "--billing", "free")
    cli("contact", "add", "Muster GmbH", "--name", "Anna", "--email", "anna@muster.example")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sender = "Anna <anna@muster.example>"
    (inbox / "1.eml").write_bytes(mail("Drucker, kaputt", sender, message_id="<o1@muster.example>"))
    (inbox / "2.eml").write_bytes(mail("Fremd", "x@nowhere.example", message_id="<o2@x>"))
    return inbox


@pytest.mark.parametrize("fmt", FORMATS)
def test_mail_ingest_results_are_the_renderer_s(
    cli: Callable[..., Any], spy: Any, tmp_path: Path, fmt: str
) -> None:
    inbox = seed_and_inbox(cli, tmp_path)
    spy.clear()
    out = cli("mail", "ingest", str(inbox), "--format", fmt).stdout
    [(called, rows)] = spy
    assert called == fmt
    assert [r["outcome"] for r in rows] == ["new", "rejected"]
    assert out == rendered(rows, fmt, ["source", "message_id", "outcome", "ticket", "reason"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_mail_ingest_prints_what_was_committed_before_a_transient_failure(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    from hdcli.mail import ingest

    inbox = seed_and_inbox(cli, tmp_path)
    real = ingest.ingest_many

    def failing(ctx: Any, messages: Any) -> Iterator[Any]:
        for result in real(ctx, messages):
            yield result
            raise TransientError("database is locked")

    monkeypatch.setattr(ingest, "ingest_many", failing)
    result = cli("mail", "ingest", str(inbox), "--format", fmt, code=75)
    out = result.stdout
    if fmt == "json":
        assert [r["outcome"] for r in json.loads(out)] == ["new"]
    elif fmt == "jsonl":
        assert json.loads(out)["outcome"] == "new"
    elif fmt == "csv":
        assert [r["outcome"] for r in csv.DictReader(io.StringIO(out))] == ["new"]
    else:
        assert len(out.splitlines()) == 3 and " new " in out
    assert "try again later" in result.stderr


def test_table_and_md_show_moments_in_the_time_zone_machine_formats_keep_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    assert output.local_time("2026-12-03T13:05:00Z", berlin) == "2026-12-03 14:05"
    assert output.local_time("2026-07-01T10:00:00+00:00", berlin) == "2026-07-01 12:00"
    assert output.local_time(datetime(2026, 12, 3, 13, 5, tzinfo=UTC), berlin) == "2026-12-03 14:05"
    assert output.local_time("2026-12-03", berlin) == "2026-12-03"  # a day stays a day
    assert output.local_time("seit 2026-12-03T13:05:00Z", berlin) == "seit 2026-12-03T13:05:00Z"
    monkeypatch.setattr(output, "time_zone", lambda: berlin)
    rows = [{"number": "1", "updated_at": "2026-12-03T13:05:00Z"}]
    assert "2026-12-03 14:05" in rendered(rows, "table")
    assert "| 2026-12-03 14:05 |" in rendered(rows, "md")
    assert "2026-12-03T13:05:00Z" in rendered(rows, "csv")
    assert json.loads(rendered(rows, "json"))[0]["updated_at"] == "2026-12-03T13:05:00Z"
