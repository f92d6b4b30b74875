"""Face tags imported from other tools (``import-tags``): the ``imported_tags`` table.

The one writer of the table. A row says that a stored face was tagged as a person by
another tool (``tool``: the format and software, ``source``: the file the tag was read
from): an *imported (unverified)* naming, shown as such until a reviewer confirms or
rejects it through the review decisions (``store.reviews``), which it never replaces. A
face keeps at most one imported name per person; deleting the face or the person removes
the row (foreign keys, as for reviews).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from facesight.records import ImportedTag
from facesight.store.rows import FaceRow, Place, ReviewCarry, now, query

__all__ = [
    "IMPORTED_TAGS_SQL",
    "ImportedTags",
    "carry_imported_tags",
    "move_imported_tags",
    "tags_of_content",
]

IMPORTED_TAGS_SQL = """
CREATE TABLE imported_tags (
    id INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    tool TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    UNIQUE (face_id, person_id)
);
CREATE INDEX imported_tags_by_person ON imported_tags(person_id, face_id)
"""
"""Migration 10 (portable SQL: SQLite and PostgreSQL)."""

_CHUNK = 500


class ImportedTags:
    """Reads and writes the imported tags of one library connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(
        self, conn: sqlite3.Connection, face_id: int, person_id: int, tool: str, source: str
    ) -> bool:
        """Record a tag inside the caller's transaction; False if the face already has an
        imported tag of this person (the first is kept)."""
        cursor = conn.execute(
            "INSERT INTO imported_tags (face_id, person_id, tool, source, imported_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (face_id, person_id) DO NOTHING",
            (face_id, person_id, tool, source, now()),
        )
        return cursor.rowcount > 0

    def of_faces(self, face_ids: Sequence[int]) -> dict[int, list[ImportedTag]]:
        """The imported tags of these faces, oldest first."""
        found: dict[int, list[ImportedTag]] = {}
        ids = [int(i) for i in face_ids]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for r in query(
                self._conn,
                "SELECT t.face_id, t.person_id, p.name, t.tool, t.source, t.imported_at"
                " FROM imported_tags t JOIN people p ON p.id = t.person_id"
                f" WHERE t.face_id IN ({','.join('?' * len(chunk))}) ORDER BY t.id",
                chunk,
            ):
                found.setdefault(int(r["face_id"]), []).append(
                    ImportedTag(
                        int(r["face_id"]),
                        int(r["person_id"]),
                        str(r["name"]),
                        str(r["tool"]),
                        str(r["source"]),
                        str(r["imported_at"]),
                    )
                )
        return found

    def faces(self, person_id: int | None = None) -> list[int]:
        """Faces with an imported tag (of this person, if given), by id."""
        rows = self._conn.execute(
            "SELECT DISTINCT face_id FROM imported_tags WHERE (? IS NULL OR person_id = ?)"
            " ORDER BY face_id",
            (person_id, person_id),
        ).fetchall()
        return [int(r[0]) for r in rows]


def move_imported_tags(conn: sqlite3.Connection, from_person: int, to_person: int) -> int:
    """Give ``from_person``'s imported tags to ``to_person`` (a merge), keeping one per face;
    returns how many moved."""
    moved = conn.execute(
        "UPDATE imported_tags SET person_id = ? WHERE person_id = ? AND face_id NOT IN"
        " (SELECT face_id FROM imported_tags WHERE person_id = ?)",
        (to_person, from_person, to_person),
    ).rowcount
    conn.execute("DELETE FROM imported_tags WHERE person_id = ?", (from_person,))
    return int(moved)


def tags_of_content(conn: sqlite3.Connection, sha256: str) -> list[sqlite3.Row]:
    """The imported tags of the faces of content about to be analysed again."""
    return query(
        conn,
        "SELECT t.person_id, t.tool, t.source, t.imported_at, f.x1, f.y1, f.x2, f.y2,"
        " f.start_s, f.end_s FROM imported_tags t JOIN faces f ON f.id = t.face_id"
        " JOIN media m ON m.id = f.media_id WHERE m.sha256 = ? ORDER BY t.id",
        (sha256,),
    )


def carry_imported_tags(
    conn: sqlite3.Connection,
    tags: list[sqlite3.Row],
    faces: list[tuple[int, FaceRow]],
    carry: ReviewCarry,
) -> None:
    """Give each imported tag of re-analysed content to the new face ``carry`` names (the
    rule review decisions follow, ``identity/carry.py``)."""
    old: list[Place] = [
        ((r["x1"], r["y1"], r["x2"], r["y2"]), r["start_s"], r["end_s"]) for r in tags
    ]
    new: list[Place] = [(_box(f.xyxy), f.start_s, f.end_s) for _, f in faces]
    for tag, index in zip(tags, carry(old, new), strict=True):
        if index is not None:
            conn.execute(
                "INSERT INTO imported_tags (face_id, person_id, tool, source, imported_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (face_id, person_id) DO NOTHING",
                (faces[index][0], tag["person_id"], tag["tool"], tag["source"], tag["imported_at"]),
            )


def _box(xyxy: Iterable[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return x1, y1, x2, y2
