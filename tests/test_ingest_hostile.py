"""Hostile mail through the MTA pipe (``hdcli mail ingest -``): whatever arrives, one result
line, no traceback, exit 0 (handled in any way) or 75 (try again), nothing written outside the
helpdesk's own files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ANNA = b"Anna Schmidt <anna.schmidt@muster.example>"

header_names = st.sampled_from(
    [
        b"From",
        b"To",
        b"Cc",
        b"Subject",
        b"Message-ID",
        b"In-Reply-To",
        b"References",
        b"Content-Type",
        b"Content-Transfer-Encoding",
        b"Content-Disposition",
        b"MIME-Version",
        b"Return-Path",
        b"Auto-Submitted",
        b"Precedence",
        b"Reply-To",
        b"Sender",
        b"X-Loop",
        b"Date",
    ]
)
nasty_values = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            ANNA,
            b"",
            b"<>",
            b"@muster.example",
            b'"\xc3\xa4\xff" <\xff@muster.example>',
            b"=?utf-8?b?PT91dGYtOD9xP2E9MEQ9MEFCY2M6X2V2aWxAZXZpbC5leGFtcGxlPz0=?=",
            b"=?x-unknown?q?=E4?=",
            b"multipart/mixed; boundary=",
            b'multipart/mixed; boundary="b"',
            b"text/plain; charset=punycode",
            b"text/plain; charset=utf-7",
            b"base64",
            b'attachment; filename="../../../etc/passwd"',
            b"attachment; filename*=utf-8''%E2%80%AEfdp.exe",
            b"auto-generated",
            b"bulk",
            b"\x1b]0;owned\x07\x1b[2J",
            b"<a@b> " * 50,
        ]
    ),
)
header_line = st.tuples(header_names, nasty_values).map(lambda h: h[0] + b": " + h[1])
bodies = st.one_of(
    st.binary(max_size=400),
    st.just(b"--b\r\nContent-Type: text/plain\r\n\r\nHallo\r\n--b--\r\n"),
    st.just(b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"),
)
messages = st.builds(
    lambda lead, headers, eol, body: lead + eol.join(headers) + eol + eol + body,
    st.sampled_from([b"", b"From MAILER-DAEMON Mon Jan  1 00:00:00 2026\n", b"---- x ----\r\n"]),
    st.lists(header_line, max_size=12),
    st.sampled_from([b"\r\n", b"\n", b"\r"]),
    bodies,
)


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=messages)
def test_whatever_arrives_is_handled_or_retried(hd: Any, tmp_path: Path, raw: bytes) -> None:
    if not hd.db.exists():  # one helpdesk for all examples: what earlier mail left counts too
        hd.seed()
    before = _files(tmp_path)
    proc = hd("mail", "ingest", "-", "--format", "jsonl", input=raw)
    assert proc.returncode in (0, 75), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, proc.stdout
        result = json.loads(lines[0])
        assert result["outcome"] in (
            "new",
            "followup",
            "duplicate",
            "ignored",
            "rejected",
            "quarantined",
        )
        if result["outcome"] == "quarantined":
            assert result["reason"]
    else:
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("hdcli: error: ")
    # Only the helpdesk's own files change: the store and the outbox.
    for new in _files(tmp_path) - before:
        assert new.parts[0] in ("outbox",) or new.name.startswith("hdcli.db"), new
