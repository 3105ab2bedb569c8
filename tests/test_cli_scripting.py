"""What scripts, cron and CI lean on: the acting agent, JSON errors, ``--fields``, a storage
URL that names no helpdesk, shell completion."""

from __future__ import annotations

import json

from helpdesk import Helpdesk


def test_as_must_name_an_active_agent_and_the_os_user_is_marked(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    proc = hd("--as", "nobody", "note", number, "-m", "x")
    assert proc.returncode == 3 and "--as 'nobody' is no active agent" in proc.stderr
    # a read names an active agent too: a typo in a script's --as is found on its first line
    listed = hd("--as", "nobody", "list", "-q")
    assert listed.returncode == 3 and listed.stdout == ""
    assert hd("--as", "mmueller", "list", "-q").stdout.strip() == number
    hd.ok("--as", "mmueller", "note", number, "-m", "von Max")
    hd.ok("note", number, "-m", "ohne --as")
    hd.env["HDCLI_USER"] = "mmueller"  # config user, from the environment
    hd.ok("note", number, "-m", "config user")
    actors = [e["actor"] for e in hd.json("show", number)["history"] if e["action"] == "noted"]
    assert actors[0] == "mmueller"
    assert actors[1].startswith("os:") and len(actors[1]) > 3
    assert actors[2] == "mmueller"


def test_errors_are_json_with_format_json_and_codes_stay(hd: Helpdesk) -> None:
    hd.seed()
    for args, code in (
        (("show", "2026112710999999", "--format", "json"), 3),
        (("show", "2026112710999999", "--json"), 3),
        (("list", "--status", "bogus", "-f", "jsonl"), 2),
        (("list", "--no-such-option", "--format=json"), 2),
    ):
        proc = hd(*args)
        assert proc.returncode == code, proc.stderr
        assert proc.stdout == ""
        assert json.loads(proc.stderr) == {"error": json.loads(proc.stderr)["error"], "code": code}
    plain = hd("show", "2026112710999999")
    assert plain.returncode == 3 and plain.stderr.startswith("hdcli: error: no ticket")


def test_fields_select_json_fields_and_unknown_ones_list_the_valid(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    rows = json.loads(hd.ok("list", "--json", "--fields", "number,status"))
    assert rows == [{"number": number, "status": "new"}]
    shown = json.loads(hd.ok("show", number, "--json", "--fields", "status,subject"))
    assert shown == {"status": "new", "subject": "Drucker druckt nicht"}
    assert hd.ok("list", "--format", "csv", "--fields", "number").split() == ["number", number]
    bad = hd("list", "--json", "--fields", "number,colour")
    assert bad.returncode == 2
    message = json.loads(bad.stderr)["error"]
    assert "colour" in message and "valid: number, status, subject" in message
    assert hd("show", number, "--fields", "nope").returncode == 2


def test_a_storage_url_without_a_helpdesk_is_an_error(hd: Helpdesk) -> None:
    typo = hd.root / "tpyo" / "hdcli.db"
    env = {"HDCLI_STORAGE__URL": f"sqlite:///{typo}"}
    for args in (("list",), ("show", "1"), ("db", "status")):
        proc = hd(*args, env=env)
        assert proc.returncode == 5, proc.stderr
        assert proc.stderr.count("\n") == 1
        assert str(typo.parent) in proc.stderr and "hdcli db upgrade creates it" in proc.stderr
    assert not typo.parent.exists()  # nothing was created
    assert hd("db", "upgrade", env=env).returncode == 0
    assert hd("list", "-q", env=env).returncode == 0


def test_shell_completion_is_offered(hd: Helpdesk) -> None:
    script = hd("--show-completion", "bash")
    assert script.returncode == 0 and "_HDCLI_COMPLETE" in script.stdout
    done = hd(env={"_HDCLI_COMPLETE": "complete_bash", "COMP_WORDS": "hdcli cl", "COMP_CWORD": "1"})
    assert done.returncode == 0 and "close" in done.stdout.split()
