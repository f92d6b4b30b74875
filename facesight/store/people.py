"""The tables of who is enrolled: ``people``, ``reference_faces``, ``distinct_people`` and
``former_names``.

``former_names`` (migration 16) remembers the names a person was known by before: the
old name of a rename, and a merged person's name (with its own former names and its id).
It is private: nothing shows it; erasure (``library.erasure``) reads it, so that
``forget`` blanks the audit records that mention any name the person had, and deletes
it with the person.

This module is the one writer of these tables (``Store`` calls it). Each
function works inside the caller's transaction and returns what the caller must know to
audit the change or clean up files.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery
from facesight.records import PersonSummary
from facesight.store.models import descriptor_dim
from facesight.store.rows import MatchRule, ReferenceRow, blob, descriptor_blob, now, query, vector

__all__ = [
    "FORMER_NAMES",
    "FormerNames",
    "MergedPeople",
    "StoredReference",
    "add_person",
    "add_reference",
    "delete_person",
    "delete_reference",
    "distinct_pairs",
    "former_names",
    "gallery",
    "list_people",
    "mark_distinct",
    "merge_people",
    "reference",
    "references_of",
    "rename_person",
    "set_reference_crop",
    "update_reference",
]


FORMER_NAMES = """
CREATE TABLE former_names (
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    former_id INTEGER,
    added_at TEXT NOT NULL,
    PRIMARY KEY (person_id, name)
);
"""
"""Migration 16. ``former_id``: the id the name was enrolled under when it came with a
merge (the absorbed person's), so erasure also blanks the notes about that id; NULL
for a rename's old name."""


@dataclass(frozen=True)
class FormerNames:
    """The names a person was known by before, and the ids of the people merged into them."""

    names: list[str]
    ids: list[int]


@dataclass(frozen=True)
class MergedPeople:
    """What a merge of two people changed in the tables of who is enrolled."""

    moved: int
    """references moved to the person kept"""
    dropped: int
    """references of an image the person kept already had, deleted"""
    crops: list[str]
    """the stored crop paths of the dropped references (for the caller to delete)"""


@dataclass(frozen=True)
class StoredReference:
    """One reference face of an enrolled person, as the people pages list it."""

    id: int
    person_id: int
    source_path: str
    crop_path: str | None
    """as stored (relative to the library); None: no crop was kept"""
    face_id: int | None
    """the stored face it was made from (``face_reference_row``), None for an enrolled photo"""
    quality: float | None
    warnings: str
    embedder: str
    created_at: str


_REFERENCE_COLUMNS = (
    "id, person_id, source_path, source_sha256, crop_path, quality, warnings, embedder, created_at"
)


def _reference(row: sqlite3.Row) -> StoredReference:
    _, _, face = str(row["source_sha256"]).partition("#face")
    return StoredReference(
        id=int(row["id"]),
        person_id=int(row["person_id"]),
        source_path=str(row["source_path"]),
        crop_path=None if row["crop_path"] is None else str(row["crop_path"]),
        face_id=int(face) if face.isdigit() else None,
        quality=None if row["quality"] is None else float(row["quality"]),
        warnings=str(row["warnings"] or ""),
        embedder=str(row["embedder"]),
        created_at=str(row["created_at"]),
    )


def references_of(conn: sqlite3.Connection, person_id: int) -> list[StoredReference]:
    """A person's references, oldest first (every descriptor version's)."""
    rows = query(
        conn,
        f"SELECT {_REFERENCE_COLUMNS} FROM reference_faces WHERE person_id = ? ORDER BY id",
        (person_id,),
    )
    return [_reference(r) for r in rows]


def reference(conn: sqlite3.Connection, reference_id: int) -> StoredReference | None:
    """One reference by id, or None."""
    rows = query(
        conn, f"SELECT {_REFERENCE_COLUMNS} FROM reference_faces WHERE id = ?", (reference_id,)
    )
    return _reference(rows[0]) if rows else None


def delete_reference(conn: sqlite3.Connection, reference_id: int) -> str | None:
    """Delete one reference row; its crop path as stored (for the caller to delete), or None."""
    row = conn.execute(
        "SELECT crop_path FROM reference_faces WHERE id = ?", (reference_id,)
    ).fetchone()
    conn.execute("DELETE FROM reference_faces WHERE id = ?", (reference_id,))
    return None if row is None or row[0] is None else str(row[0])


def rename_person(conn: sqlite3.Connection, person_id: int, name: str) -> None:
    """Give a person another name (``name`` already checked, normalised and free); the old
    one becomes a former name."""
    conn.execute(
        "INSERT INTO former_names (person_id, name, added_at)"
        " SELECT id, name, ? FROM people WHERE id = ? ON CONFLICT DO NOTHING",
        (now(), person_id),
    )
    conn.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))
    _drop_current_name(conn, person_id)


def _drop_current_name(conn: sqlite3.Connection, person_id: int) -> None:
    """A name the person has again (renamed back) is not a former one."""
    conn.execute(
        "DELETE FROM former_names WHERE person_id = ?"
        " AND name = (SELECT name FROM people WHERE id = ?)",
        (person_id, person_id),
    )


def former_names(conn: sqlite3.Connection, person_id: int) -> FormerNames:
    """The names ``person_id`` had before (oldest first) and the ids merged into them."""
    rows = conn.execute(
        "SELECT name, former_id FROM former_names WHERE person_id = ? ORDER BY added_at, name",
        (person_id,),
    ).fetchall()
    return FormerNames(
        [str(name) for name, _ in rows], sorted({int(i) for _, i in rows if i is not None})
    )


def _move_former_names(conn: sqlite3.Connection, keep_id: int, absorb_id: int) -> None:
    """``absorb``'s name and its former names (with their ids) become ``keep``'s."""
    conn.execute(
        "INSERT INTO former_names (person_id, name, former_id, added_at)"
        " SELECT ?, name, id, ? FROM people WHERE id = ? ON CONFLICT DO NOTHING",
        (keep_id, now(), absorb_id),
    )
    conn.execute(
        "INSERT INTO former_names (person_id, name, former_id, added_at)"
        " SELECT ?, name, former_id, added_at FROM former_names WHERE person_id = ?"
        " ON CONFLICT DO NOTHING",
        (keep_id, absorb_id),
    )
    conn.execute("DELETE FROM former_names WHERE person_id = ?", (absorb_id,))
    _drop_current_name(conn, keep_id)


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def distinct_pairs(conn: sqlite3.Connection) -> set[tuple[int, int]]:
    """Person id pairs (smaller first) marked as different people."""
    return {
        (int(a), int(b)) for a, b in conn.execute("SELECT person_a, person_b FROM distinct_people")
    }


def mark_distinct(conn: sqlite3.Connection, first: int, second: int, by: str) -> bool:
    """Remember that two people are different; False when the pair was already marked."""
    low, high = _ordered(first, second)
    added = conn.execute(
        "INSERT INTO distinct_people (person_a, person_b, decided_by, decided_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (low, high, by, now()),
    ).rowcount
    return bool(added)


def merge_people(conn: sqlite3.Connection, keep_id: int, absorb_id: int, by: str) -> MergedPeople:
    """Move ``absorb``'s references and distinct pairs to ``keep`` and delete ``absorb``.

    A reference of an image ``keep`` already has is dropped. Review decisions are the
    reviews table's (``store.reviews.move_reviews``): move them before this deletes
    ``absorb``, whose remaining decisions would go with it.
    """
    rows = conn.execute(
        "SELECT id, crop_path FROM reference_faces WHERE person_id = ? AND source_sha256 IN"
        " (SELECT source_sha256 FROM reference_faces WHERE person_id = ?)",
        (absorb_id, keep_id),
    ).fetchall()
    for reference_id, _ in rows:
        conn.execute("DELETE FROM reference_faces WHERE id = ?", (reference_id,))
    moved = conn.execute(
        "UPDATE reference_faces SET person_id = ? WHERE person_id = ?", (keep_id, absorb_id)
    ).rowcount
    _move_distinct_pairs(conn, keep_id, absorb_id, by)
    _move_former_names(conn, keep_id, absorb_id)
    conn.execute("DELETE FROM people WHERE id = ?", (absorb_id,))
    return MergedPeople(int(moved), len(rows), [str(crop) for _, crop in rows if crop])


def _move_distinct_pairs(conn: sqlite3.Connection, keep_id: int, absorb_id: int, by: str) -> None:
    """Pairs ``absorb`` was marked different from now hold for ``keep``."""
    others = conn.execute(
        "SELECT person_a + person_b - ? FROM distinct_people WHERE ? IN (person_a, person_b)",
        (absorb_id, absorb_id),
    ).fetchall()
    for (other,) in others:
        if int(other) == keep_id:
            continue  # told apart before, one person now: the merge overrides that
        mark_distinct(conn, keep_id, int(other), by)


def add_reference(conn: sqlite3.Connection, person_id: int, ref: ReferenceRow) -> int | None:
    """Store a reference face; None if this image is already a reference of the person."""
    x1, y1, x2, y2 = (float(v) for v in ref.xyxy)
    cursor = conn.execute(
        "INSERT INTO reference_faces (person_id, source_path, source_sha256, x1, y1, x2, y2,"
        " kps5, score, embedding, warnings, detector, embedder, created_at, quality)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(person_id, source_sha256) DO NOTHING",
        (
            person_id,
            ref.source_path,
            ref.source_sha256,
            x1,
            y1,
            x2,
            y2,
            blob(ref.kps5),
            ref.score,
            descriptor_blob(ref.embedding, descriptor_dim(conn, ref.embedder)),
            ref.warnings,
            ref.detector,
            ref.embedder,
            now(),
            ref.quality,
        ),
    )
    return None if cursor.rowcount == 0 else int(cursor.lastrowid or 0)


def list_people(conn: sqlite3.Connection, rule: MatchRule) -> list[PersonSummary]:
    """Every enrolled person with counts of references, warnings and matched sightings."""
    rows = query(
        conn,
        "SELECT p.id, p.name, p.created_at,"
        " (SELECT COUNT(*) FROM reference_faces r WHERE r.person_id = p.id) AS refs,"
        " (SELECT COUNT(*) FROM reference_faces r WHERE r.person_id = p.id"
        "   AND r.warnings != '') AS warned,"
        " (SELECT COUNT(*) FROM candidates c WHERE c.person_id = p.id AND c.rank = 1"
        f"   AND c.{rule.column} <= ?) AS seen"
        " FROM people p ORDER BY p.name",
        (rule.limit,),
    )
    return [
        PersonSummary(r["id"], r["name"], r["refs"], r["warned"], r["seen"], r["created_at"])
        for r in rows
    ]


def delete_person(conn: sqlite3.Connection, person_id: int) -> tuple[int, int, list[str]]:
    """Delete a person and (by cascade) their references and candidates.

    Returns (references removed, candidate rows removed, crop paths to delete).
    """
    crops = [
        str(r[0])
        for r in conn.execute(
            "SELECT crop_path FROM reference_faces WHERE person_id = ? AND crop_path IS NOT NULL",
            (person_id,),
        )
    ]
    refs = conn.execute(
        "SELECT COUNT(*) FROM reference_faces WHERE person_id = ?", (person_id,)
    ).fetchone()[0]
    cands = conn.execute(
        "SELECT COUNT(*) FROM candidates WHERE person_id = ?", (person_id,)
    ).fetchone()[0]
    conn.execute("DELETE FROM former_names WHERE person_id = ?", (person_id,))
    conn.execute("DELETE FROM people WHERE id = ?", (person_id,))
    return int(refs), int(cands), crops


def gallery(
    conn: sqlite3.Connection, embedder: str | None = None, person_id: int | None = None
) -> Gallery:
    """Every reference of every person, ordered by person then reference id.

    Args:
        embedder: only references described by this descriptor version.
        person_id: only this person's references.
    """
    rows = conn.execute(
        "SELECT r.id, r.person_id, p.name, r.source_path, r.embedding"
        " FROM reference_faces r JOIN people p ON p.id = r.person_id"
        " WHERE (? IS NULL OR r.embedder = ?) AND (? IS NULL OR r.person_id = ?)"
        " ORDER BY p.id, r.id",
        (embedder, embedder, person_id, person_id),
    ).fetchall()
    embeddings = np.stack([vector(r[4]) for r in rows]) if rows else np.zeros((0, 128), np.float32)
    return Gallery(
        reference_ids=np.array([r[0] for r in rows], dtype=np.int64),
        person_ids=np.array([r[1] for r in rows], dtype=np.int64),
        person_names=[str(r[2]) for r in rows],
        reference_paths=[str(r[3]) for r in rows],
        embeddings=embeddings,
    )


def add_person(conn: sqlite3.Connection, name: str) -> int:
    """Create the person (``name`` already checked and normalised) if needed; the id."""
    conn.execute(
        "INSERT INTO people (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
        (name, now()),
    )
    return int(conn.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0])


def set_reference_crop(conn: sqlite3.Connection, reference_id: int, stored: str) -> None:
    """Name the crop file (as stored: relative to the library) of a reference."""
    conn.execute("UPDATE reference_faces SET crop_path = ? WHERE id = ?", (stored, reference_id))


def update_reference(
    conn: sqlite3.Connection,
    reference_id: int,
    embedding: NDArray[np.float32],
    embedder: str,
    quality: float,
) -> None:
    """Replace a reference's descriptor with one from the current model."""
    conn.execute(
        "UPDATE reference_faces SET embedding = ?, embedder = ?, quality = ? WHERE id = ?",
        (
            descriptor_blob(embedding, descriptor_dim(conn, embedder)),
            embedder,
            quality,
            reference_id,
        ),
    )
