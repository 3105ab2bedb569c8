"""docs/cli.md is generated from --help and must be current."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    env = {**os.environ, "HDCLI_LOAD_PLUGINS": "", "COLUMNS": "100", "NO_COLOR": "1"}
    fresh = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_cli.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert fresh == current, "docs/cli.md is out of date: python docs/gen_cli.py > docs/cli.md"


def test_every_command_has_an_example_or_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for verb in (
        "open",
        "assign",
        "start",
        "reply",
        "note",
        "log",
        "close",
        "reopen",
        "show",
        "list",
    ):
        assert f"### `hdcli {verb}`" in text
