"""What the layers above ask of a library store: the ``LibraryStore`` protocol.

``store.sqlite.Store`` implements it, and ``store.postgres.PostgresStore`` (checked by
mypy: each module ends with an assignment of its store to a ``LibraryStore``);
``store.backend.open_store`` picks one from the library's location. It is shaped for
what comes next without building it:

- **Filtered lists with keyset pagination.** The web workspace pages through millions of
  faces, so a list is asked for as ``(filters, after, limit)`` and answers rows and the
  cursor of the next page (:meth:`LibraryStore.sightings_page`: the cursor is the last face
  id, the query ``WHERE id > after ORDER BY id LIMIT limit + 1``, one index range per page
  at any depth, no OFFSET). Further lists (people, media, audit records, unknown people)
  follow the same shape, ``*_page(..., after, limit) -> rows, next_after``.
- **Users, sessions and jobs.** The next stage adds ``users`` (who may sign in, with a
  role), ``sessions`` (a signed-in browser) and ``jobs`` (a queued or running scan,
  reindex or export, with its progress and the user who asked). They come as their own
  store modules, each the one writer of its table, and their methods join this protocol
  (``add_user``, ``session``, ``enqueue_job``, ``jobs_page(..., after, limit)``); the audit
  log's actor then names a user id. No table exists yet.
- **Descriptors of more than one model and length.** Each stored descriptor is read and
  written with its embedder version (``media.embedder`` for faces,
  ``reference_faces.embedder`` for references); every descriptor read takes an
  ``embedder`` and never mixes versions. A descriptor's length (its dimension) is carried
  by the blob itself (``len(blob) / 4`` float32 values, ``store.rows.vector``) and checked
  at write time against the model's contract (``descriptors.EMBEDDING_DIM``,
  ``DESCRIPTOR_LENGTH``); a second model of another dimension needs its contract looked
  up by embedder version instead of the two constants, not a schema change.

A transaction handle (``Transaction``) is what ``transaction()`` yields and the write
methods that join a caller's transaction take: a ``sqlite3.Connection`` here, a
PostgreSQL connection there; callers treat it as opaque and only hand it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery, NearestFaces
from facesight.records import Candidate, MediaFailure, PersonSummary, Sighting
from facesight.store.audit import AuditLog
from facesight.store.reviews import ReviewBook
from facesight.store.rows import FaceRow, MatchRule, MediaRow, ReferenceRow, ReviewCarry
from facesight.store.sightings import SightingPage

__all__ = ["LibraryStore", "Transaction"]

Transaction = Any
"""The handle of an open transaction (opaque to callers; see the module docstring)."""


class LibraryStore(Protocol):
    """The library database as the layers above use it (see the module docstring)."""

    path: str
    read_only: bool

    # -- lifetime and transactions
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[Transaction]: ...
    def checkpoint(self) -> None: ...
    def integrity_problems(self) -> list[str]: ...
    def missing_schema_objects(self) -> tuple[list[tuple[str, str]], int]: ...

    # -- the audit log and review decisions (written in the store's transactions)
    def audit_log(self, actor: str | None = None) -> AuditLog: ...
    def review_book(self, audit: AuditLog) -> ReviewBook: ...

    # -- people and references
    def person_id(self, name: str) -> int | None: ...
    def require_person(self, name: str) -> int: ...
    def people_names(self) -> list[tuple[int, str]]: ...
    def person_name(self, person_id: int) -> str: ...
    def list_people(self, rule: MatchRule) -> list[PersonSummary]: ...
    def add_person(self, conn: Transaction, name: str) -> int: ...
    def add_reference(self, conn: Transaction, person_id: int, ref: ReferenceRow) -> int | None: ...
    def set_reference_crop(self, conn: Transaction, reference_id: int, path: str) -> None: ...
    def delete_person(self, conn: Transaction, person_id: int) -> tuple[int, int, list[str]]: ...
    def distinct_pairs(self) -> set[tuple[int, int]]: ...
    def gallery(self, embedder: str | None = None, person_id: int | None = None) -> Gallery: ...
    def reference_crops(self, reference_ids: Sequence[int]) -> dict[int, str | None]: ...
    def update_reference(
        self, reference_id: int, embedding: NDArray[np.float32], embedder: str, quality: float
    ) -> None: ...

    # -- media, faces, candidates
    def media_id(self, sha256: str, embedder: str | None = None) -> int | None: ...
    def stale_media(self, embedder: str) -> list[str]: ...
    def add_media_path(self, media_id: int, path: str) -> None: ...
    def save_media_batch(
        self,
        batch: Sequence[tuple[str, MediaRow, Sequence[FaceRow]]],
        carry: ReviewCarry | None = None,
    ) -> list[int]: ...
    def delete_faces(self, conn: Transaction, face_ids: Sequence[int]) -> list[str]: ...
    def replace_candidates(self, per_face: dict[int, Sequence[Candidate]]) -> None: ...
    def record_failure(self, failure: MediaFailure, sha256: str | None = None) -> None: ...
    def failures(self) -> list[MediaFailure]: ...

    # -- descriptors (always of one embedder version)
    def face_embeddings(
        self, embedder: str | None = None, after_id: int = 0
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float64]]: ...
    def face_probe(self, face_id: int) -> tuple[NDArray[np.float32], float, float, int]: ...
    def face_reference_row(self, face_id: int) -> ReferenceRow: ...
    def probe_geometry(self, embedder: str) -> tuple[NDArray[np.float64], NDArray[np.int64]]: ...
    def newest_face_embeddings(
        self, embedder: str, up_to_id: int, limit: int = 16
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]: ...
    def face_count(self, embedder: str) -> tuple[int, int]: ...
    def nearest_faces(self, embedder: str) -> NearestFaces | None: ...

    # -- sightings: whole, or a page at a time
    def sightings(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        face_ids: Sequence[int] | None = None,
        any_rank: bool = False,
    ) -> list[Sighting]: ...
    def sightings_page(
        self,
        rule: MatchRule | None,
        person_id: int | None = None,
        *,
        after: int | None = None,
        limit: int = 100,
    ) -> SightingPage: ...

    # -- files the rows name (crops), relative to the library
    def stored_path(self, path: str) -> str: ...
    def file_path(self, value: str | None) -> str | None: ...
    def stored_crop_paths(self) -> set[str]: ...
    def owned_file(self, value: str) -> Path | None: ...
