"""Reading the stored faces' descriptors: what matching, the face index and unknown people read.

Descriptors are read by embedder version (``media.embedder``), so faces described by
another model or of another length are never mixed with the current ones.
"""

from __future__ import annotations

import sqlite3

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import FUSED_FACES
from facesight.errors import NotFoundError
from facesight.store.rows import ReferenceRow, or_nan, query, vector

__all__ = [
    "face_count",
    "face_crop",
    "face_embeddings",
    "face_ids_of_content",
    "face_probe",
    "face_reference_row",
    "newest_face_embeddings",
    "probe_geometry",
]


def face_reference_row(conn: sqlite3.Connection, face_id: int) -> ReferenceRow:
    """A stored face as a reference: its descriptor, box and media.

    ``source_sha256`` is ``<media sha256>#face<id>``, so several faces of one
    media file (a video's tracks) can be references of the same person.
    """
    rows = query(
        conn,
        "SELECT f.*, m.sha256, m.detector, m.embedder, (SELECT path FROM media_paths mp"
        " WHERE mp.media_id = m.id ORDER BY mp.rowid DESC LIMIT 1) AS path"
        " FROM faces f JOIN media m ON m.id = f.media_id WHERE f.id = ?",
        (face_id,),
    )
    if not rows:
        raise NotFoundError(f"no stored face has id {face_id}")
    r = rows[0]
    return ReferenceRow(
        source_path=str(r["path"]),
        source_sha256=f"{r['sha256']}#face{face_id}",
        xyxy=np.array([r["x1"], r["y1"], r["x2"], r["y2"]], np.float32),
        kps5=vector(r["kps5"]).reshape(5, 2),
        score=float(r["score"]),
        embedding=vector(r["embedding"]),
        warnings=str(r["quality_reasons"] or ""),
        detector=str(r["detector"]),
        embedder=str(r["embedder"]),
        quality=r["quality"],
    )


def face_crop(conn: sqlite3.Connection, face_id: int) -> str | None:
    """The crop path stored for a face, as stored (None: no crop was kept).

    Raises:
        NotFoundError: no stored face has this id.
    """
    row = conn.execute("SELECT crop_path FROM faces WHERE id = ?", (int(face_id),)).fetchone()
    if row is None:
        raise NotFoundError(f"no stored face has id {face_id}")
    return None if row[0] is None else str(row[0])


def face_embeddings(
    conn: sqlite3.Connection, embedder: str | None = None, after_id: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float64]]:
    """(ids, (n, d) descriptors, (n,) qualities, NaN if unknown) of stored faces, by id.

    Args:
        embedder: only faces of media described by this descriptor version.
        after_id: only faces with a larger id (those stored since).
    """
    rows = conn.execute(
        "SELECT f.id, f.embedding, f.quality FROM faces f JOIN media m ON m.id = f.media_id"
        " WHERE (? IS NULL OR m.embedder = ?) AND f.id > ? ORDER BY f.id",
        (embedder, embedder, after_id),
    ).fetchall()
    if not rows:
        return np.zeros((0,), np.int64), np.zeros((0, 128), np.float32), np.zeros(0)
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.stack([vector(r[1]) for r in rows]),
        np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64),
    )


def face_probe(
    conn: sqlite3.Connection, face_id: int
) -> tuple[NDArray[np.float32], float, float, int]:
    """(descriptor, quality (NaN if unknown), box width, faces fused) of one stored face,
    as :meth:`face_embeddings` and :meth:`probe_geometry` give them."""
    row = conn.execute(
        "SELECT f.embedding, f.quality, f.x2 - f.x1, CASE WHEN m.kind = 'video'"
        " THEN MIN(COALESCE(f.frames_seen, 1), ?) ELSE 1 END"
        " FROM faces f JOIN media m ON m.id = f.media_id WHERE f.id = ?",
        (FUSED_FACES, face_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no stored face has id {face_id}")
    return vector(row[0]), or_nan(row[1]), float(row[2]), int(row[3])


def probe_geometry(
    conn: sqlite3.Connection, embedder: str
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(n,) box widths and (n,) faces fused into each descriptor (a video track's best
    ``FUSED_FACES``, else 1), parallel to ``face_embeddings(embedder)``."""
    rows = conn.execute(
        "SELECT f.x2 - f.x1, CASE WHEN m.kind = 'video' THEN MIN(COALESCE(f.frames_seen, 1), ?)"
        " ELSE 1 END FROM faces f JOIN media m ON m.id = f.media_id"
        " WHERE m.embedder = ? ORDER BY f.id",
        (FUSED_FACES, embedder),
    ).fetchall()
    return (
        np.array([r[0] for r in rows], np.float64),
        np.array([r[1] for r in rows], np.int64),
    )


def newest_face_embeddings(
    conn: sqlite3.Connection, embedder: str, up_to_id: int, limit: int = 16
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """(ids, descriptors) of the ``limit`` newest faces with id <= ``up_to_id``."""
    rows = conn.execute(
        "SELECT f.id, f.embedding FROM faces f JOIN media m ON m.id = f.media_id"
        " WHERE m.embedder = ? AND f.id <= ? ORDER BY f.id DESC LIMIT ?",
        (embedder, up_to_id, limit),
    ).fetchall()
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.stack([vector(r[1]) for r in rows]) if rows else np.zeros((0, 128), np.float32),
    )


def face_count(conn: sqlite3.Connection, embedder: str) -> tuple[int, int]:
    """(count, largest id or 0) of the stored faces described by ``embedder``."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(f.id), 0) FROM faces f JOIN media m"
        " ON m.id = f.media_id WHERE m.embedder = ?",
        (embedder,),
    ).fetchone()
    return int(row[0]), int(row[1])


def face_ids_of_content(conn: sqlite3.Connection, sha256: str) -> list[int]:
    """The stored faces of the content with this sha256, by id."""
    rows = conn.execute(
        "SELECT f.id FROM faces f JOIN media m ON m.id = f.media_id WHERE m.sha256 = ?"
        " ORDER BY f.id",
        (sha256,),
    ).fetchall()
    return [int(r[0]) for r in rows]
