"""Registered collection roots: the ``collections`` table (schema migration 14).

The one writer of the table. A row is a folder an administrator registered from the
command line (``facesight collections add PATH``); the review workspace scans a root by its
id and never takes a path from a request. ``path`` is the resolved absolute path, unique.
``library.collections`` checks the folder and writes each change with its audit record
inside ``Store.transaction()`` (the same connection).

Portable SQL only (SQLite and PostgreSQL run the same statements).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from facesight.store.rows import query

__all__ = ["SCHEMA", "CollectionRow", "CollectionTables"]

SCHEMA = """
CREATE TABLE collections (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
)
"""
"""Migration 14's SQL (``store.migrations``); copied with a library (``store.copy.TABLES``)."""

_SELECT = "SELECT id, path, added_at, added_by FROM collections"


@dataclass(frozen=True)
class CollectionRow:
    """One ``collections`` row."""

    id: int
    path: str
    added_at: str
    added_by: str


def _row(r: sqlite3.Row) -> CollectionRow:
    return CollectionRow(int(r["id"]), str(r["path"]), str(r["added_at"]), str(r["added_by"]))


class CollectionTables:
    """Reads and writes the registered collection roots of one library connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, conn: sqlite3.Connection, path: str, added_at: str, added_by: str) -> int | None:
        """Register ``path`` inside the caller's transaction; its new id, or None when the
        path is registered already."""
        cursor = conn.execute(
            "INSERT INTO collections (path, added_at, added_by) VALUES (?, ?, ?)"
            " ON CONFLICT (path) DO NOTHING",
            (path, added_at, added_by),
        )
        if cursor.rowcount == 0:
            return None
        found = self.by_path(path, conn)
        assert found is not None  # inserted just above, in this transaction
        return found.id

    def remove(self, conn: sqlite3.Connection, collection_id: int) -> bool:
        """Forget a root inside the caller's transaction (its scanned media stay); False
        when there was none."""
        cursor = conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))
        return cursor.rowcount > 0

    def get(self, collection_id: int) -> CollectionRow | None:
        """The root with this id, or None."""
        rows = query(self._conn, f"{_SELECT} WHERE id = ?", (collection_id,))
        return _row(rows[0]) if rows else None

    def by_path(self, path: str, conn: sqlite3.Connection | None = None) -> CollectionRow | None:
        """The root registered at exactly ``path``, or None."""
        rows = query(conn or self._conn, f"{_SELECT} WHERE path = ?", (path,))
        return _row(rows[0]) if rows else None

    def all(self) -> list[CollectionRow]:
        """Every registered root, oldest first."""
        return [_row(r) for r in query(self._conn, f"{_SELECT} ORDER BY id")]
