"""``hdcli.testing.invoke``: a command line run in process sees what a subprocess would see,
and leaves the test process as it found it."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest
from helpdesk import Helpdesk
from test_plugins import fixture_site

from hdcli.testing import invoke


def test_the_run_sees_exactly_its_environment(
    hd: Helpdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HDCLI_MAIL__FROM_NAME", "Leaked In")  # not in hd.env: unset for the run
    monkeypatch.setenv("HDCLI_MAIL__DOMAIN", "leak.example")
    env = {k: v for k, v in hd.env.items() if k != "HDCLI_MAIL__FROM_NAME"}
    done = invoke(["config", "get", "mail.from_name"], env=env, cwd=hd.root)
    assert (done.returncode, done.stdout) == (0, "Helpdesk\n"), done.stderr
    done = invoke(["config", "get", "mail.domain"], env=env, cwd=hd.root)
    assert done.stdout.strip() != "leak.example"
    assert os.environ["HDCLI_MAIL__FROM_NAME"] == "Leaked In"  # back as it was


def test_process_state_is_restored(hd: Helpdesk, tmp_path: Path) -> None:
    cwd, path, env = os.getcwd(), list(sys.path), dict(os.environ)
    handlers, level = list(logging.getLogger().handlers), logging.getLogger().level
    stdin, stdout, stderr = sys.stdin, sys.stdout, sys.stderr
    hd.ok("org", "list")
    assert hd("show", "123", env={"HDCLI_DEBUG": "1"}).returncode == 1  # raised, printed
    assert (os.getcwd(), sys.path, dict(os.environ)) == (cwd, path, env)
    assert (logging.getLogger().handlers, logging.getLogger().level) == (handlers, level)
    assert (sys.stdin, sys.stdout, sys.stderr) == (stdin, stdout, stderr)


def test_stdin_splits_lines_at_newline_only_and_output_newlines_as_text_mode(
    hd: Helpdesk,
) -> None:
    hd.seed()
    number = hd.open()
    # a real process's stdin keeps \r\n (newline="\n" on POSIX); so does the run's
    hd.ok("--as", "mmueller", "note", number, "--body-file", "-", input="eins\r\nzwei\n")
    body = hd.json("show", number)["articles"][-1]["body"]
    assert "eins\r\nzwei" in body
    csv_text = hd.ok("list", "--format", "csv")
    assert "\r" not in csv_text  # subprocess.run(text=True) turns \r\n into \n


def test_a_plugin_on_pythonpath_is_found_by_the_run_and_gone_afterwards(
    hd: Helpdesk, tmp_path: Path
) -> None:
    from hdcli.plugins import pm

    site = fixture_site(tmp_path, "fixture")
    loaded = hd("hello", env={"PYTHONPATH": site, "HDCLI_LOAD_PLUGINS": "fixture"})
    assert loaded.stdout == "hello, world, from the fixture plugin\n", loaded.stderr
    assert pm.get_plugin("fixture") is None
    assert "hdcli_fixture" not in sys.modules
    assert not any(p in sys.path for p in site.split(os.pathsep))
    # the next run without it knows no such command
    assert hd("hello", env={"HDCLI_LOAD_PLUGINS": "fixture"}).returncode == 2


def test_bytes_input_reaches_stdin_buffer_unchanged(hd: Helpdesk) -> None:
    hd.seed()
    raw = (
        b"From: Anna Schmidt <anna.schmidt@muster.example>\r\n"
        b"To: helpdesk@smartwork.example\r\n"
        b"Subject: =?utf-8?q?Drucker_f=C3=A4llt_aus?=\r\n"
        b"Message-ID: <bytes-1@muster.example>\r\n"
        b"Content-Type: text/plain; charset=latin-1\r\n"
        b"\r\n"
        b"Gr\xfc\xdfe aus dem B\xfcro\r\n"
    )
    done = hd("mail", "ingest", "-", "--format", "jsonl", input=raw)
    assert done.returncode == 0, done.stderr
    number = json.loads(done.stdout)["ticket"]
    shown = hd.json("show", number)
    assert shown["subject"] == "Drucker fällt aus"
    assert "Grüße aus dem Büro" in shown["articles"][0]["body"]
