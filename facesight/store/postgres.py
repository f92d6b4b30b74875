"""The library database on PostgreSQL: the same ``Store``, the same SQL, another server.

``PostgresStore`` is ``store.sqlite.Store`` on a ``postgresql://`` URL: every method that
reads or writes a table runs the same per-table module (``store.people``,
``store.media``, ...) through ``store.postgres_connection.PgConnection``, so the two
backends cannot drift; only what SQLite and PostgreSQL do differently is here:

- **Opening**: psycopg 3, the migrations of ``store.migrations`` (their PostgreSQL steps,
  ``store.postgres_schema``), one library per database.
- **Transactions**: ``BEGIN`` plus a transaction-scoped advisory lock, so writers take
  turns as on SQLite (one transaction per batch of scanned files; a killed scan resumes
  from what was committed, skipping content by its sha256).
- **Crops** (face and reference crops) live in the database, in ``crop_files`` (bytea):
  a PostgreSQL library is one thing to back up, and every scan worker, wherever it runs,
  reads and writes it through the server. Scan workers write a crop into the local
  files folder first (as on SQLite); the batch that stores its face stores its bytes in
  the same transaction. ``file_path`` serves a crop from the local folder, fetching it
  from the database when the folder lacks it (another machine's scan, a new workstation).
- **Erasure** (:meth:`checkpoint` after ``forget``): ``VACUUM (FULL, ANALYZE)`` of the
  tables erasure touches (rewritten without the dead rows; their indexes rebuilt),
  ``REINDEX``, then ``CHECKPOINT``, a WAL switch and a second ``CHECKPOINT``, so the WAL
  that held the erased rows is behind the redo point (deleted with ``wal_recycle = off``;
  see docs/postgresql.md for what WAL archives and backups keep).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

from facesight.errors import NotFoundError, StoreError
from facesight.files import atomic_file
from facesight.location import redact_url
from facesight.store import media as media_writes
from facesight.store import people
from facesight.store.connection import ReadOnlyLibraryError
from facesight.store.migrations import MIGRATIONS, apply_migrations, check_migrations
from facesight.store.models import descriptor_dim
from facesight.store.postgres_connection import PgConnection, open_postgres
from facesight.store.postgres_schema import schema_objects
from facesight.store.postgres_search import VectorSearch
from facesight.store.protocol import LibraryStore, Transaction
from facesight.store.rows import FaceRow, MediaRow, ReviewCarry, now
from facesight.store.sqlite import Store

__all__ = ["ERASURE_TABLES", "PostgresStore"]

ERASURE_TABLES = (
    "people",
    "reference_faces",
    "faces",
    "candidates",
    "reviews",
    "audit_log",
    "crop_files",
    "unknown_members",
    "unknown_exclusions",
    "distinct_people",
    "former_names",
)
"""The tables an erasure deletes from or blanks, rewritten by :meth:`PostgresStore.checkpoint`."""


class PostgresStore(Store):
    """A facesight library in a PostgreSQL database.

    Args:
        location: the ``postgresql://`` URL (its password, if any, is never shown:
            messages use :attr:`where`).
        files_dir: the local folder crops are written to and served from (a cache of
            ``crop_files``; ``library.directory.postgres_files_dir``).
        create: create the schema in an empty database; else a database without one is
            a ``NotFoundError``.
        read_only: open without writing anything.
    """

    def __init__(
        self, location: str, *, files_dir: Path, create: bool = True, read_only: bool = False
    ) -> None:
        self.path = location
        self.read_only = read_only
        self.root: Path = files_dir
        try:
            self._pg: PgConnection = open_postgres(location, read_only=read_only)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the library database {self.where}: {exc}") from exc
        # the adapter serves the subset of sqlite3.Connection the store modules call
        self._conn = cast(sqlite3.Connection, self._pg)
        try:
            if not create and not self._has_schema():
                raise NotFoundError(
                    f"the library {self.where} does not exist (no facesight schema in the "
                    "database): check --library, or create it with `facesight init`"
                )
            if read_only:
                check_migrations(self._conn)
            else:
                apply_migrations(self._conn)
            self._pg.register_vector()
        except BaseException:
            self._pg.close()
            raise

    def _has_schema(self) -> bool:
        row = self._conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        return row is not None and row[0] is not None

    @property
    def database(self) -> str:
        return self.path

    @property
    def where(self) -> str:
        return redact_url(self.path)

    def error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "read-only" in text:
            return ReadOnlyLibraryError(f"the library {self.where} is read-only ({text})")
        return StoreError(f"the library database {self.where} failed: {text}")

    def close(self) -> None:
        self._pg.close()

    def __enter__(self) -> PostgresStore:
        return self

    def data_version(self) -> tuple[int, ...]:
        """PostgreSQL has no ``data_version``: the newest audit record and the jobs queued
        and finished tell instead (every change another process makes is audited or is a
        job's; a running job's partial work shows once it ends)."""
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()
        return (int(row[0]), *self.jobs.finished_marker())

    def checkpoint(self) -> None:
        """Leave no erased bytes in the server's files (see the module docstring)."""
        try:
            for table in ERASURE_TABLES:
                self._conn.execute(f"VACUUM (FULL, ANALYZE) {table}")
                self._conn.execute(f"REINDEX TABLE {table}")
            self._conn.execute("CHECKPOINT")
            self._conn.execute("SELECT pg_switch_wal()")
            self._conn.execute("CHECKPOINT")
        except sqlite3.Error as exc:
            raise StoreError(
                f"the erasure is committed, but the server {self.where} could not rewrite "
                f"its files ({exc}): the erased rows may linger in them until autovacuum "
                "and the next checkpoint; run VACUUM FULL and CHECKPOINT as a superuser "
                "(or grant pg_checkpoint)"
            ) from exc

    def nearest_faces(self, embedder: str) -> VectorSearch:
        """The stored faces of ``embedder`` searched in the database (pgvector), not in a
        faiss index file (``store.postgres_search``)."""
        return VectorSearch(self._conn, embedder)

    def integrity_problems(self) -> list[str]:
        """Rows whose foreign keys point nowhere cannot exist here (PostgreSQL enforces
        them always); what is left to check is the crops the rows name."""
        missing = self._conn.execute(
            "SELECT COUNT(*) FROM (SELECT crop_path FROM faces WHERE crop_path IS NOT NULL"
            " UNION SELECT crop_path FROM reference_faces WHERE crop_path IS NOT NULL) c"
            " WHERE NOT EXISTS (SELECT 1 FROM crop_files f WHERE f.path = c.crop_path)"
        ).fetchone()
        count = int(missing[0]) if missing else 0
        return [f"{count} crop(s) named by rows are not in crop_files"] if count else []

    def missing_schema_objects(self) -> tuple[list[tuple[str, str]], int]:
        scripts = []
        for migration in MIGRATIONS:
            step = migration.step_for(self._conn)
            if isinstance(step, str):
                scripts.append(step)
        scripts.append(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)"
        )  # made by apply_migrations itself
        want = schema_objects(scripts)
        rows = self._conn.execute(
            "SELECT 'table', tablename FROM pg_tables WHERE schemaname = current_schema()"
            " UNION ALL SELECT 'index', indexname FROM pg_indexes"
            " WHERE schemaname = current_schema()"
            " UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
        have = {(str(k), str(n)) for k, n in rows}
        return sorted(want - have), len(want)

    # -- crops, kept in the database (``crop_files``) -----------------------------

    def _store_crop(self, conn: Transaction, stored: str | None) -> None:
        """Copy the crop file a row names into ``crop_files`` (inside ``conn``)."""
        if stored is None or os.path.isabs(stored):
            return  # not the library's own crop: nothing to keep
        try:
            data = (self.root / stored).read_bytes()
        except OSError:
            return  # the row names a crop that was not written: doctor reports it
        self.keep_crop(conn, stored, data)

    def _write_media(
        self,
        conn: Transaction,
        batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]],
        carry: ReviewCarry | None,
    ) -> list[int]:
        """``Store._write_media`` (a scan's batch, a distributed scan's chunk) with new
        content written by ``COPY``.

        Content not stored yet (the common case: a scan's new files) goes in by ``COPY``
        with ids drawn from the tables' identity sequences, four streams per batch
        instead of a round trip per row; content stored before (re-described, so its
        old faces go and its review decisions follow ``carry``) takes the row-by-row
        path of ``store.media``. Either way, inside ``conn``.
        """
        shas = [media.sha256 for _, media, _ in batch]
        known = {
            str(r[0])
            for r in conn.execute("SELECT sha256 FROM media WHERE sha256 = ANY(?)", (shas,))
        }
        fresh = [
            i
            for i, sha in enumerate(shas)
            if sha not in known and shas.index(sha) == i  # a repeat goes row by row
        ]
        ids = dict(zip(fresh, self._copy_new_media(conn, [batch[i] for i in fresh]), strict=True))
        for i, (path, media, faces) in enumerate(batch):
            if i not in ids:
                ids[i] = media_writes.save_media(conn, path, media, faces, carry, self.stored_path)
            self._keep_crops(conn, faces)
        return [ids[i] for i in range(len(batch))]

    def _next_ids(self, conn: Transaction, table: str, count: int) -> list[int]:
        if count == 0:
            return []
        rows = conn.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?)",
            (count,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def _copy_new_media(
        self, conn: Transaction, batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]]
    ) -> list[int]:
        """Write files whose content is not stored yet by ``COPY``; their media ids."""
        media_ids = self._next_ids(conn, "media", len(batch))
        face_ids = iter(self._next_ids(conn, "faces", sum(len(f) for _, _, f in batch)))
        faces, candidates = [], []
        for media_id, (_, media, rows) in zip(media_ids, batch, strict=True):
            dim = descriptor_dim(conn, media.embedder)
            for face in rows:
                face_id = next(face_ids)
                values = media_writes.face_values(media_id, face, self.stored_path, dim)
                faces.append((face_id, *values))
                candidates += media_writes.candidate_values(face_id, face.candidates)
        seen = now()
        conn.copy_rows(
            "media",
            ["id", *media_writes.MEDIA_COLUMNS],
            [
                (i, *media_writes.media_values(m))
                for i, (_, m, _) in zip(media_ids, batch, strict=True)
            ],
        )
        conn.copy_rows(
            "media_paths",
            ["media_id", "path", "first_seen_at"],
            [(i, path, seen) for i, (path, _, _) in zip(media_ids, batch, strict=True)],
        )
        conn.copy_rows("faces", ["id", *media_writes.FACE_COLUMNS], faces)
        conn.copy_rows("candidates", media_writes.CANDIDATE_COLUMNS, candidates)
        conn.execute(
            "DELETE FROM media_errors WHERE path = ANY(?)", ([path for path, _, _ in batch],)
        )
        return media_ids

    def _keep_crops(self, conn: Transaction, faces: Sequence[FaceRow]) -> None:
        """The crops of a distributed scan's chunk, in its transaction (``commit_scan_chunk``)."""
        for face in faces:
            if face.crop_path is not None:
                self._store_crop(conn, self.stored_path(face.crop_path))

    def save_media(
        self,
        path: str,
        media: MediaRow,
        faces: Sequence[FaceRow],
        carry: ReviewCarry | None = None,
    ) -> int:
        return self.save_media_batch([(path, media, faces)], carry)[0]

    def set_reference_crop(self, conn: Transaction, reference_id: int, path: str) -> None:
        stored = self.stored_path(path)
        people.set_reference_crop(conn, reference_id, stored)
        self._store_crop(conn, stored)

    def _drop_crops(self, conn: Transaction, crops: Sequence[str]) -> None:
        conn.executemany("DELETE FROM crop_files WHERE path = ?", [(c,) for c in crops])

    def delete_person(self, conn: Transaction, person_id: int) -> tuple[int, int, list[str]]:
        refs, cands, crops = people.delete_person(conn, person_id)
        self._drop_crops(conn, crops)
        return refs, cands, crops

    def delete_reference(self, conn: Transaction, reference_id: int) -> str | None:
        crop = people.delete_reference(conn, reference_id)
        if crop is not None:
            self._drop_crops(conn, [crop])
        return crop

    def delete_faces(self, conn: Transaction, face_ids: Sequence[int]) -> list[str]:
        crops = media_writes.delete_faces(conn, face_ids)
        self._drop_crops(conn, crops)
        return crops

    def crop_files(self) -> Iterator[tuple[str, bytes]]:
        for row in self._conn.execute("SELECT path, data FROM crop_files ORDER BY path"):
            yield str(row[0]), bytes(row[1])

    def keep_crop(self, conn: Transaction, stored: str, data: bytes) -> None:
        conn.execute(
            "INSERT INTO crop_files (path, data) VALUES (?, ?)"
            " ON CONFLICT (path) DO UPDATE SET data = excluded.data",
            (stored, data),
        )

    def file_path(self, value: str | None) -> str | None:
        """A stored crop as a local file: fetched from ``crop_files`` when missing here."""
        resolved = super().file_path(value)
        if value is None or resolved is None or os.path.isabs(value):
            return resolved
        if not os.path.exists(resolved):
            row = self._conn.execute(
                "SELECT data FROM crop_files WHERE path = ?", (value,)
            ).fetchone()
            if row is not None:
                Path(resolved).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with atomic_file(Path(resolved)) as out:
                    out.write(bytes(row[0]))
        return resolved


def _implements_the_protocol(store: PostgresStore) -> LibraryStore:
    return store  # mypy checks that PostgresStore has every method of LibraryStore
