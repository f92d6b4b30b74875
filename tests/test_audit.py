"""The audit log's hash chain: tampering is found, erasure is not tampering.

Each test writes a real log in a real SQLite library, changes it the way an
intruder with the database file would (``sqlite3`` directly, triggers dropped
first), and checks that ``AuditLog.verify`` and ``facesight audit verify``
name the first broken record.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import facesight
from facesight.errors import MediaError
from facesight.library.facade import Library
from facesight.library.reports import export_report, report_rows
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.migrations import MIGRATIONS, apply_migrations
from facesight.store.sqlite import Store
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))


def _log(tmp_path: Path, records: int = 5) -> Path:
    """A library database holding ``records`` audit records, paths and notes included."""
    db = tmp_path / "lib" / Library.DB_NAME
    db.parent.mkdir(parents=True)
    store = Store(db)
    log = AuditLog(store.connection, "alice")
    for i in range(records):
        with store.transaction() as conn:
            log.record(
                conn,
                AuditAction.REVIEW_CONFIRM,
                faces=[i + 1],
                people=[1],
                paths=[f"/photos/Jane_Roe_{i}.jpg"],
                details=f"note {i}",
            )
    store.close()
    return db


def _verify(db: Path, head: str | None = None) -> list[str]:
    store = Store(db)
    try:
        log = AuditLog(store.connection)
        log.ensure_triggers()
        return [str(p) for p in log.verify(head).problems]
    finally:
        store.close()


def _head(db: Path) -> str:
    store = Store(db)
    try:
        return AuditLog(store.connection).head()
    finally:
        store.close()


def _tamper(db: Path, sql: str, *, restore_triggers: bool) -> None:
    """Run ``sql`` as an intruder: drop the triggers, change, and (if asked) put them back."""
    conn = sqlite3.connect(db, isolation_level=None)
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    ).fetchall()
    assert len(triggers) == 2
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql)
    if restore_triggers:
        for _, create in triggers:
            conn.execute(create)
    conn.close()


def test_an_untouched_log_verifies_and_its_head_is_the_last_records_hash(tmp_path: Path) -> None:
    db = _log(tmp_path)
    assert _verify(db) == []
    head = _head(db)
    assert len(head) == 64 and _verify(db, head) == []
    last = sqlite3.connect(db).execute("SELECT hash FROM audit_log ORDER BY id DESC").fetchone()
    assert last == (head,)


def test_a_changed_row_is_named(tmp_path: Path) -> None:
    db = _log(tmp_path)
    _tamper(db, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3", restore_triggers=True)
    problems = _verify(db)
    assert problems and problems[0].startswith("record 3:"), problems


def test_a_changed_path_is_named_even_with_its_hash_untouched(tmp_path: Path) -> None:
    db = _log(tmp_path)
    _tamper(db, "UPDATE audit_log SET paths = '[\"/x.jpg\"]' WHERE id = 2", restore_triggers=True)
    problems = _verify(db)
    assert problems and problems[0].startswith("record 2:") and "paths" in problems[0]


def test_a_deleted_middle_row_is_named(tmp_path: Path) -> None:
    db = _log(tmp_path)
    _tamper(db, "DELETE FROM audit_log WHERE id = 3", restore_triggers=True)
    problems = _verify(db)
    assert problems and problems[0].startswith("record 4:") and "3" in problems[0], problems


def test_deleted_last_rows_are_caught_only_against_a_kept_head(tmp_path: Path) -> None:
    db = _log(tmp_path)
    kept = _head(db)
    _tamper(db, "DELETE FROM audit_log WHERE id >= 4", restore_triggers=True)
    assert _verify(db) == []  # a shortened chain is still a chain
    problems = _verify(db, kept)
    assert problems and kept[:12] in problems[0] and "record 3" in problems[0], problems


def test_a_dropped_trigger_is_restored_at_open_and_reported_by_verify(tmp_path: Path) -> None:
    db = _log(tmp_path)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.close()
    problems = _verify(db)  # opening restores the trigger and records that it had to
    assert problems and problems[0].startswith("record 6:") and "trigger" in problems[0]
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE id = 1")
    assert _verify(db) == problems  # restored once, reported for good


def test_only_the_erasure_update_passes_the_trigger(tmp_path: Path) -> None:
    db = _log(tmp_path)
    conn = sqlite3.connect(db, isolation_level=None)
    for refused in (
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 1",
        "UPDATE audit_log SET paths = '[]' WHERE id = 1",
        "UPDATE audit_log SET details = 'other note' WHERE id = 1",
        "UPDATE audit_log SET paths = NULL, paths_commit = NULL WHERE id = 1",
        "UPDATE audit_log SET details_salt = 'ab' WHERE id = 1",
        "UPDATE audit_log SET hash = 'x' WHERE id = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(refused)
    conn.execute(
        "UPDATE audit_log SET paths = NULL, paths_salt = NULL, details = NULL,"
        " details_salt = NULL WHERE id = 2"
    )
    conn.close()
    # the chain holds, but a blanking that no erasure record explains is named
    assert _verify(db) == [
        "record 2: its paths or details were blanked, but no erasure record lists it"
    ]


def test_records_of_an_older_library_are_chained_by_the_migration(tmp_path: Path) -> None:
    db = tmp_path / Library.DB_NAME
    conn = sqlite3.connect(db, isolation_level=None)
    apply_migrations(conn, tuple(m for m in MIGRATIONS if m.version <= 4))
    for at, items, details in (
        ("2026-01-01T00:00:00+00:00", {"people": [1]}, "2 reference image(s)"),
        ("2026-01-02T00:00:00+00:00", {"faces": [4], "paths": ["/r/Jane_Roe.html"]}, ""),
    ):
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, items, details) VALUES (?, 'bob', ?, ?, ?)",
            (at, "export.report", json.dumps(items), details),
        )
    conn.close()
    assert _verify(db) == []
    store = Store(db)
    old = sorted(AuditLog(store.connection).records(), key=lambda r: r.id)
    store.close()
    assert [r.items.get("paths") for r in old] == [None, ["/r/Jane_Roe.html"]]
    assert [(r.actor, r.os_user, r.details) for r in old] == [
        ("bob", None, "2 reference image(s)"),
        ("bob", None, ""),
    ]


def test_a_path_is_committed_with_a_salt_so_erasure_keeps_the_chain(tmp_path: Path) -> None:
    db = _log(tmp_path, 1)
    row = sqlite3.connect(db).execute("SELECT paths, paths_salt, paths_commit FROM audit_log")
    paths, salt, commit = row.fetchone()
    assert commit == hashlib.sha256(bytes.fromhex(salt) + paths.encode()).hexdigest()


def test_the_os_account_and_the_claimed_name_are_both_recorded(tmp_path: Path) -> None:
    db = _log(tmp_path, 1)
    store = Store(db)
    (record,) = AuditLog(store.connection).records()
    store.close()
    account = pwd.getpwuid(os.geteuid()).pw_name
    assert (record.os_user, record.claimed_user, record.actor) == (account, "alice", "alice")
    assert record.version == facesight.__version__


# -- with a real library: scans, forget, the command line ------------------------------


def _cli(
    library: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    return subprocess.run(command, env=full, capture_output=True, text=True, check=False)


def test_a_scan_is_audited_with_its_roots_counts_and_users(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    bad = tmp_path / "empty.jpg"  # a file that fails (a missing root is refused outright)
    bad.write_bytes(b"")
    with Library(tmp_path / "lib", detector=detector, embedder=embedder, actor="erin") as lib:
        summary = lib.scan([OBAMA[0], bad])
        (record,) = lib.audit.records(action="scan")
    assert record.items["paths"] == [str(OBAMA[0]), str(bad)]
    assert record.items["counts"] == {
        "media_scanned": summary.media_scanned,
        "faces_found": summary.faces_found,
        "failures": len(summary.failures),
    }
    assert summary.media_scanned == 1 and len(summary.failures) == 1
    assert record.claimed_user == "erin" and record.os_user == pwd.getpwuid(os.geteuid()).pw_name


def test_a_scan_stopped_by_a_bad_file_is_audited_too(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as lib:
        with pytest.raises(MediaError):
            lib.scan([bad], stop_on_error=True)
        (record,) = lib.audit.records(action="scan")
    assert record.items["counts"]["failures"] == 1 and record.details.startswith("stopped:")
    assert record.claimed_user is None and record.actor == record.os_user


def test_audit_head_and_verify_on_the_command_line(tmp_path: Path) -> None:
    db = _log(tmp_path)
    library = db.parent
    head = _cli(library, "audit", "head")
    assert head.returncode == 0, head.stderr
    kept = head.stdout.strip()
    assert kept == _head(db)
    ok = _cli(library, "audit", "verify", "--head", kept)
    assert ok.returncode == 0 and "5 record(s)" in ok.stdout, ok.stdout + ok.stderr
    _tamper(db, "DELETE FROM audit_log WHERE id = 5", restore_triggers=True)
    assert _cli(library, "audit", "verify").returncode == 0
    broken = _cli(library, "audit", "verify", "--head", kept)
    assert broken.returncode != 0 and "record 4" in broken.stderr, broken.stderr
    listing = _cli(library, "audit", "--json", env={"FACESIGHT_USER": "frank"})
    rows = json.loads(listing.stdout)
    assert {"os_user", "claimed_user", "version", "hash"} <= set(rows[0])


def _raw(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_forget_blanks_names_in_audit_paths_and_the_chain_still_verifies(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    root = tmp_path / "lib"
    with Library(root, detector=detector, embedder=embedder, actor="gina") as lib:
        lib.enroll("Barack Obama", OBAMA[:1])
        lib.scan(OBAMA[1:2])
        kept = lib.audit.head()
        face = lib.pending()[0].face_id
        lib.confirm(face, note="Barack Obama at the rally")
        lib.search_face(OBAMA[2])
        found = lib.sightings("Barack Obama")
        lib.write_frames(found, tmp_path / "Barack Obama frames")
        rows = report_rows(lib, "Barack Obama")
        export_report(lib, rows, csv=tmp_path / "obama-report.csv", title="t", rule="r")
        lib.forget("Barack Obama")
        verification = lib.audit.verify(kept)
        assert verification.ok, verification.problems
        (forget,) = lib.audit.records(action="forget")
        # the enrollment's, the scan's, the review's, the search's and both exports'
        assert len(forget.items["records"]) == 6, forget.items
    audit = sqlite3.connect(root / Library.DB_NAME).execute("SELECT * FROM audit_log").fetchall()
    assert "obama" not in repr(audit).lower() and "gina" in repr(audit)
    # the scanned file's own path stays (media_paths, "Barack_Obama/"): docs/review.md says so;
    # the blanked values are overwritten in the files, not just unlinked from the rows
    raw = _raw(root)
    for gone in (b"Barack Obama", b"obama-report", b"at the rally"):
        assert gone not in raw, gone
    assert _cli(root, "audit", "verify", "--head", kept).returncode == 0


def test_forget_with_sightings_erases_the_confirmed_faces_and_their_crops(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    for i, photo in enumerate(OBAMA[1:4]):
        shutil.copy(photo, collection / f"img{i}.jpg")  # file names without the name
    root = tmp_path / "lib"
    with Library(root, detector=detector, embedder=embedder) as lib:
        lib.enroll("Barack Obama", OBAMA[:1])
        lib.scan([collection])
        sightings = lib.sightings("Barack Obama")
        assert len(sightings) >= 2
        for s in sightings:
            lib.confirm(s.face_id)
        lib.face_index()  # the index files hold every descriptor too
        ids = [s.face_id for s in sightings]
        faces = lib.store.query(
            f"SELECT id, embedding, crop_path FROM faces WHERE id IN ({','.join('?' * len(ids))})",
            ids,
        )
        result = lib.forget("Barack Obama", with_sightings=True)
        assert result.faces_removed == len(sightings)
        assert lib.store.query("SELECT COUNT(*) AS n FROM faces")[0]["n"] == 0
        assert lib.audit.verify().ok
    raw = _raw(root)
    dump = "\n".join(sqlite3.connect(root / Library.DB_NAME).iterdump())
    assert b"obama" not in raw.lower() and "obama" not in dump.lower()
    for face in faces:
        assert face["embedding"] not in raw
        vector = np.frombuffer(face["embedding"], np.float32)
        assert vector.astype(np.float32).tobytes()[:64] not in raw
        assert not (root / face["crop_path"]).exists() and not Path(face["crop_path"]).exists()


def test_records_page_newest_first_by_id(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    # the API's audit pages (GET /api/v1/audit?after=): records older than ``before``
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        with library.store.transaction() as conn:
            for face in range(1, 6):
                library.audit.record(conn, AuditAction.REVIEW_REJECT, faces=[face])
        newest = library.audit_records(limit=2)
        assert [r.items["faces"] for r in newest] == [[5], [4]]
        older = library.audit_records(before=newest[-1].id, limit=2)
        assert [r.items["faces"] for r in older] == [[3], [2]]
        rest = library.audit_records(action="review", before=older[-1].id)
        assert [r.items["faces"] for r in rest] == [[1]]
        assert library.audit_records(before=rest[-1].id, action="review") == []
