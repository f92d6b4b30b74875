"""Nearest stored faces in PostgreSQL: pgvector, exact for small libraries, IVFFlat beyond.

What ``index.face_index.FaceIndex`` (faiss) is for a SQLite library, the database
itself is for a PostgreSQL one: :class:`VectorSearch` answers ``search`` and ``len``
as FaceIndex does, from the ``faces`` table, so there is no index file to keep in step
and every machine searches the same faces.

Up to ``EXACT_UP_TO`` faces of a descriptor version a search is exact (a sequential
scan of the descriptors: no index to build or keep). Above it, the first search builds
an IVFFlat index over the descriptors of that length (a partial index on
``embedding::vector(dim)``, so other lengths stay searchable exactly) with one list per
``FACES_PER_LIST`` faces, and scans ``1 / PROBED_SHARE`` of its lists, iteratively
(pgvector 0.8), so faces of another descriptor version filtered out do not shorten the
answer. New faces join their nearest list; when the faces have grown to 4x what the
lists were made for, the next search makes the index again (as ``FaceIndex`` retrains).

Why IVFFlat and not HNSW: ``bench/postgres_search.py`` (docs/scale.md) on real
descriptors plus perturbed copies found what ``bench/index_search.py`` found for faiss:
stored faces form tight clusters (many photos of each person), HNSW's graph search
stops short of them (recall@1 0.993 at ef_search 400 at 250k) while an inverted file
scans whole lists (recall@1 1.000 with a sixth of the lists), and IVFFlat builds in
seconds where HNSW takes minutes (4 s against 148 s at 250k).
"""

from __future__ import annotations

import sqlite3

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError
from facesight.store.rows import DescriptorBlob, blob

__all__ = ["EXACT_UP_TO", "FACES_PER_LIST", "PROBED_SHARE", "VectorSearch"]

EXACT_UP_TO = 50_000
"""Faces searched exactly: bench/postgres_search.py measured an exact search (a
sequential scan) at 91 ms p50 for 250k faces, so about 20 ms at this size; past it the
IVFFlat index answers in a few ms (docs/scale.md)."""

FACES_PER_LIST = 1000
"""IVFFlat lists: one per this many faces (pgvector's advice up to 1M rows)."""

PROBED_SHARE = 6
"""Lists scanned per search: one in this many (at least 4); bench/postgres_search.py:
recall@1 1.000 at 250k with 40 of 250 lists (docs/scale.md)."""


class VectorSearch:
    """The faces of one descriptor version, searched in the database.

    Args:
        conn: the library's connection (``PostgresStore``'s).
        embedder: the descriptor version whose faces are searched.
        exact_up_to: search exactly while at most this many faces are stored.
    """

    def __init__(
        self, conn: sqlite3.Connection, embedder: str, *, exact_up_to: int = EXACT_UP_TO
    ) -> None:
        self._conn = conn
        self.embedder = embedder
        self.exact_up_to = exact_up_to

    def __len__(self) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM faces f JOIN media m ON m.id = f.media_id WHERE m.embedder = ?",
            (self.embedder,),
        ).fetchone()
        return int(row[0]) if row else 0

    def _indexed(self, dim: int) -> bool:
        """Whether searches of this length go through the HNSW index (built if due)."""
        count = len(self)
        if count <= self.exact_up_to:
            return False
        name = f"faces_embedding_ivfflat_{dim}"
        row = self._conn.execute(
            "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = ?", (name,)
        ).fetchone()
        lists = int(str(row[0]).split("lists=")[1].split(",")[0]) if row and row[0] else 0
        if lists and count // FACES_PER_LIST >= 4 * lists:
            self._conn.execute(f"DROP INDEX {name}")  # grown 4x: lists made again
            lists = 0
        if not lists:
            lists = max(count // FACES_PER_LIST, 10)
            self._conn.execute(
                f"CREATE INDEX {name} ON faces USING ivfflat"
                f" ((embedding::vector({dim})) vector_l2_ops) WITH (lists = {lists})"
                f" WHERE vector_dims(embedding) = {dim}"
            )
        probes = min(lists, max(lists // PROBED_SHARE, 4))
        self._conn.execute(f"SET ivfflat.probes = {probes}")
        self._conn.execute("SET ivfflat.iterative_scan = relaxed_order")
        return True

    def search(
        self, vectors: NDArray[np.float32], k: int = 10
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The ``k`` stored faces nearest each of (q, dim) ``vectors``: (q, k) float32
        Euclidean distances, nearest first, and (q, k) int64 face ids, padded with
        ``inf`` / ``-1`` (as ``FaceIndex.search``)."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        queries = np.atleast_2d(np.asarray(vectors, np.float32))
        dim = queries.shape[1]
        column = f"f.embedding::vector({dim})" if self._indexed(dim) else "f.embedding"
        distances = np.full((len(queries), k), np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, query in enumerate(queries):
            probe = DescriptorBlob(blob(query))
            found = self._conn.execute(
                f"SELECT f.id, {column} <-> ? FROM faces f JOIN media m ON m.id = f.media_id"
                f" WHERE m.embedder = ? AND vector_dims(f.embedding) = ?"
                f" ORDER BY {column} <-> ? LIMIT ?",
                (probe, self.embedder, dim, probe, k),
            ).fetchall()
            # an iterative index scan may return a near-tie out of order (relaxed_order)
            found.sort(key=lambda r: float(r[1]))
            for col, (face_id, distance) in enumerate(found):
                ids[row, col], distances[row, col] = int(face_id), float(distance)
        return distances, ids
