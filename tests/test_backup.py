"""``facesight library backup DEST`` while ``facesight serve`` takes decisions
(``facesight/library/backup.py``): the backup is one consistent snapshot that opens,
passes SQLite's integrity check and the audit verification, and holds every crop its
rows name; it is private, and never written over an existing path."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from facesight.errors import InvalidInputError
from facesight.library.backup import backup_library

from .workspace import Server, copy_library, facesight, start_server, stop_server


def _decide_until(server: Server, stop: threading.Event, made: list[int], at: list[float]) -> None:
    """Confirm and reject the pending faces by turns, each on the state just read, until
    ``stop``; every decision's status goes into ``made``, the time it was answered into
    ``at``."""
    api = server.api("reviewer")
    faces = [item["face_id"] for item in api.get("/api/v1/queue").json()["items"]]
    turn = 0
    while not stop.is_set():
        face = faces[turn % len(faces)]
        state = api.get(f"/api/v1/faces/{face}").json()["state"]
        action = "reject" if state.startswith("confirmed") else "confirm"
        answer = api.post(
            f"/api/v1/faces/{face}/decision", json={"action": action, "expected": state}
        )
        made.append(answer.status_code)
        at.append(time.monotonic())
        turn += 1


def _modes(root: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def test_a_backup_taken_while_decisions_are_made_is_consistent_and_complete(
    workspace_library: Path, tmp_path: Path
) -> None:
    library = copy_library(workspace_library, tmp_path / "served")
    server = start_server(library)
    stop, made, at = threading.Event(), [], []
    writer = threading.Thread(target=_decide_until, args=(server, stop, made, at))
    try:
        writer.start()
        while len(made) < 3:  # the writer is deciding before the backup starts
            stop.wait(0.05)
        began = time.monotonic()
        backed = facesight(library, "library", "backup", str(tmp_path / "backup"))
        ended = time.monotonic()
        during = len(made)
        while len(made) < during + 3:  # and goes on after it
            stop.wait(0.05)
    finally:
        stop.set()
        writer.join(timeout=60)
        stop_server(server)
    assert backed.returncode == 0, backed.stderr
    assert "audit verified" in backed.stdout
    assert made and set(made) == {200}, made
    assert any(began < t < ended for t in at)  # the server decided while the backup ran
    backup = tmp_path / "backup"
    assert _modes(backup) <= {0o700, 0o600}
    with contextlib.closing(sqlite3.connect(backup / "facesight.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        crops = [
            str(row[0])
            for table in ("faces", "reference_faces")
            for row in conn.execute(f"SELECT crop_path FROM {table} WHERE crop_path IS NOT NULL")
        ]
        reviews = conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
        made_by = conn.execute("SELECT actor FROM audit_log WHERE action = 'library.backup'")
        assert len(made_by.fetchall()) == 1  # the backup holds the record of its own making
    assert crops and all((backup / crop).is_file() for crop in crops)
    with contextlib.closing(sqlite3.connect(library / "facesight.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] > reviews
    verified = facesight(backup, "audit", "verify")
    assert verified.returncode == 0 and "audit log intact" in verified.stdout, verified.stdout
    queue = facesight(backup, "review", "--json")
    assert queue.returncode == 0, queue.stderr


def test_a_backup_never_overwrites_and_a_postgresql_library_is_told_pg_dump(
    workspace_library: Path, tmp_path: Path
) -> None:
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    refused = facesight(workspace_library, "library", "backup", str(existing))
    assert refused.returncode == 1 and "exists" in refused.stderr
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInputError, match="pg_dump"):
        backup_library("postgresql://nobody@127.0.0.1:9/none", tmp_path / "b")
    assert not (tmp_path / "b").exists()
