"""The tables of what was scanned: ``media``, ``media_paths``, ``faces`` and ``candidates``.

The one writer of these tables and of ``media_errors`` (``Store`` calls it inside its
transactions). Review decisions of content
analysed again are the reviews table's (``store.reviews``); the rule that says which new
face they follow is handed in (``ReviewCarry``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from facesight.descriptors import EMBEDDING_DIM
from facesight.records import Candidate, MediaFailure
from facesight.store.changes import note_change
from facesight.store.imported_tags import carry_imported_tags, tags_of_content
from facesight.store.models import descriptor_dim
from facesight.store.reviews import carry_reviews, reviews_of_content
from facesight.store.rows import FaceRow, MediaRow, ReviewCarry, blob, descriptor_blob, now

__all__ = [
    "CANDIDATE_COLUMNS",
    "FACE_COLUMNS",
    "MEDIA_COLUMNS",
    "add_media_path",
    "candidate_values",
    "delete_faces",
    "face_values",
    "insert_candidates",
    "insert_face",
    "media_values",
    "record_failure",
    "replace_candidates",
    "save_media",
]


MEDIA_COLUMNS = (
    "sha256",
    "kind",
    "width",
    "height",
    "captured_at",
    "gps_lat",
    "gps_lon",
    "face_count",
    "detector",
    "embedder",
    "scanned_at",
    "duration_s",
)
FACE_COLUMNS = (
    "media_id",
    "frame",
    "face_index",
    "x1",
    "y1",
    "x2",
    "y2",
    "kps5",
    "score",
    "embedding",
    "crop_path",
    "quality",
    "quality_reasons",
    "time_s",
    "start_s",
    "end_s",
    "frames_seen",
)
CANDIDATE_COLUMNS = (
    "face_id",
    "rank",
    "person_id",
    "reference_id",
    "distance",
    "is_match",
    "max_distance",
    "fmr",
    "reference_distance",
    "template_size",
    "insufficient_quality",
)
"""The columns each row writer fills, in the order of :func:`media_values`,
:func:`face_values` and :func:`candidate_values` (row INSERTs here, PostgreSQL's ``COPY``
in ``store.postgres``)."""


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def media_values(media: MediaRow) -> tuple[object, ...]:
    """A media row's values, in ``MEDIA_COLUMNS`` order."""
    gps_lat, gps_lon = media.gps if media.gps else (None, None)
    return (
        media.sha256,
        media.kind,
        media.width_px,
        media.height_px,
        media.captured_at,
        gps_lat,
        gps_lon,
        media.face_count,
        media.detector,
        media.embedder,
        now(),
        media.duration_s,
    )


def face_values(
    media_id: int, face: FaceRow, stored_path: Callable[[str], str], dim: int = EMBEDDING_DIM
) -> tuple[object, ...]:
    """A face row's values, in ``FACE_COLUMNS`` order (its descriptor checked against its
    model's length ``dim``)."""
    x1, y1, x2, y2 = (float(v) for v in face.xyxy)
    return (
        media_id,
        face.frame,
        face.face_index,
        x1,
        y1,
        x2,
        y2,
        blob(face.kps5),
        face.score,
        descriptor_blob(face.embedding, dim),
        None if face.crop_path is None else stored_path(face.crop_path),
        face.quality,
        face.quality_reasons,
        face.time_s,
        face.start_s,
        face.end_s,
        face.frames_seen,
    )


def candidate_values(face_id: int, candidates: Sequence[Candidate]) -> list[tuple[object, ...]]:
    """The candidate rows of one face, ranked from 1, in ``CANDIDATE_COLUMNS`` order."""
    return [
        (
            face_id,
            rank,
            c.person_id,
            c.reference_id,
            c.distance,
            int(c.is_match),
            # an uncalibrated model's limit is NaN: stored as 0, under which nothing is
            c.max_distance if c.max_distance == c.max_distance else 0.0,
            c.fmr,
            c.reference_distance,
            c.references,
            int(c.insufficient_quality),
        )
        for rank, c in enumerate(candidates, start=1)
    ]


def save_media(
    conn: sqlite3.Connection,
    path: str,
    media: MediaRow,
    faces: Sequence[FaceRow],
    carry: ReviewCarry | None,
    stored_path: Callable[[str], str],
) -> int:
    """Store one scanned file with its faces and candidates in the caller's transaction.

    Content already stored under the same sha256 (described by an older model) is
    replaced; its other paths are kept, and its review decisions and imported tags go to
    the new faces ``carry`` names (``store.reviews.carry_reviews``,
    ``store.imported_tags.carry_imported_tags``; none without it).
    """
    old_paths = [
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            "SELECT mp.path, mp.first_seen_at FROM media_paths mp"
            " JOIN media m ON m.id = mp.media_id WHERE m.sha256 = ? AND mp.path != ?",
            (media.sha256, path),
        )
    ]
    kept_reviews = reviews_of_content(conn, media.sha256)
    kept_tags = tags_of_content(conn, media.sha256)
    note_change(conn)
    conn.execute("DELETE FROM media WHERE sha256 = ?", (media.sha256,))
    media_id = int(
        conn.execute(_insert("media", MEDIA_COLUMNS), media_values(media)).lastrowid or 0
    )
    conn.executemany(
        "INSERT INTO media_paths (media_id, path, first_seen_at) VALUES (?, ?, ?)",
        [(media_id, old, seen) for old, seen in old_paths] + [(media_id, path, now())],
    )
    stored = []
    dim = descriptor_dim(conn, media.embedder)
    for face in faces:
        face_id = insert_face(conn, media_id, face, stored_path, dim)
        stored.append((face_id, face))
        insert_candidates(conn, face_id, face.candidates)
    conn.execute("DELETE FROM media_errors WHERE path = ?", (path,))
    if carry is not None and kept_reviews:
        carry_reviews(conn, kept_reviews, stored, carry)
    if carry is not None and kept_tags:
        carry_imported_tags(conn, kept_tags, stored, carry)
    return media_id


def insert_face(
    conn: sqlite3.Connection,
    media_id: int,
    face: FaceRow,
    stored_path: Callable[[str], str],
    dim: int = EMBEDDING_DIM,
) -> int:
    cursor = conn.execute(
        _insert("faces", FACE_COLUMNS), face_values(media_id, face, stored_path, dim)
    )
    return int(cursor.lastrowid or 0)


def insert_candidates(
    conn: sqlite3.Connection, face_id: int, candidates: Sequence[Candidate]
) -> None:
    conn.executemany(
        _insert("candidates", CANDIDATE_COLUMNS), candidate_values(face_id, candidates)
    )


def delete_faces(conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[str]:
    """Delete stored faces (their candidates, reviews and cluster places by cascade);
    their crop paths, for the caller to delete. The media rows stay."""
    crops: list[str] = []
    note_change(conn)
    for face_id in face_ids:
        row = conn.execute("SELECT crop_path FROM faces WHERE id = ?", (face_id,)).fetchone()
        if row is None:
            continue
        if row[0] is not None:
            crops.append(str(row[0]))
        conn.execute("DELETE FROM faces WHERE id = ?", (face_id,))
    return crops


def add_media_path(conn: sqlite3.Connection, media_id: int, path: str) -> None:
    """Another path where known content was seen (rename, copy); its old failure goes."""
    note_change(conn)  # the queue's path filter reads the newest path
    conn.execute(
        "INSERT INTO media_paths (media_id, path, first_seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (media_id, path, now()),
    )
    conn.execute("DELETE FROM media_errors WHERE path = ?", (path,))


def replace_candidates(conn: sqlite3.Connection, per_face: dict[int, Sequence[Candidate]]) -> None:
    """Replace the candidates of every stored face."""
    note_change(conn)
    conn.execute("DELETE FROM candidates")
    for face_id, candidates in per_face.items():
        insert_candidates(conn, face_id, candidates)


def record_failure(conn: sqlite3.Connection, failure: MediaFailure, sha256: str | None) -> None:
    """Remember a file that could not be used (replacing an older record for the path)."""
    conn.execute(
        "INSERT INTO media_errors (path, sha256, kind, message, at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, kind = excluded.kind,"
        " message = excluded.message, at = excluded.at",
        (failure.path, sha256, failure.kind, failure.message, now()),
    )
