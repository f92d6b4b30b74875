"""Ordered, transactional schema migrations for the library database.

Each migration runs once, inside one transaction together with the record
of it having run, so a crash leaves the database either before or after a
migration, never half-way. Add new migrations at the end; never edit one
that has shipped.

One list serves SQLite and PostgreSQL, with the same version numbers. A step in the
portable subset (``INTEGER``, ``TEXT``, ``REAL``, ``BLOB``, ``ON CONFLICT ... DO
NOTHING``) runs on both: PostgreSQL runs it through ``postgres_schema.to_postgres``. A
step that cannot be portable (a function of SQLite's catalog, a trigger, a new table
whose ``id`` the database numbers) names its PostgreSQL SQL in ``postgres``
(``store.postgres_schema``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facesight.clock import utc_now_iso
from facesight.errors import StoreError
from facesight.store.accounts import SCHEMA as ACCOUNTS
from facesight.store.audit_chain import TABLE, TRIGGERS, chain_existing
from facesight.store.changes import SCHEMA as CHANGES
from facesight.store.changes import SQLITE_TRIGGERS as CHANGES_COUNTED
from facesight.store.collections import SCHEMA as COLLECTIONS
from facesight.store.crop_paths import migrated_crop_path
from facesight.store.imported_tags import IMPORTED_TAGS_SQL
from facesight.store.jobs import SCHEMA as JOBS
from facesight.store.people import FORMER_NAMES
from facesight.store.postgres_schema import CHAINED_AUDIT, INITIAL, REVIEW, to_postgres
from facesight.store.queue import QUEUE_INDEXES
from facesight.store.scan_chunks import SCHEMA as SCAN_CHUNKS

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "check_migrations"]


@dataclass(frozen=True)
class Migration:
    """One schema step: a version number, a name, and the SQL script or function to run;
    ``postgres``: what PostgreSQL runs instead (None: ``apply``, through ``to_postgres``
    when it is SQL; "": nothing)."""

    version: int
    name: str
    apply: str | Callable[[sqlite3.Connection], None]
    postgres: str | Callable[[sqlite3.Connection], None] | None = None

    def step_for(self, conn: sqlite3.Connection) -> str | Callable[[sqlite3.Connection], None]:
        """What runs on this connection's database."""
        if getattr(conn, "dialect", "sqlite") != "postgresql":
            return self.apply
        if self.postgres is not None:
            return self.postgres
        return to_postgres(self.apply) if isinstance(self.apply, str) else self.apply


_INITIAL = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL
);
CREATE TABLE reference_faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    source_path TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    kps5 BLOB NOT NULL,
    score REAL NOT NULL,
    embedding BLOB NOT NULL,
    crop_path TEXT,
    warnings TEXT NOT NULL DEFAULT '',
    detector TEXT NOT NULL,
    embedder TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (person_id, source_sha256)
);
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    captured_at TEXT,
    gps_lat REAL,
    gps_lon REAL,
    face_count INTEGER NOT NULL,
    detector TEXT NOT NULL,
    embedder TEXT NOT NULL,
    scanned_at TEXT NOT NULL
);
CREATE TABLE media_paths (
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (media_id, path)
);
CREATE INDEX media_paths_by_path ON media_paths(path);
CREATE TABLE faces (
    id INTEGER PRIMARY KEY,
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    frame INTEGER,
    face_index INTEGER NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    kps5 BLOB NOT NULL,
    score REAL NOT NULL,
    embedding BLOB NOT NULL,
    crop_path TEXT
);
CREATE UNIQUE INDEX faces_unique ON faces(media_id, IFNULL(frame, -1), face_index);
CREATE TABLE candidates (
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    reference_id INTEGER NOT NULL REFERENCES reference_faces(id) ON DELETE CASCADE,
    distance REAL NOT NULL,
    is_match INTEGER NOT NULL,
    max_distance REAL NOT NULL,
    PRIMARY KEY (face_id, rank)
);
CREATE INDEX candidates_by_person ON candidates(person_id, is_match);
CREATE TABLE media_errors (
    path TEXT PRIMARY KEY,
    sha256 TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

_CALIBRATED = """
ALTER TABLE candidates ADD COLUMN fmr REAL;
ALTER TABLE candidates ADD COLUMN reference_distance REAL;
ALTER TABLE candidates ADD COLUMN template_size INTEGER NOT NULL DEFAULT 1;
ALTER TABLE faces ADD COLUMN quality REAL;
ALTER TABLE faces ADD COLUMN quality_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE reference_faces ADD COLUMN quality REAL;
CREATE INDEX candidates_by_rank ON candidates(rank, person_id, fmr)
"""

_VIDEO = """
ALTER TABLE media ADD COLUMN duration_s REAL;
ALTER TABLE faces ADD COLUMN time_s REAL;
ALTER TABLE faces ADD COLUMN start_s REAL;
ALTER TABLE faces ADD COLUMN end_s REAL;
ALTER TABLE faces ADD COLUMN frames_seen INTEGER
"""

_REVIEW = """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    items TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_action ON audit_log(action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    decision TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    reviewer TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reviews_by_face ON reviews(face_id, id);
CREATE INDEX reviews_by_person ON reviews(person_id, decision);
CREATE TABLE unknown_clusters (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE unknown_members (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL REFERENCES unknown_clusters(id) ON DELETE CASCADE
);
CREATE INDEX unknown_members_by_cluster ON unknown_members(cluster_id);
CREATE TABLE unknown_exclusions (
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (face_id, cluster_id)
);
CREATE TABLE distinct_people (
    person_a INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    person_b INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (person_a, person_b),
    CHECK (person_a < person_b)
)
"""


def _chained_audit(conn: sqlite3.Connection) -> None:
    """Rebuild the audit log as a hash chain (see ``facesight.store.audit_chain``).

    Existing records are chained in id order (renumbered 1, 2, ... when
    they were not), their paths moved into the erasable field.
    """
    cursor = conn.execute("SELECT id, at, actor, action, items, details FROM audit_log ORDER BY id")
    cursor.row_factory = sqlite3.Row
    old = cursor.fetchall()
    conn.execute("DROP TABLE audit_log")  # its index and triggers go with it
    conn.execute(TABLE)
    conn.execute("CREATE INDEX audit_log_by_action ON audit_log(action, id)")
    chain_existing(conn, old)
    for create in TRIGGERS.values():
        conn.execute(create)


def _relative_crop_paths(conn: sqlite3.Connection) -> None:
    """Crop paths stored as ``--library`` was typed become relative to the library."""
    files = [str(r[2]) for r in conn.execute("PRAGMA database_list") if r[1] == "main"]
    root = Path(files[0]).parent if files and files[0] else None
    for table in ("faces", "reference_faces"):
        rows = conn.execute(
            f"SELECT id, crop_path FROM {table} WHERE crop_path IS NOT NULL"
        ).fetchall()
        for row_id, value in rows:
            moved = migrated_crop_path(root, str(value))
            if moved != value:
                conn.execute(f"UPDATE {table} SET crop_path = ? WHERE id = ?", (moved, row_id))


_MODELS = """
CREATE TABLE models (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    input_px INTEGER NOT NULL,
    align TEXT NOT NULL,
    mean REAL NOT NULL,
    std REAL NOT NULL,
    bgr INTEGER NOT NULL,
    distance TEXT NOT NULL,
    length INTEGER NOT NULL,
    calibration TEXT,
    added_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0
);
"""
# ``active``: at most one row is 1 (store.models.set_active); none: the built-in dlib model.


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL, INITIAL),
    Migration(2, "calibrated candidates and face quality", _CALIBRATED),
    Migration(3, "video: durations and face tracks' time ranges", _VIDEO),
    Migration(4, "review decisions, audit log, unknown people, people told apart", _REVIEW, REVIEW),
    Migration(
        5,
        "audit log: hash chain, salted commitments, OS and claimed users",
        _chained_audit,
        CHAINED_AUDIT,
    ),
    Migration(6, "crop paths relative to the library", _relative_crop_paths, ""),
    Migration(
        7,
        "manual identifications: confirmations of someone the rule did not propose",
        "ALTER TABLE reviews ADD COLUMN manual INTEGER NOT NULL DEFAULT 0",
    ),
    Migration(
        8,
        "candidates of faces too poor to be named",
        "ALTER TABLE candidates ADD COLUMN insufficient_quality INTEGER NOT NULL DEFAULT 0",
    ),
    Migration(9, "registered face-descriptor models (store.models)", _MODELS),
    Migration(10, "face tags imported from other tools (import-tags)", IMPORTED_TAGS_SQL),
    Migration(
        11,
        "distributed scans: files in chunks claimed under leases",
        SCAN_CHUNKS,
        # the database numbers the chunks: an identity column on PostgreSQL
        to_postgres(
            SCAN_CHUNKS.replace(
                "id INTEGER PRIMARY KEY", "id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
            )
        ),
    ),
    Migration(12, "accounts: users, web sessions, API tokens, failed logins", ACCOUNTS),
    Migration(13, "background jobs: queued, running and finished work (store.jobs)", JOBS),
    Migration(14, "collections: roots registered for the workspace to scan", COLLECTIONS),
    Migration(15, "review queue: an index per sort (store.queue)", QUEUE_INDEXES),
    Migration(16, "people's former names, erased with them (store.people)", FORMER_NAMES),
    Migration(
        17,
        "the change counter the review queue's memo keeps to (store.changes)",
        f"{CHANGES};\n{CHANGES_COUNTED}",
        to_postgres(CHANGES),  # PostgreSQL keeps no memo: the table alone
    ),
)


def apply_migrations(
    conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply, in order, every migration not yet recorded; return the versions applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    known = max((m.version for m in migrations), default=0)
    if done and max(done) > known:
        raise StoreError(
            f"the library database has schema version {max(done)}, newer than this "
            f"facesight knows ({known}); upgrade facesight to open it"
        )
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        _apply_one(conn, migration)
        applied.append(migration.version)
    return applied


def check_migrations(
    conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> None:
    """For a library opened read-only: refuse one that needs migrating (or is newer)."""
    try:
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.Error as exc:
        raise StoreError(f"this is not a facesight library database ({exc})") from exc
    known = {m.version for m in migrations}
    if done != known:
        raise StoreError(
            f"the library has schema versions {sorted(done)}, this facesight expects "
            f"{sorted(known)}: open it once where it can be written (it is read-only here)"
        )


def _apply_one(conn: sqlite3.Connection, migration: Migration) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        step = migration.step_for(conn)
        if isinstance(step, str) and getattr(conn, "dialect", "sqlite") == "postgresql":
            if step.strip():
                conn.execute(step)  # one script: PostgreSQL runs it in the transaction
        elif isinstance(step, str):
            for statement in _statements(step):
                conn.execute(statement)
        else:
            step(conn)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, utc_now_iso("auto")),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StoreError(
            f"migration {migration.version} ({migration.name}) failed and was rolled back: {exc}"
        ) from exc


def _statements(script: str) -> list[str]:
    """The SQL statements of a script, whole (a trigger's body holds ``;`` too)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending)
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending)
    return statements
