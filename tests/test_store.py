"""The library database: migrations, WAL, atomic writes, checked with SQL.

Tests taking ``open_any_store`` run twice: on SQLite and on PostgreSQL (``tests.postgres``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facesight.errors import InvalidInputError, NotFoundError, StoreError
from facesight.records import Candidate, MediaFailure
from facesight.store.migrations import MIGRATIONS, Migration, apply_migrations
from facesight.store.sqlite import FaceRow, MediaRow, Store
from facesight.vision.embed import DESCRIPTOR_LENGTH

OpenStore = Callable[..., Store]


def _unit(vector: np.ndarray) -> np.ndarray:
    """A descriptor of the length the store accepts (``embed.DESCRIPTOR_LENGTH``)."""
    return (vector / np.linalg.norm(vector) * DESCRIPTOR_LENGTH).astype(np.float32)


def _media(sha: str = "ab" * 32) -> MediaRow:
    return MediaRow(sha, "image", 640, 480, None, (1.5, -2.25), 1, "det:1", "emb:1")


def _face(index: int = 0) -> FaceRow:
    return FaceRow(
        frame=None,
        face_index=index,
        xyxy=np.array([1, 2, 30, 40], np.float32),
        kps5=np.arange(10, dtype=np.float32).reshape(5, 2),
        score=0.99,
        embedding=_unit(np.linspace(-1, 1, 128, dtype=np.float32)),
        crop_path=None,
        candidates=[],
    )


def test_store_new_file_is_wal_and_fully_migrated(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"
        versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in MIGRATIONS]


def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    ran: list[int] = []
    steps = (
        Migration(2, "second", lambda c: ran.append(2)),
        Migration(1, "first", "CREATE TABLE t (x INTEGER)"),
    )
    assert apply_migrations(conn, steps) == [1, 2]
    assert apply_migrations(conn, steps) == []
    assert ran == [2]


def test_failed_migration_rolls_back_entirely(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    bad = (Migration(1, "half", "CREATE TABLE a (x INTEGER); CREATE TABLE a (y INTEGER)"),)
    with pytest.raises(StoreError, match=r"migration 1 \(half\) failed and was rolled back"):
        apply_migrations(conn, bad)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" not in tables
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == 0


def test_postgresql_migrations_run_once_in_order_and_roll_back_whole(postgres_url: str) -> None:
    from facesight.store.postgres_connection import open_postgres

    conn = open_postgres(postgres_url)
    ran: list[int] = []
    steps = (
        Migration(2, "second", lambda c: ran.append(2)),
        Migration(1, "first", "CREATE TABLE t (x INTEGER, y REAL)"),
    )
    assert apply_migrations(conn, steps) == [1, 2]  # type: ignore[arg-type]
    assert apply_migrations(conn, steps) == []  # type: ignore[arg-type]
    assert ran == [2]
    # a portable step runs with SQLite's REAL widened to what SQLite stores (8 bytes)
    kind = (
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 't' AND column_name = 'y'"
    )
    assert conn.execute(kind).fetchone() == ("double precision",)
    bad = (*steps, Migration(3, "half", "CREATE TABLE a (x INTEGER); CREATE TABLE a (y INTEGER)"))
    with pytest.raises(StoreError, match=r"migration 3 \(half\) failed and was rolled back"):
        apply_migrations(conn, bad)  # type: ignore[arg-type]
    assert conn.execute("SELECT to_regclass('a')").fetchone() == (None,)
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (2,)
    conn.close()


def test_database_from_newer_facesight_is_refused(open_any_store: OpenStore) -> None:
    with open_any_store() as store, store.transaction() as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
    with pytest.raises(StoreError, match="schema version 99, newer than this facesight"):
        open_any_store()


def test_save_media_round_trips_vectors_and_gps(open_any_store: OpenStore) -> None:
    with open_any_store() as store:
        media_id = store.save_media("/a/b.jpg", _media(), [_face(0), _face(1)])
        assert store.media_id("ab" * 32) == media_id
        ids, vectors, qualities = store.face_embeddings()
        assert np.isnan(qualities).all()  # these test rows carry no quality
        assert len(ids) == 2
        np.testing.assert_array_equal(vectors[0], _face().embedding)
        [sighting, _] = store.sightings(None)
        assert sighting.gps == (1.5, -2.25)
        assert sighting.kps5[4] == (8.0, 9.0)
        assert sighting.path == "/a/b.jpg"


def test_save_media_is_atomic_when_a_face_fails(open_any_store: OpenStore) -> None:
    with open_any_store() as store:
        bogus = Candidate(999, "nobody", 999, "/x.jpg", 0.1, True, 0.6)  # no such person
        broken = FaceRow(**{**_face(1).__dict__, "candidates": [bogus]})
        with pytest.raises(sqlite3.IntegrityError):
            store.save_media("/a/b.jpg", _media(), [_face(0), broken])
        assert store.query("SELECT COUNT(*) AS n FROM media")[0]["n"] == 0
        assert store.query("SELECT COUNT(*) AS n FROM faces")[0]["n"] == 0


def test_media_failure_is_recorded_and_cleared_by_success(open_any_store: OpenStore) -> None:
    with open_any_store() as store:
        store.record_failure(MediaFailure("/a/b.jpg", "corrupt", "cannot decode"))
        assert store.failures() == [MediaFailure("/a/b.jpg", "corrupt", "cannot decode")]
        store.save_media("/a/b.jpg", _media(), [])
        assert store.failures() == []


def test_version_1_library_upgrades_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as conn:
        apply_migrations(conn, MIGRATIONS[:1])
        conn.execute("INSERT INTO people (name, created_at) VALUES ('Ada', 'then')")
    with Store(path) as store:
        versions = [r[0] for r in store.query("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in MIGRATIONS]
        assert store.query("SELECT name FROM people")[0]["name"] == "Ada"
        columns = {r["name"] for r in store.query("PRAGMA table_info(candidates)")}
        assert {"fmr", "reference_distance", "template_size"} <= columns


def test_sightings_page_through_faces_by_id_with_a_cursor(open_any_store: OpenStore) -> None:
    with open_any_store() as store:
        for n in range(3):  # 3 files of 2 faces: ids 1..6
            store.save_media(f"/a/{n}.jpg", _media(f"{n:02d}" * 32), [_face(0), _face(1)])
        seen: list[int] = []
        after = None
        pages = 0
        while True:
            page = store.sightings_page(None, after=after, limit=4)
            seen += [s.face_id for s in page.sightings]
            pages += 1
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == [1, 2, 3, 4, 5, 6]
        assert pages == 2
        # a full last page says there is no next one only when nothing follows
        assert store.sightings_page(None, after=2, limit=4).next_after is None
        assert store.sightings_page(None, after=6, limit=4).sightings == []
        with pytest.raises(InvalidInputError):
            store.sightings_page(None, limit=0)


def test_a_missing_person_is_one_clear_error(open_any_store: OpenStore) -> None:
    with open_any_store() as store:
        with store.transaction() as conn:
            added = store.add_person(conn, "Ada Lovelace")
        assert store.require_person("  ada   LOVELACE ") == added
        with pytest.raises(NotFoundError, match="nobody called 'Bob' is enrolled"):
            store.require_person("Bob")
