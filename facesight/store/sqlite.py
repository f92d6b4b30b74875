"""The library database: stdlib sqlite3, explicit SQL, WAL, ordered migrations.

Vectors are stored as little-endian float32 BLOBs. Every write that must be
all-or-nothing (one media file with its faces and candidates, an enrollment,
an erasure) runs in one ``transaction()``, so a crash or ``kill -9`` leaves
the database as it was before or after it, never in between. The store
holds no business rules: it reads and writes what the library hands it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery, NearestFaces
from facesight.errors import NotFoundError, StoreError
from facesight.face_models import ModelSpec
from facesight.files import atomic_file
from facesight.records import Candidate, MediaFailure, PersonSummary, Sighting
from facesight.store import faces, health, models, people, scan_chunks
from facesight.store import media as media_writes
from facesight.store.accounts import AccountTables
from facesight.store.audit import AuditLog
from facesight.store.collections import CollectionTables
from facesight.store.connection import ReadOnlyLibraryError, connect, database_error
from facesight.store.crop_paths import file_inside, resolve_stored, to_stored
from facesight.store.imported_tags import ImportedTags
from facesight.store.jobs import JobTables
from facesight.store.migrations import apply_migrations, check_migrations
from facesight.store.people import StoredReference
from facesight.store.protocol import LibraryStore
from facesight.store.queue import (
    NamedFmr,
    QueueIds,
    QueueKey,
    QueueMemo,
    QueueQuery,
    QueueReader,
)
from facesight.store.reviews import ReviewBook
from facesight.store.rows import (
    FaceRow,
    MatchRule,
    MediaRow,
    ReferenceRow,
    ReviewCarry,
)
from facesight.store.rows import query as rows_query
from facesight.store.scan_chunks import ChunkCounts, ScanChunk
from facesight.store.sightings import SightingPage, SightingReader
from facesight.store.unknowns import UnknownTables
from facesight.text import check_name, name_key, normalize_name

__all__ = ["FaceRow", "MatchRule", "MediaRow", "ReferenceRow", "ReviewCarry", "Store"]


class Store:
    """A facesight library database.

    Args:
        path: the SQLite file, or ``":memory:"``.
        create: create the file (0600) when missing; else a missing file is a
            ``StoreError``.
        read_only: open without writing anything (a read-only mount); every
            transaction then raises ``ReadOnlyLibraryError``.
    """

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        # the library directory: crop paths are stored relative to it (``crop_paths``)
        self.root = None if self.path == ":memory:" else Path(self.path).parent
        try:
            if self.root is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None)
            else:
                self._conn = connect(Path(self.path), create=create, read_only=read_only)
            self._conn.execute("PRAGMA foreign_keys=ON")
            if read_only:
                check_migrations(self._conn)
                return
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # Erased people must leave no bytes behind in free pages.
            self._conn.execute("PRAGMA secure_delete=ON")
            apply_migrations(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the library database {self.path}: {exc}") from exc

    @property
    def _sightings(self) -> SightingReader:
        return SightingReader(self._conn, self.file_path)

    def audit_log(self, actor: str | None = None) -> AuditLog:
        """The audit log of this library, recording as ``actor`` (see ``store.audit``)."""
        return AuditLog(self._conn, actor)

    def review_book(self, audit: AuditLog) -> ReviewBook:
        """The review decisions of this library, each audited in ``audit``."""
        return ReviewBook(self._conn, audit)

    @property
    def accounts(self) -> AccountTables:
        """The accounts, sessions and API tokens (their one writer, ``store.accounts``)."""
        return AccountTables(self._conn)

    @property
    def collections(self) -> CollectionTables:
        """The registered collection roots (their one writer, ``store.collections``)."""
        return CollectionTables(self._conn)

    @property
    def jobs(self) -> JobTables:
        """The background jobs (their one writer, ``store.jobs``)."""
        return JobTables(self._conn)

    def data_version(self) -> tuple[int, ...]:
        """A value that changes when another connection (the job worker, a CLI command)
        commits to the database: SQLite's ``PRAGMA data_version``."""
        return (int(self._conn.execute("PRAGMA data_version").fetchone()[0]),)

    @property
    def imported_tags(self) -> ImportedTags:
        """Face tags imported from other tools (their one writer, ``store.imported_tags``)."""
        return ImportedTags(self._conn)

    @property
    def unknowns(self) -> UnknownTables:
        """The unknown-people tables (their one writer)."""
        return UnknownTables(self._conn, self.queue_memo)

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close.

        A checkpoint that fails (a full disk, a reader holding the WAL) loses
        nothing: the committed changes stay in the WAL and the next open folds them.
        """
        try:
            if not self.read_only:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        finally:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (for the feature modules' own queries and transactions)."""
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write; rolled back on any exception.

        Raises:
            ReadOnlyLibraryError: the library was opened read-only.
            StoreError: SQLite failed (locked past ``LOCK_TIMEOUT_S``, disk full,
                an unexpected schema), in one line naming the library.
        """
        if self.read_only:
            raise ReadOnlyLibraryError(
                f"the library {self.where} is read-only: this command cannot record changes"
            )
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.error(exc) from exc
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except sqlite3.IntegrityError:  # a broken invariant is a bug: keep its traceback
            self._conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self.error(exc) from exc
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @property
    def database(self) -> Path | str:
        """What a scan worker opens to read the library (``store.known_content``)."""
        return Path(self.path)

    @property
    def where(self) -> str:
        """The library as messages name it (a folder; a URL without its password)."""
        return self.path if self.root is None else str(self.root)

    def error(self, exc: sqlite3.Error) -> StoreError:
        """One clear line for a database failure (``store.connection.database_error``)."""
        return database_error(self.path, exc)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return rows addressable by column name."""
        return rows_query(self._conn, sql, params)

    def nearest_faces(self, embedder: str) -> NearestFaces | None:
        """A search of the stored faces kept by the database itself; None here: a SQLite
        library keeps a faiss index file (``library/face_index_sync.py``)."""
        return None

    def integrity_problems(self) -> list[str]:
        """SQLite's integrity and foreign-key findings, one line each (empty when sound)."""
        return health.integrity_problems(self._conn)

    def missing_schema_objects(self) -> tuple[list[tuple[str, str]], int]:
        """(kind, name) of the tables, indexes and triggers a fresh library has and this
        one lacks, and how many a fresh one has."""
        return health.missing_schema_objects(self._conn)

    def checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it (after erasures)."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise self.error(exc) from exc

    # -- people and references ------------------------------------------------

    def person_id(self, name: str) -> int | None:
        """The id of the person with this name, or None.

        Names compare on their normalised form (``facesight.text.name_key``: NFC,
        casefolded), so "José" typed composed or decomposed, or "JOSÉ", is one
        person. A library made before names were normalised may hold two people
        whose names collide (``conflicts`` lists them); the exact spelling finds
        each, the normalised one the first enrolled.
        """
        for exact in (name, normalize_name(name)):
            row = self._conn.execute("SELECT id FROM people WHERE name = ?", (exact,)).fetchone()
            if row is not None:
                return int(row[0])
        key = name_key(name)
        for person_id, stored in self.people_names():
            if name_key(stored) == key:
                return person_id
        return None

    def people_names(self) -> list[tuple[int, str]]:
        """(id, name) of every enrolled person, in order of enrollment."""
        rows = self._conn.execute("SELECT id, name FROM people ORDER BY id").fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def require_person(self, name: str) -> int:
        """The id of the enrolled person with this name (as :meth:`person_id` finds it).

        Raises:
            NotFoundError: nobody of this name is enrolled.
        """
        person_id = self.person_id(" ".join(name.split()))
        if person_id is None:
            raise NotFoundError(f"nobody called {name!r} is enrolled; see `facesight people`")
        return person_id

    def person_name(self, person_id: int) -> str:
        row = self._conn.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no person with id {person_id}")
        return str(row[0])

    def add_person(self, conn: sqlite3.Connection, name: str) -> int:
        """Create the person if needed (inside the caller's transaction); return the id.

        The name is stored normalised; control characters are refused (``check_name``).
        """
        return people.add_person(conn, check_name(name))

    def add_reference(
        self, conn: sqlite3.Connection, person_id: int, ref: ReferenceRow
    ) -> int | None:
        """Store a reference face; None if this image is already a reference of the person."""
        return people.add_reference(conn, person_id, ref)

    def face_reference_row(self, face_id: int) -> ReferenceRow:
        """A stored face as a reference: its descriptor, box and media.

        ``source_sha256`` is ``<media sha256>#face<id>``, so several faces of one
        media file (a video's tracks) can be references of the same person.
        """
        return faces.face_reference_row(self._conn, face_id)

    def set_reference_crop(self, conn: sqlite3.Connection, reference_id: int, path: str) -> None:
        """Name the crop file of a reference (inside the caller's transaction)."""
        people.set_reference_crop(conn, reference_id, self.stored_path(path))

    def stored_path(self, path: str) -> str:
        """A file path as stored: relative to the library directory when inside it."""
        return path if self.root is None else to_stored(self.root, path)

    def file_path(self, value: str | None) -> str | None:
        """A stored file path resolved against the library directory (usable from any folder)."""
        if value is None or self.root is None:
            return value
        return resolve_stored(self.root, value)

    def stored_crop_paths(self) -> set[str]:
        """Every crop path the database names, as stored (relative to the library)."""
        rows = self._conn.execute(
            "SELECT crop_path FROM faces WHERE crop_path IS NOT NULL"
            " UNION SELECT crop_path FROM reference_faces WHERE crop_path IS NOT NULL"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def crop_files(self) -> Iterator[tuple[str, bytes]]:
        """(stored path, bytes) of every crop of the library's own that exists
        (``store.copy``: crops travel with the rows)."""
        for stored in sorted(self.stored_crop_paths()):
            owned = self.owned_file(stored)
            if owned is not None and owned.is_file():
                yield stored, owned.read_bytes()

    def keep_crop(self, conn: sqlite3.Connection, stored: str, data: bytes) -> None:
        """Keep a crop's bytes under its stored path (a file in the library folder; the
        transaction is the PostgreSQL store's, which keeps them in ``crop_files``)."""
        if self.root is None or os.path.isabs(stored):
            return
        target = self.root / stored
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_file(target) as out:
            out.write(data)

    def owned_file(self, value: str) -> Path | None:
        """The file a stored path names if it lies inside the library, else None: the
        only files an erasure may delete."""
        return None if self.root is None else file_inside(self.root, value)

    def list_people(self, rule: MatchRule) -> list[PersonSummary]:
        """Every enrolled person with counts of references, warnings and matched sightings."""
        return people.list_people(self._conn, rule)

    def distinct_pairs(self) -> set[tuple[int, int]]:
        """Person id pairs (smaller first) marked as different people."""
        return people.distinct_pairs(self._conn)

    def rename_person(self, conn: sqlite3.Connection, person_id: int, name: str) -> None:
        """Give a person another name (checked, normalised and free; the caller's transaction)."""
        people.rename_person(conn, person_id, name)

    def references_of(self, person_id: int) -> list[StoredReference]:
        """A person's references, oldest first (``store.people.references_of``)."""
        return people.references_of(self._conn, person_id)

    def reference(self, reference_id: int) -> StoredReference:
        """One reference by id.

        Raises:
            NotFoundError: no reference has this id.
        """
        found = people.reference(self._conn, reference_id)
        if found is None:
            raise NotFoundError(f"no reference has id {reference_id}")
        return found

    def delete_reference(self, conn: sqlite3.Connection, reference_id: int) -> str | None:
        """Delete one reference (the caller's transaction); its crop path as stored, or None."""
        return people.delete_reference(conn, reference_id)

    def delete_person(self, conn: sqlite3.Connection, person_id: int) -> tuple[int, int, list[str]]:
        """Delete a person and (by cascade) their references and candidates.

        Returns (references removed, candidate rows removed, crop paths to delete).
        """
        return people.delete_person(conn, person_id)

    def delete_faces(self, conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[str]:
        """Delete stored faces (their candidates, reviews and cluster places by cascade).

        Returns their crop paths, for the caller to delete. The media rows stay,
        so a rescan skips the media and does not bring the faces back.
        """
        return media_writes.delete_faces(conn, face_ids)

    def gallery(self, embedder: str | None = None, person_id: int | None = None) -> Gallery:
        """Every reference of every person, ordered by person then reference id.

        Args:
            embedder: only references described by this descriptor version.
            person_id: only this person's references.
        """
        return people.gallery(self._conn, embedder, person_id)

    # -- registered descriptor models (store/models.py) ------------------------

    def model_specs(self) -> list[ModelSpec]:
        """Every registered model, by name (the built-in dlib model has no row)."""
        return models.model_specs(self._conn)

    def active_model(self) -> ModelSpec | None:
        """The active registered model; None: the built-in dlib model."""
        return models.active_model(self._conn)

    def add_model(self, spec: ModelSpec) -> ModelSpec:
        """Register a model (a name already taken is refused); it is not made active."""
        with self.transaction() as conn:
            return models.add_model(conn, spec)

    def set_active_model(self, name: str | None) -> None:
        """Make a registered model the active one (None: the built-in dlib model)."""
        with self.transaction() as conn:
            models.set_active(conn, name)

    def set_model_calibration(self, name: str, calibration: str | None) -> None:
        """Store (or clear) a registered model's impostor tables (JSON text)."""
        with self.transaction() as conn:
            models.set_calibration(conn, name, calibration)

    # -- media, faces, candidates ---------------------------------------------

    def media_id(self, sha256: str, embedder: str | None = None) -> int | None:
        """The id of already-scanned content with this sha256 (described by ``embedder``)."""
        row = self._conn.execute(
            "SELECT id FROM media WHERE sha256 = ? AND (? IS NULL OR embedder = ?)",
            (sha256, embedder, embedder),
        ).fetchone()
        return None if row is None else int(row[0])

    def media_size(self, sha256: str) -> tuple[int, int]:
        """(width, height) in upright pixels of the stored content with this sha256.

        Raises:
            NotFoundError: no stored content has this sha256.
        """
        row = self._conn.execute(
            "SELECT width, height FROM media WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no scanned media has sha256 {sha256}")
        return int(row[0]), int(row[1])

    def face_ids_of_content(self, sha256: str) -> list[int]:
        """The stored faces of the content with this sha256, by id (none if unknown)."""
        return faces.face_ids_of_content(self._conn, sha256)

    def stale_media(self, embedder: str) -> list[str]:
        """The latest path of each media file described by another descriptor version."""
        return [
            str(r[0])
            for r in self._conn.execute(
                "SELECT (SELECT path FROM media_paths mp WHERE mp.media_id = m.id"
                " ORDER BY mp.rowid DESC LIMIT 1) FROM media m WHERE m.embedder != ?",
                (embedder,),
            )
        ]

    def stale_references(self, embedder: str) -> list[sqlite3.Row]:
        """References described by another descriptor version (id, source, sha256, box)."""
        return self.query(
            "SELECT id, source_path, source_sha256, x1, y1, x2, y2 FROM reference_faces"
            " WHERE embedder != ? ORDER BY id",
            (embedder,),
        )

    def update_reference(
        self, reference_id: int, embedding: NDArray[np.float32], embedder: str, quality: float
    ) -> None:
        """Replace a reference's descriptor with one from the current model."""
        with self.transaction() as conn:
            people.update_reference(conn, reference_id, embedding, embedder, quality)

    def add_media_path(self, media_id: int, path: str) -> None:
        """Remember another path where known content was seen (rename, copy)."""
        with self.transaction() as conn:
            media_writes.add_media_path(conn, media_id, path)

    def save_media(
        self,
        path: str,
        media: MediaRow,
        faces: Sequence[FaceRow],
        carry: ReviewCarry | None = None,
    ) -> int:
        """Store one scanned file with all its faces and candidates, atomically.

        Content already stored under the same sha256 (described by an older
        model) is replaced in the same transaction; its other paths are kept,
        and its review decisions go to the new faces ``carry`` names (none
        without it).
        """
        with self.transaction() as conn:
            return media_writes.save_media(conn, path, media, faces, carry, self.stored_path)

    def save_media_batch(
        self,
        batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]],
        carry: ReviewCarry | None = None,
    ) -> list[int]:
        """``save_media`` for several files in one transaction: all of them or none."""
        with self.transaction() as conn:
            return self._write_media(conn, batch, carry)

    def face_embeddings(
        self, embedder: str | None = None, after_id: int = 0
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float64]]:
        """(ids, (n, d) descriptors, (n,) qualities, NaN if unknown) of stored faces, by id.

        Args:
            embedder: only faces of media described by this descriptor version.
            after_id: only faces with a larger id (those stored since).
        """
        return faces.face_embeddings(self._conn, embedder, after_id)

    def face_probe(self, face_id: int) -> tuple[NDArray[np.float32], float, float, int]:
        """(descriptor, quality (NaN if unknown), box width, faces fused) of one stored face,
        as :meth:`face_embeddings` and :meth:`probe_geometry` give them."""
        return faces.face_probe(self._conn, face_id)

    def face_crop(self, face_id: int) -> str | None:
        """The crop file of a stored face, resolved (None: none kept; ``store.faces``)."""
        return self.file_path(faces.face_crop(self._conn, face_id))

    def reference_crops(self, reference_ids: Sequence[int]) -> dict[int, str | None]:
        """The crop path of each of these references (None when none was kept)."""
        ids = list(dict.fromkeys(int(i) for i in reference_ids))
        found: dict[int, str | None] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in self._conn.execute(
                "SELECT id, crop_path FROM reference_faces"
                f" WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                found[int(r[0])] = self.file_path(r[1])
        return found

    def probe_geometry(self, embedder: str) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(n,) box widths and (n,) faces fused into each descriptor (a video track's best
        ``FUSED_FACES``, else 1), parallel to ``face_embeddings(embedder)``."""
        return faces.probe_geometry(self._conn, embedder)

    def newest_face_embeddings(
        self, embedder: str, up_to_id: int, limit: int = 16
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """(ids, descriptors) of the ``limit`` newest faces with id <= ``up_to_id``."""
        return faces.newest_face_embeddings(self._conn, embedder, up_to_id, limit)

    def face_count(self, embedder: str) -> tuple[int, int]:
        """(count, largest id or 0) of the stored faces described by ``embedder``."""
        return faces.face_count(self._conn, embedder)

    def replace_candidates(self, per_face: dict[int, Sequence[Candidate]]) -> None:
        """Replace the candidates of every stored face, in one transaction."""
        with self.transaction() as conn:
            media_writes.replace_candidates(conn, per_face)

    def record_failure(self, failure: MediaFailure, sha256: str | None = None) -> None:
        """Remember a file that could not be used (replacing an older record for the path)."""
        with self.transaction() as conn:
            media_writes.record_failure(conn, failure, sha256)

    def failures(self) -> list[MediaFailure]:
        """Every recorded media failure, by path."""
        return [
            MediaFailure(r["path"], r["kind"], r["message"])
            for r in self.query("SELECT path, kind, message FROM media_errors ORDER BY path")
        ]

    # -- distributed scans: chunks under leases (store/scan_chunks.py) ---------

    def add_scan_chunks(self, scan_id: str, chunks: Sequence[Sequence[str]]) -> None:
        """Record chunks of files for a scan, after its existing ones."""
        with self.transaction() as conn:
            scan_chunks.add_chunks(conn, scan_id, chunks)

    def scan_chunks(self, scan_id: str) -> list[ScanChunk]:
        """Every chunk of a scan, in order (none once it finished)."""
        return scan_chunks.chunks_of(self._conn, scan_id)

    def reopen_scan_chunks(self, scan_id: str, now_s: float) -> int:
        """Failed chunks and running ones whose lease ran out become pending (a rerun)."""
        with self.transaction() as conn:
            return scan_chunks.reopen(conn, scan_id, now_s)

    def claim_scan_chunk(
        self, scan_id: str, owner: str, now_s: float, lease_s: float, max_attempts: int
    ) -> ScanChunk | None:
        """Atomically take the next pending (or expired) chunk of a scan for ``owner``."""
        with self.transaction() as conn:
            return scan_chunks.claim(conn, scan_id, owner, now_s, lease_s, max_attempts)

    def renew_scan_chunk(self, chunk_id: int, owner: str, expires_s: float) -> None:
        """Extend ``owner``'s lease (``LeaseLostError`` when it is no longer held)."""
        with self.transaction() as conn:
            scan_chunks.renew(conn, chunk_id, owner, expires_s)

    def release_scan_chunks(self, scan_id: str, owner: str, max_attempts: int) -> int:
        """Give back a dead worker's running chunks (failed once tried ``max_attempts``)."""
        with self.transaction() as conn:
            return scan_chunks.release_owner(conn, scan_id, owner, max_attempts)

    def fail_scan_chunk(self, chunk_id: int, owner: str, error: str) -> None:
        """Give up ``owner``'s chunk, with the reason."""
        with self.transaction() as conn:
            scan_chunks.fail(conn, chunk_id, owner, error)

    def scan_chunk_counts(self, scan_id: str, now_s: float) -> ChunkCounts:
        """How many chunks of a scan are pending, running (leased), done and failed."""
        return scan_chunks.chunk_counts(self._conn, scan_id, now_s)

    def finish_scan_chunks(self, scan_id: str) -> bool:
        """Forget a scan whose every chunk is done; False while any is not."""
        with self.transaction() as conn:
            return scan_chunks.finish(conn, scan_id)

    def commit_scan_chunk(
        self,
        chunk_id: int,
        owner: str,
        batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]],
        seen: Sequence[tuple[str, str]],
        failures: Sequence[MediaFailure],
        carry: ReviewCarry | None = None,
    ) -> list[int]:
        """Store a chunk's new media, the paths of its known content (``(sha256, path)``)
        and its failures, and mark it done, all in one transaction.

        Content that another worker committed meanwhile only gains its path (two chunks
        may hold copies of one file). Returns the ids of the media stored.

        Raises:
            LeaseLostError: ``owner`` no longer holds the chunk; nothing is stored.
        """
        with self.transaction() as conn:
            scan_chunks.complete(conn, chunk_id, owner)
            new, taken = [], set()
            for path, media, rows in batch:
                known = self.media_id(media.sha256, media.embedder) is not None
                if known or media.sha256 in taken:
                    seen = [*seen, (media.sha256, path)]
                else:
                    new.append((path, media, rows))
                    taken.add(media.sha256)
            stored = self._write_media(conn, new, carry)
            for sha256, path in seen:
                media_id = self.media_id(sha256)
                if media_id is not None:  # None: forgotten since the worker looked
                    media_writes.add_media_path(conn, media_id, path)
            for failure in failures:
                media_writes.record_failure(conn, failure, None)
            return stored

    def _write_media(
        self,
        conn: sqlite3.Connection,
        batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]],
        carry: ReviewCarry | None,
    ) -> list[int]:
        """Store files' media, faces and crops inside ``conn``; their media ids. What
        :meth:`save_media_batch` and :meth:`commit_scan_chunk` both write
        (``PostgresStore`` writes new content by ``COPY``)."""
        stored = []
        for path, media, rows in batch:
            stored.append(media_writes.save_media(conn, path, media, rows, carry, self.stored_path))
            self._keep_crops(conn, rows)
        return stored

    def _keep_crops(self, conn: sqlite3.Connection, faces: Sequence[FaceRow]) -> None:
        """Keep the crops the rows name in the database (in ``conn``): nothing to do for a
        SQLite library, whose crops are files in its folder (``PostgresStore`` keeps them)."""

    # -- sightings ------------------------------------------------------------

    def sightings(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        face_ids: Sequence[int] | None = None,
        any_rank: bool = False,
    ) -> list[Sighting]:
        """Stored faces with their candidates, by path, then time, then face
        (``store.sightings.SightingReader.sightings``)."""
        return self._sightings.sightings(rule, person_id, face_ids, any_rank)

    def sightings_page(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        *,
        after: int | None = None,
        limit: int = 100,
    ) -> SightingPage:
        """At most ``limit`` stored faces with an id above ``after``, by id, and the
        cursor of the next page (``store.sightings.SightingReader.page``)."""
        return self._sightings.page(rule, person_id, after=after, limit=limit)

    @cached_property
    def queue_memo(self) -> QueueMemo:
        """What review-queue pages share until the library changes (``store.queue``)."""
        return QueueMemo()

    def queue_page(
        self,
        rule: MatchRule,
        q: QueueQuery,
        sort: str,
        after: QueueKey | None,
        limit: int,
        named_fmr_of: NamedFmr,
    ) -> QueueIds:
        """The keys of the first ``limit + 1`` faces of the review queue after ``after``,
        and how many pass ``q`` (``store.queue.QueueReader.page``)."""
        return QueueReader(self._conn, self.queue_memo).page(
            rule, q, sort, after, limit, named_fmr_of
        )

    def people_counts(self, rule: MatchRule) -> dict[int, dict[str, int]]:
        """Each enrolled person's stored faces by decision category, as the review queue's
        totals count them (``store.queue.QueueReader.people_counts``)."""
        return QueueReader(self._conn, self.queue_memo).people_counts(rule)


def _implements_the_protocol(store: Store) -> LibraryStore:
    return store  # mypy checks that Store has every method of LibraryStore
