"""docs/cli.md is generated from --help and must be current."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


#: ``Example: hdcli …``, or ``Example (cron): * * * * * hdcli …`` with a word on where it goes.
EXAMPLE = re.compile(r"^\s*Example( \([^)\n]*\))?: .*\bhdcli\b", re.M)


def _commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield f"{path} {name}", sub
        yield from _commands(sub, f"{path} {name}")


def test_every_command_and_sub_command_has_an_example_in_its_help() -> None:
    import typer

    from hdcli.cli import build

    commands = dict(_commands(typer.main.get_command(build()), "hdcli"))
    assert {"hdcli org", "hdcli org list", "hdcli mail flush"} <= commands.keys()
    missing = [path for path, cmd in commands.items() if not EXAMPLE.search(cmd.help or "")]
    assert missing == [], "no 'Example: hdcli …' in the --help of: " + ", ".join(missing)
