"""The tables of unknown people: ``unknown_clusters``, ``unknown_members``, ``unknown_exclusions``.

The one writer of these tables. ``library.unknowns`` decides which faces go where
(``identity.cluster``) and calls these inside ``Store.transaction()`` (the same
connection), so each decision is written whole with its audit record.

Rows of ``unknown_clusters`` are never deleted: they are the id counter, so an id a user
once saw never names another cluster.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from facesight.store.changes import change_mark, note_change
from facesight.store.queue import QueueMemo
from facesight.store.rows import now

__all__ = ["ClusterMember", "ClusterSize", "UnknownTables"]

_SIGNATURE_SQL = (
    "SELECT (SELECT COUNT(*) FROM faces), (SELECT COALESCE(MAX(id), 0) FROM faces),"
    " (SELECT group_concat(v, ' ') FROM (SELECT embedder || '=' || COUNT(*) AS v"
    "   FROM reference_faces GROUP BY embedder ORDER BY embedder)),"
    " (SELECT COALESCE(MAX(id), 0) FROM reference_faces),"
    " (SELECT COUNT(*) FROM people), (SELECT COALESCE(MAX(id), 0) FROM people),"
    " (SELECT COALESCE(MAX(id), 0) FROM reviews), (SELECT COALESCE(MAX(id), 0) FROM audit_log),"
    " (SELECT COUNT(*) FROM unknown_members), (SELECT COALESCE(MAX(id), 0) FROM unknown_clusters),"
    " (SELECT COUNT(*) FROM unknown_exclusions)"
)

OWN_SIGNATURE_VALUES = 3
"""The last values of :meth:`UnknownTables.signature` describe these tables themselves."""

_MEMBERS_SQL = (
    "SELECT um.cluster_id, f.id, f.media_id, f.crop_path, f.quality, f.score, f.start_s,"
    " f.end_s, m.kind, m.captured_at, (SELECT path FROM media_paths mp"
    " WHERE mp.media_id = m.id ORDER BY mp.rowid DESC LIMIT 1) AS path"
    " FROM unknown_members um JOIN faces f ON f.id = um.face_id"
    " JOIN media m ON m.id = f.media_id{where} ORDER BY um.cluster_id, path, f.start_s, f.id"
)

_SIZES_SQL = (
    "SELECT um.cluster_id, COUNT(*) AS faces, COUNT(DISTINCT f.media_id) AS media"
    " FROM unknown_members um JOIN faces f ON f.id = um.face_id GROUP BY um.cluster_id"
)
"""Faces and distinct media of every cluster: one pass over the members' (face, media)
pairs, no row of theirs read into Python."""

_BEST_FIRST = "COALESCE(f.quality, -1.0) DESC, f.score DESC, f.id"
"""``library.unknowns``' best-first order of a cluster's faces, in SQL."""


@dataclass(frozen=True)
class ClusterSize:
    """A cluster's id, faces and distinct media (``UnknownTables.sizes``)."""

    cluster_id: int
    faces: int
    media: int


@dataclass(frozen=True)
class ClusterMember:
    """One face of a cluster, with what a cluster summary shows of it and its media."""

    cluster_id: int
    face_id: int
    media_id: int
    crop_path: str | None
    quality: float | None
    score: float
    start_s: float | None
    end_s: float | None
    kind: str
    captured_at: str | None
    path: str


class UnknownTables:
    """Reads and writes the unknown-people tables of one library connection.

    Writes must run inside the store's ``transaction()`` (they use its connection).
    """

    def __init__(self, conn: sqlite3.Connection, memo: QueueMemo | None = None) -> None:
        self._conn = conn
        self._memo = memo or QueueMemo()

    def signature(self) -> list[Any]:
        """Counts and largest ids of what refreshing depends on, read without a model
        (references by descriptor version, so a reindex counts); the last
        ``OWN_SIGNATURE_VALUES`` are of the unknown-people tables."""
        return list(self._conn.execute(_SIGNATURE_SQL).fetchone())

    def memberships(self) -> dict[int, int]:
        """Cluster id of every clustered face."""
        return {
            int(f): int(c)
            for f, c in self._conn.execute("SELECT face_id, cluster_id FROM unknown_members")
        }

    def exclusions(self) -> list[tuple[int, int]]:
        """(face, cluster) pairs a user split apart."""
        return [
            (int(f), int(c))
            for f, c in self._conn.execute("SELECT face_id, cluster_id FROM unknown_exclusions")
        ]

    def last_cluster_id(self) -> int:
        return int(
            self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM unknown_clusters").fetchone()[0]
        )

    def members(self, cluster_ids: Sequence[int] | None = None) -> list[ClusterMember]:
        """Every clustered face (of these clusters), by cluster, then path, then start."""
        if cluster_ids is None:
            return [ClusterMember(*r) for r in self._conn.execute(_MEMBERS_SQL.format(where=""))]
        ids = [int(c) for c in cluster_ids]
        if not ids:
            return []
        where = f" WHERE um.cluster_id IN ({','.join('?' * len(ids))})"
        return [
            ClusterMember(*r) for r in self._conn.execute(_MEMBERS_SQL.format(where=where), ids)
        ]

    def sizes(
        self, *, min_media: int = 1, after: int | None = None, limit: int | None = None
    ) -> list[ClusterSize]:
        """Clusters seen in at least ``min_media`` media files, by distinct media, then
        faces, most first, then id; those after cluster ``after`` in that order (a keyset:
        a cluster that is gone starts from the first page); at most ``limit``.

        Every cluster's size is one GROUP BY over the members' faces (one row per cluster
        comes back, none per face), kept until the library changes (``QueueMemo``)."""
        ranked: list[ClusterSize] = self._memo.get(
            change_mark(self._conn), ("sizes",), self._ranked
        )
        found = [c for c in ranked if c.media >= min_media]
        if after is not None:
            at = next((i for i, c in enumerate(found) if c.cluster_id == after), None)
            if at is not None:
                found = found[at + 1 :]
            else:
                last = next((c for c in ranked if c.cluster_id == after), None)
                if last is not None:  # fewer media than asked: after it in the order
                    key = (-last.media, -last.faces, last.cluster_id)
                    found = [c for c in found if (-c.media, -c.faces, c.cluster_id) > key]
        return found if limit is None else found[:limit]

    def _ranked(self) -> list[ClusterSize]:
        return [
            ClusterSize(int(c), int(f), int(m))
            for c, f, m in self._conn.execute(
                f"SELECT cluster_id, faces, media FROM ({_SIZES_SQL}) s"
                " ORDER BY media DESC, faces DESC, cluster_id"
            )
        ]

    def faces_page(self, cluster_id: int, *, after: int | None, limit: int) -> list[int]:
        """At most ``limit`` face ids of a cluster, best quality first (then detection
        score, then id), after face ``after`` in that order (None: the first page)."""
        sql = (
            "SELECT f.id FROM unknown_members um JOIN faces f ON f.id = um.face_id"
            " WHERE um.cluster_id = ?"
        )
        params: list[Any] = [int(cluster_id)]
        if after is not None:
            key = self._conn.execute(
                "SELECT COALESCE(quality, -1.0), score FROM faces WHERE id = ?", (int(after),)
            ).fetchone()
            if key is not None:
                quality, score = float(key[0]), float(key[1])
                sql += (
                    " AND (COALESCE(f.quality, -1.0) < ? OR (COALESCE(f.quality, -1.0) = ?"
                    " AND (f.score < ? OR (f.score = ? AND f.id > ?))))"
                )
                params += [quality, quality, score, score, int(after)]
        sql += f" ORDER BY {_BEST_FIRST} LIMIT ?"
        return [int(r[0]) for r in self._conn.execute(sql, [*params, int(limit)])]

    def faces_of(self, cluster_id: int) -> list[int]:
        """The face ids of one cluster, in id order (empty when it is gone or unknown)."""
        return [
            int(r[0])
            for r in self._conn.execute(
                "SELECT face_id FROM unknown_members WHERE cluster_id = ? ORDER BY face_id",
                (cluster_id,),
            )
        ]

    def ever_existed(self, cluster_id: int) -> bool:
        found = self._conn.execute("SELECT 1 FROM unknown_clusters WHERE id = ?", (cluster_id,))
        return found.fetchone() is not None

    def add_clusters(self, cluster_ids: Iterable[int]) -> None:
        self._conn.executemany(
            "INSERT INTO unknown_clusters (id, created_at) VALUES (?, ?)",
            [(int(c), now()) for c in cluster_ids],
        )

    def add_members(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Place (face, cluster) pairs."""
        note_change(self._conn)
        self._conn.executemany(
            "INSERT INTO unknown_members (face_id, cluster_id) VALUES (?, ?)",
            [(int(f), int(c)) for f, c in pairs],
        )

    def remove_faces(self, face_ids: Iterable[int]) -> None:
        note_change(self._conn)
        self._conn.executemany(
            "DELETE FROM unknown_members WHERE face_id = ?", [(int(f),) for f in face_ids]
        )

    def empty_cluster(self, cluster_id: int) -> None:
        note_change(self._conn)
        self._conn.execute("DELETE FROM unknown_members WHERE cluster_id = ?", (cluster_id,))

    def exclude(self, cluster_id: int, face_ids: Sequence[int]) -> None:
        """Bar these faces from the cluster for good (they are taken out first)."""
        self.remove_faces(face_ids)
        self._conn.executemany(
            "INSERT INTO unknown_exclusions (face_id, cluster_id, at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(int(f), cluster_id, now()) for f in face_ids],
        )

    def new_cluster(self, face_ids: Sequence[int]) -> int:
        """A new cluster of these faces; its id."""
        cluster_id = self.last_cluster_id() + 1
        self.add_clusters([cluster_id])
        self.add_members((f, cluster_id) for f in face_ids)
        return cluster_id

    def merge(self, into: int, other: int) -> None:
        """Move ``other``'s faces and exclusions to ``into``; a face split out of one and
        now in the other is back (its exclusion is lifted)."""
        note_change(self._conn)
        self._conn.execute(
            "UPDATE unknown_members SET cluster_id = ? WHERE cluster_id = ?", (into, other)
        )
        self._conn.execute(
            "INSERT INTO unknown_exclusions (face_id, cluster_id, at)"
            " SELECT face_id, ?, at FROM unknown_exclusions WHERE cluster_id = ?"
            " ON CONFLICT DO NOTHING",
            (into, other),
        )
        self._conn.execute(
            "DELETE FROM unknown_exclusions WHERE cluster_id = ? OR (cluster_id = ? AND"
            " face_id IN (SELECT face_id FROM unknown_members WHERE cluster_id = ?))",
            (other, into, into),
        )
