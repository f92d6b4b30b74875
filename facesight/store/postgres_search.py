"""Nearest stored faces in PostgreSQL: pgvector, exact for small libraries, HNSW beyond.

What ``index.face_index.FaceIndex`` (faiss) is for a SQLite library, the database
itself is for a PostgreSQL one: :class:`VectorSearch` answers ``search`` and ``len``
as FaceIndex does, from the ``faces`` table, so there is no index file to keep in step
and every machine searches the same faces.

Up to ``EXACT_UP_TO`` faces of a descriptor version a search is exact (a sequential
scan of the descriptors: no index to build or keep). Above it, the first search builds
an HNSW index (m 16, ef_construction 64) over the descriptors of that length (a partial
index on ``embedding::vector(dim)``, so other lengths stay searchable exactly) and
searches with ``hnsw.ef_search = EF_SEARCH``, iteratively (pgvector 0.8), so faces of
another descriptor version filtered out do not shorten the answer. Both constants come
from ``bench/postgres_search.py`` (docs/scale.md).
"""

from __future__ import annotations

import sqlite3

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError
from facesight.store.rows import DescriptorBlob, blob

__all__ = ["EF_SEARCH", "EXACT_UP_TO", "VectorSearch"]

EXACT_UP_TO = 50_000
"""Faces searched exactly: bench/postgres_search.py measured an exact search at about
0.65 ms per 1,000 faces (one core), so 30 ms at this size; past it an HNSW index
answers in a few ms."""

EF_SEARCH = 200
"""HNSW candidates kept per search (bench/postgres_search.py: recall@1 and @10 against
exact search, docs/scale.md)."""


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
        if len(self) <= self.exact_up_to:
            return False
        name = f"faces_embedding_hnsw_{dim}"
        self._conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON faces USING hnsw"
            f" ((embedding::vector({dim})) vector_l2_ops) WITH (m = 16, ef_construction = 64)"
            f" WHERE vector_dims(embedding) = {dim}"
        )
        self._conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        self._conn.execute("SET hnsw.iterative_scan = strict_order")
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
            for col, (face_id, distance) in enumerate(found):
                ids[row, col], distances[row, col] = int(face_id), float(distance)
        return distances, ids
