"""The tables of who is enrolled: ``people``, ``reference_faces`` and ``distinct_people``.

This module is the one writer of these tables (``Store`` calls it; ``Store.add_person``,
``add_reference`` and ``delete_person`` keep their SQL beside the gallery read). Each
function works inside the caller's transaction and returns what the caller must know to
audit the change or clean up files.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MergedPeople", "distinct_pairs", "mark_distinct", "merge_people"]


@dataclass(frozen=True)
class MergedPeople:
    """What a merge of two people changed in the tables of who is enrolled."""

    moved: int
    """references moved to the person kept"""
    dropped: int
    """references of an image the person kept already had, deleted"""
    crops: list[str]
    """the stored crop paths of the dropped references (for the caller to delete)"""


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
        "INSERT OR IGNORE INTO distinct_people (person_a, person_b, decided_by, decided_at)"
        " VALUES (?, ?, ?, ?)",
        (low, high, by, datetime.now(UTC).isoformat(timespec="seconds")),
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
