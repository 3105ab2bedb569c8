"""The report registry: a plugin's report runs through `hdcli report run`, rendering streams."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hdcli import hookimpl
from hdcli.reports import ReportContext, ReportResult, render


def orgs_report(rctx: ReportContext, options: Mapping[str, Any]) -> ReportResult:
    """Organisations and their ticket counts; ``prefix`` filters by name."""
    prefix = str(options.get("prefix", ""))

    def rows() -> Iterator[dict[str, Any]]:
        for row in rctx.store.iterate(
            "SELECT o.name, count(t.id) AS tickets FROM organisations o LEFT JOIN tickets t "
            "ON t.org_id = o.id GROUP BY o.id, o.name ORDER BY o.name"
        ):
            if row["name"].startswith(prefix):
                yield {
                    "organisation": row["name"],
                    "tickets": row["tickets"],
                    "day": rctx.today().isoformat(),
                }

    return ReportResult(
        title="organisations",
        columns=["organisation", "tickets", "day"],
        rows=rows(),
        summary="organisations listed",
    )


class OrgsPlugin:
    @hookimpl
    def register_reports(self, register: Callable[[str, Any], None]) -> None:
        register("orgs", orgs_report)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from hdcli.cli import build
    from hdcli.commands._common import STATE
    from hdcli.plugins import pm, reset_registries

    env = {
        "HDCLI_CONFIG": str(tmp_path / "config.toml"),
        "HDCLI_STORAGE__URL": f"sqlite:///{tmp_path / 'hd.db'}",
        "HDCLI_MAIL__OUTBOUND__PATH": str(tmp_path / "outbox"),
        "HDCLI_LOAD_PLUGINS": "",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    runner = CliRunner()
    app = build()

    def invoke(*args: str) -> Any:
        try:
            result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            if STATE._ctx is not None:
                STATE._ctx.close()
                STATE._ctx = None
        assert result.exit_code == 0, result.output
        return result

    pm.register(OrgsPlugin(), "test-orgs-report")
    reset_registries()
    try:
        yield invoke
    finally:
        pm.unregister(name="test-orgs-report")
        reset_registries()


def test_plugin_report_runs_through_the_registry(cli: Callable[..., Any]) -> None:
    cli("org", "add", "Muster GmbH", "--kind", "company", "--domain", "muster.example")
    cli("org", "add", "Beispiel AG", "--kind", "company", "--domain", "beispiel.example")
    listed = json.loads(cli("report", "list", "--json").stdout)
    assert {"name": "orgs", "plugin": "test-orgs-report"} in listed
    rows = json.loads(cli("report", "run", "orgs", "--format", "json").stdout)
    assert [r["organisation"] for r in rows] == ["Beispiel AG", "Muster GmbH"]
    out = cli("report", "run", "orgs", "-o", "prefix=Mu", "--format", "csv").stdout
    assert next(iter(csv.DictReader(io.StringIO(out))))["organisation"] == "Muster GmbH"
    assert len(out.strip().splitlines()) == 2


def test_builtin_report_through_run(cli: Callable[..., Any]) -> None:
    out = cli("report", "run", "billing", "-o", "month=2026-01", "--format", "csv").stdout
    assert list(csv.DictReader(io.StringIO(out))) == [
        {
            "organisation": "TOTAL",
            "contract": "",
            "billing": "",
            "tickets": "0",
            "hours_worked": "0",
            "hours_billed": "0",
            "included_hours": "0",
            "included_hours_used": "0",
            "hours_charged": "0",
            "amount": "0.00",
            "currency": "EUR",
            "approved": "0",
            "pending": "0",
            "disputed": "0",
        }
    ]


def test_render_streams_rows_as_they_come() -> None:
    chunks: list[str] = []

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(3):
            assert len(chunks) == i  # every earlier row is already written
            yield {"n": i, "x": [i, i]}

    render(ReportResult("t", ["n", "x"], rows()), "jsonl", chunks.append)
    assert [json.loads(c)["n"] for c in chunks] == [0, 1, 2]
    out: list[str] = []
    render(
        ReportResult("t", ["n", "x"], ({"n": i, "x": None} for i in range(2))), "json", out.append
    )
    assert json.loads("".join(out)) == [{"n": 0, "x": None}, {"n": 1, "x": None}]
    table: list[str] = []
    render(ReportResult("t", ["n", "x"], [{"n": 1, "x": [1, 2]}]), "md", table.append)
    assert "| 1   | 1, 2 |" in table[0]
