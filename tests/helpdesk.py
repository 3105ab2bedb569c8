"""The ``hd`` fixture: the real ``hdcli`` against a helpdesk in tmp_path.

A call runs the command line in this process (:func:`hdcli.testing.invoke`: ``hdcli.cli.run``
inside Typer's testing isolation, with the environment a subprocess would get). That is what
most tests need, and it costs milliseconds where a Python process costs a third of a second.
Tests whose point is the process itself (start-up imports, exit codes seen by an MTA, a killed run,
concurrent writers) pass ``process=True`` (or call :meth:`Helpdesk.spawn`) to run
``python -m hdcli`` as before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from hdcli.testing import invoke

#: Variables of :attr:`Helpdesk.env` that name the helpdesk's own folders and files.
OWN_PATHS = (
    "HDCLI_CONFIG",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HDCLI_STORAGE__URL",
    "HDCLI_MAIL__OUTBOUND__PATH",
)


class SeededStore:
    """The SQLite file that :meth:`Helpdesk.seed` makes, made once per session by running the
    seed commands in a helpdesk of its own; later seeds copy the file."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._made: tuple[Path, dict[str, str]] | None = None

    def copy_to(self, hd: Helpdesk) -> bool:
        """Copy the seeded store into ``hd``; False (nothing done) when ``hd`` would not seed
        to the same file: its environment differs, or it has a config file or a store."""
        if self._made is None:
            maker = Helpdesk(self._factory.mktemp("seeded"))
            maker.seed_by_commands()
            self._made = (maker.db, maker.portable_env())
        db, env = self._made
        if hd.portable_env() != env or hd.config.exists() or any(hd.root.glob("hdcli.db*")):
            return False
        if hd.env["HDCLI_STORAGE__URL"] != f"sqlite:///{hd.db}":
            return False
        shutil.copyfile(db, hd.db)
        return True


class Helpdesk:
    """A throwaway helpdesk: SQLite in ``root``, Maildir outbox in ``root/outbox``."""

    def __init__(self, root: Path, seeded: SeededStore | None = None) -> None:
        self.root = root
        self._seeded = seeded
        self.config = root / "config" / "hdcli" / "config.toml"
        self.outbox = root / "outbox"
        self.db = root / "hdcli.db"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HDCLI_") or k == "HDCLI_TEST_POSTGRES_URL"
        }
        self.env.update(
            {
                "HDCLI_CONFIG": str(self.config),
                "XDG_CONFIG_HOME": str(root / "config"),
                "XDG_DATA_HOME": str(root / "data"),
                "HDCLI_STORAGE__URL": f"sqlite:///{self.db}",
                "HDCLI_MAIL__OUTBOUND__PATH": str(self.outbox),
                "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
                "HDCLI_MAIL__FROM_NAME": "SmartWork Helpdesk",
                "HDCLI_LOAD_PLUGINS": "",
                "NO_COLOR": "1",
            }
        )

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        check: bool = False,
        env: dict[str, str] | None = None,
        process: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``hdcli ARGS`` (in process; in a ``python -m hdcli`` subprocess with
        ``process=True``). ``env`` adds to :attr:`env` for this run."""
        run_env = {**self.env, **(env or {})}
        if process:
            proc = self._spawn(args, input, run_env)
        else:
            proc = invoke(args, env=run_env, cwd=self.root, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"hdcli {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def spawn(
        self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``hdcli ARGS`` in a real ``python -m hdcli`` process."""
        return self(*args, input=input, env=env, process=True)

    def _spawn(
        self, args: Sequence[str], input: str | bytes | None, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "hdcli", *args],
            input=input,
            capture_output=True,
            text=not isinstance(input, bytes),
            env=env,
            cwd=self.root,
            timeout=120,
        )
        if isinstance(proc.stdout, bytes):
            proc = subprocess.CompletedProcess(
                proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
            )
        return proc

    def ok(self, *args: str, input: str | bytes | None = None) -> str:
        """Run and require exit 0; return stdout."""
        return self(*args, input=input, check=True).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json"))

    def portable_env(self) -> dict[str, str]:
        """:attr:`env` without the variables naming this helpdesk's own paths."""
        return {k: v for k, v in self.env.items() if k not in OWN_PATHS}

    def seed(self) -> None:
        """Muster GmbH (muster.example, hourly 95 EUR, 15m), Anna Schmidt (main, approver),
        agent mmueller "Max Müller".

        A fresh helpdesk with the default environment gets a copy of the store these commands
        made earlier in the session (the same rows; only the timestamps are older); any other
        runs the commands (:meth:`seed_by_commands`).
        """
        if self._seeded is None or not self._seeded.copy_to(self):
            self.seed_by_commands()

    def seed_by_commands(self) -> None:
        """:meth:`seed` by running ``org add``, ``contract add``, ``contact add``, ``agent add``."""
        self.ok("org", "add", "Muster GmbH", "--kind", "company", "--domain", "muster.example")
        self.ok(
            "contract",
            "add",
            "Muster GmbH",
            "--number",
            "RV-1",
            "--billing",
            "hourly",
            "--rate",
            "95",
            "--increment",
            "15m",
        )
        self.ok(
            "contact",
            "add",
            "Muster GmbH",
            "--name",
            "Anna Schmidt",
            "--email",
            "anna.schmidt@muster.example",
            "--role",
            "main",
            "--role",
            "approver",
        )
        self.ok(
            "agent",
            "add",
            "mmueller",
            "--name",
            "Max Müller",
            "--email",
            "max.mueller@smartwork.example",
        )

    def open(
        self,
        subject: str = "Drucker druckt nicht",
        contact: str = "anna.schmidt@muster.example",
        *extra: str,
    ) -> str:
        return self.ok(
            "open", "--contact", contact, "--subject", subject, "--body", "Hilfe", "-q", *extra
        ).strip()

    def mails(self) -> list[EmailMessage]:
        """Every mail in the outbox, oldest first."""
        new = self.outbox / "new"
        if not new.exists():
            return []
        parser = BytesParser(policy=policy.default)
        files = sorted(new.iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [parser.parsebytes(p.read_bytes()) for p in files]  # type: ignore[misc]


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    return SeededStore(tmp_path_factory)


@pytest.fixture
def hd(tmp_path: Path, seeded_store: SeededStore) -> Iterator[Helpdesk]:
    yield Helpdesk(tmp_path, seeded_store)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_hd(request: pytest.FixtureRequest, hd: Helpdesk) -> Iterator[Helpdesk]:
    """``hd`` seeded, on SQLite or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        hd.seed()
        yield hd
        return
    from hdcli.backends.testing import postgres_schema

    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        hd.env["HDCLI_STORAGE__URL"] = url
        hd.seed()
        yield hd
