"""The kill -9 soak in its quick mode: 3 random kills, nothing lost, nothing twice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .paths import REPO


@pytest.mark.slow
def test_quick_kill_soak_loses_and_duplicates_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "soak_kill.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"kills": 3' in done.stdout and '"lost_rows": 0' in done.stdout
