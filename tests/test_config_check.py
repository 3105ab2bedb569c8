"""``hdcli config check``: every problem of a file, its profiles and the environment, by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpdesk import Helpdesk

from hdcli.config import check, key_lines

BROKEN = """\
# A helpdesk with mistakes in it.
user = "mmueller"

[tickets]
system_id = "abc"

[billing]
timezone = "Mars/Base"

[mail]
from_address = "helpdesk@smartwork.example"
notes = '''
a multi-line string: not a key = here
'''
addresses = [
  "a@smartwork.example",
  "nobody",
]

[mail.sources.in]
type = "imap"
host = "imap.smartwork.example"
port = 99999

[[routing.rules]]
agent = "mmueller"
subject = "drucker"

[[routing.rules]]
agent = "kkraus"
body = "(vpn"

[profiles.staging]
storage.url = "sqlite:///staging.db"
mail.outbound.transport = "pigeon"

[profiles.ci]
"billing".timezone = "Moon/Base"
"""

EXPECTED = [
    (5, "tickets.system_id", "expected two digits such as \"10\", not 'abc'"),
    (8, "billing.timezone", "unknown time zone 'Mars/Base'"),
    (12, "mail.notes", "unknown key"),
    (15, "mail.addresses", "item 2: expected a mail address"),
    (23, "mail.sources.in.port", "expected a port 1-65535, or 0 for the usual port, not 99999"),
    (31, "routing.rules[1].body", "not a regular expression"),
    (35, "profiles.staging.mail.outbound.transport", "unknown mail transport 'pigeon'"),
    (38, "profiles.ci.billing.timezone", "unknown time zone 'Moon/Base'"),
]


def test_check_finds_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN, encoding="utf-8")
    problems = check(path, env={})
    assert [(p.line, p.key) for p in problems] == [(line, key) for line, key, _ in EXPECTED]
    for problem, (_, _, message) in zip(problems, EXPECTED, strict=True):
        assert message in problem.message
        assert str(problem).startswith(f"{path}:{problem.line}: {problem.key}: ")


def test_config_check_command_prints_lines_and_exits_2(hd: Helpdesk) -> None:
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text(BROKEN, encoding="utf-8")
    proc = hd("config", "check")
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    assert lines[1] == (
        f"{hd.config}:8: billing.timezone: unknown time zone 'Mars/Base' "
        "(expected an IANA time zone such as Europe/Berlin)"
    )
    assert "8 problem(s)" in proc.stderr and "Traceback" not in proc.stderr
    # every other command refuses the file, with the first problem on one line
    listing = hd("list")
    assert listing.returncode == 2
    assert listing.stderr.startswith(f"hdcli: error: {hd.config}:5: tickets.system_id: ")
    assert len(listing.stderr.strip().splitlines()) == 1


def test_config_check_json_lists_objects(hd: Helpdesk) -> None:
    other = hd.root / "other.toml"
    other.write_text(BROKEN, encoding="utf-8")
    proc = hd("config", "check", "--config", str(other), "--format", "json")
    assert proc.returncode == 2
    found = json.loads(proc.stdout)
    assert found[0] == {
        "file": str(other),
        "line": 5,
        "key": "tickets.system_id",
        "message": "expected two digits such as \"10\", not 'abc'",
        "variable": None,
    }
    assert [(p["line"], p["key"]) for p in found] == [(line, key) for line, key, _ in EXPECTED]


def test_config_check_ok(hd: Helpdesk) -> None:
    proc = hd("config", "check")
    assert proc.returncode == 0
    assert proc.stderr.strip() == f"{hd.config} (not present: the defaults apply): OK"
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text(
        "[mail.sources.in]\ntype = 'maildir'\npath = '/srv/mail'\n"
        "[profiles.staging]\nbilling.timezone = 'Europe/Vienna'\n",
        encoding="utf-8",
    )
    proc = hd("config", "check", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    assert proc.stderr.strip() == f"{hd.config}: OK"


def test_config_check_names_the_environment_variable(hd: Helpdesk) -> None:
    proc = hd("config", "check", env={"HDCLI_MAIL__OUTBOUND__PORT": "smtp"})
    assert proc.returncode == 2
    assert proc.stdout.strip() == (
        "HDCLI_MAIL__OUTBOUND__PORT: mail.outbound.port: expected a whole number "
        "(a port 1-65535, or 0 for the usual port), not 'smtp'"
    )


def test_config_check_reports_a_toml_syntax_error_with_its_line(hd: Helpdesk) -> None:
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text("[mail]\nfrom_name = 'Helpdesk'\nport 25\n", encoding="utf-8")
    proc = hd("config", "check")
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"{hd.config}:3: not valid TOML: ")


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("a = 1\n[b]\nc = 2\n", "b.c", 3),
        ('[b]\n"quoted.key" = 1\nd.e = 2\n', "b.quoted.key", 2),
        ("[b]\nd.e = 2\n", "b.d.e", 2),
        ("[b]\nd.e = 2\n", "b.d", 2),
        ('s = """\nx = 1\n"""\ny = 2\n', "y", 4),
        ("s = '''one''' \ny = 2\n", "y", 2),
        ("arr = [\n  1, # ]\n  2,\n]\nz = 3\n", "z", 5),
        ("t = { a = 1, b = [2,\n 3] }\nz = 3\n", "z", 3),
        ('s = "a [ b"\nz = 3\n', "z", 2),
        ("[[r]]\na = 1\n[[r]]\na = 2\n", "r[1].a", 4),
        ("[[r]]\na = 1\n[[r]]\na = 2\n", "r", 1),
        ("[p.x]\n[p.x.y]\nk = 1\n", "p.x.y.k", 3),
    ],
)
def test_key_lines(text: str, key: str, line: int) -> None:
    assert key_lines(text)[key] == line


def _documented() -> dict[str, dict[str, str]]:
    """The key tables of docs/configuration.md: section heading -> key -> type column."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    tables: dict[str, dict[str, str]] = {}
    heading = ""
    for line in docs.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ").strip()
        elif line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables.setdefault(heading, {})[cells[0].strip("`")] = cells[1]
    return tables


def test_every_key_is_documented_with_its_type() -> None:
    from hdcli.config_schema import RULE_KEYS, SCHEMA, SOURCE_KEYS, SOURCE_TYPES, Key

    words = {str: "text", int: "whole number", float: "number", bool: "true/false", list: "list"}
    tables = _documented()

    def same(section: str, keys: dict[str, Key]) -> None:
        documented = tables[section]
        assert set(keys) <= set(documented), (section, set(keys) - set(documented))
        for key, spec in keys.items():
            assert documented[key] == words[spec.type], (section, key)

    same("Keys", SCHEMA)
    same("Mail sources", SOURCE_KEYS)
    for kind, keys in SOURCE_TYPES.items():
        same(f'`type = "{kind}"`', keys)
    same("Routing", RULE_KEYS)
    known = {*SCHEMA, "mail.sources.NAME.*", "routing.rules", "plugins.NAME.*"}
    assert set(tables["Keys"]) == known  # and no key that does not exist
