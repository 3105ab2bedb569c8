"""Files and folders hdcli creates are private to its user (0600 / 0700), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpdesk import Helpdesk

from hdcli.backends.sqlite import SqliteStorage
from hdcli.util import private_dir, private_file, write_private


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """The usual umask, which leaves new files readable by everyone (children inherit it)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes_under(root: Path) -> dict[str, str]:
    """Every file and folder below ``root`` that is not private: relative path -> octal mode."""
    wrong: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(folder) / name
            if mode(path) != 0o700:
                wrong[str(path.relative_to(root)) + "/"] = oct(mode(path))
        for name in files:
            path = Path(folder) / name
            if mode(path) != 0o600:
                wrong[str(path.relative_to(root))] = oct(mode(path))
    return wrong


def test_a_fresh_helpdesk_is_private(tmp_path: Path) -> None:
    """The embedded default on a fresh machine: database (and its lock files) in the user
    data dir, the Maildir outbox beside it, a config file, a service report PDF."""
    hd = Helpdesk(tmp_path)
    del hd.env["HDCLI_STORAGE__URL"], hd.env["HDCLI_MAIL__OUTBOUND__PATH"]
    hd.ok("config", "set", "user", "mmueller")
    hd.ok("db", "upgrade")  # a fresh machine: db upgrade makes the helpdesk
    hd.seed()
    number = hd.open()
    hd.ok("--as", "mmueller", "log", number, "30m")
    hd.ok("report", "service", number, "--format", "pdf", "-o", "x.pdf")

    data = tmp_path / "data" / "hdcli"
    assert (data / "hdcli.db").is_file()
    assert list((data / "outbox" / "new").iterdir())  # the acknowledgement
    assert (tmp_path / "config" / "hdcli" / "config.toml").is_file()
    assert (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
    assert modes_under(tmp_path) == {}


def test_wal_and_shm_files_follow_the_database(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'db' / 'hdcli.db'}")
    try:
        store.ensure_schema()
        store.execute(
            "INSERT INTO organisations (name, kind, created_at) VALUES ('A', 'company', ?)",
            ("2026-01-01T00:00:00Z",),
        )
        with store.lock("fetch"):
            pass
        names = {p.name for p in (tmp_path / "db").iterdir()}
        assert {"hdcli.db", "hdcli.db-wal", "hdcli.db-shm", "hdcli.db.fetch.lock"} <= names
        assert modes_under(tmp_path) == {}
    finally:
        store.close()


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    """An admin may share the database with the MTA's user through a group on purpose."""
    SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}").close()
    os.chmod(tmp_path / "hdcli.db", 0o660)
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    try:
        store.ensure_schema()
        assert mode(tmp_path / "hdcli.db") == 0o660
    finally:
        store.close()


def test_an_output_file_that_existed_is_narrowed(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    target = hd.root / "bericht.md"
    target.write_text("old")
    os.chmod(target, 0o644)
    hd.ok("report", "service", number, "--format", "md", "-o", str(target))
    assert mode(target) == 0o600
    assert number in target.read_text()


def test_an_unwritable_output_is_one_error_line(hd: Helpdesk) -> None:
    hd.seed()
    number = hd.open()
    proc = hd("report", "service", number, "-o", str(hd.root / "missing" / "x.txt"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("hdcli: error: cannot write ")
    assert "Traceback" not in proc.stderr


def test_the_file_outbox_is_private(hd: Helpdesk) -> None:
    hd.env["HDCLI_MAIL__OUTBOUND__TRANSPORT"] = "file"
    hd.env["HDCLI_MAIL__OUTBOUND__PATH"] = str(hd.root / "out" / "eml")
    hd.seed()
    hd.open()
    assert [p.suffix for p in (hd.root / "out" / "eml").iterdir()] == [".eml"]
    assert modes_under(hd.root / "out") == {}
    assert mode(hd.root / "out") == 0o700


def test_helpers_ignore_even_a_strict_umask(tmp_path: Path) -> None:
    os.umask(0o277)  # would leave new files read-only and folders unwritable
    private_dir(tmp_path / "a" / "b")
    fd = private_file(tmp_path / "a" / "b" / "f")
    os.close(fd)
    write_private(tmp_path / "a" / "g", b"x")
    assert modes_under(tmp_path) == {}


def test_private_dir_leaves_existing_folders_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    (tmp_path / "shared").mkdir(mode=0o750)
    private_dir(tmp_path / "shared" / "own")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "shared") == 0o750
    assert mode(tmp_path / "shared" / "own") == 0o700
    private_dir(tmp_path / "shared" / "own")  # already there: no error
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        private_dir(tmp_path / "file")
