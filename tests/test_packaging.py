"""What a newcomer gets from `pip install .`: the wheel carries templates, migrations and fonts,
and `hdcli demo` runs a whole ticket's life."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpdesk import Helpdesk

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_carries_every_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(tmp_path.glob("hdcli-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for lang in ("de", "en"):
        for name in ("acknowledgement", "started", "reply", "service_report", "closed_notice"):
            assert f"hdcli/templates/{lang}/{name}.txt" in names
    assert any(n.startswith("hdcli/backends/migrations/0001_") for n in names)
    assert any(n.startswith("hdcli/fonts/") and n.endswith(".ttf") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_demo_runs_a_whole_ticket_life(hd: Helpdesk) -> None:
    out = hd.ok("demo", "--dir", str(hd.root / "demo"))
    assert "status closed" in out
    assert out.count("[Ticket#") == 4
    assert "Servicebericht" in out
    assert str(hd.root / "demo" / "outbox") in out
    # the user's own helpdesk is untouched
    assert not hd.db.exists()
