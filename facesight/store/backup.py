"""A consistent snapshot of a SQLite library database while others write to it.

SQLite's online backup API (``sqlite3.Connection.backup``), every page in one step: the
copy is the database as one read transaction saw it. The library runs in WAL mode, so
the server keeps writing meanwhile (a reader never blocks a writer, nor a writer a
reader); copied in many small steps instead, a write between two steps would restart
the copy. The snapshot is a file of its own (journal mode DELETE), private (0600).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from facesight.errors import StoreError
from facesight.store.connection import LOCK_TIMEOUT_S

__all__ = ["snapshot_crop_paths", "snapshot_database"]


def snapshot_database(source: Path, destination: Path) -> None:
    """Copy the database ``source`` to the new file ``destination`` (0600), consistent.

    Raises:
        StoreError: ``destination`` exists, or SQLite failed (its message named).
    """
    try:
        os.close(os.open(destination, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError as exc:
        raise StoreError(f"{destination} exists: a backup never overwrites a file") from exc
    uri = f"file:{quote(os.path.abspath(source))}?mode=ro"
    try:
        with (
            contextlib.closing(sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT_S)) as src,
            contextlib.closing(sqlite3.connect(destination, isolation_level=None)) as dst,
        ):
            src.backup(dst, pages=-1)  # one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single file, whatever the source's
    except sqlite3.Error as exc:
        raise StoreError(f"backing up {source} failed: {exc}") from exc


def snapshot_crop_paths(database: Path) -> set[str]:
    """The crop files (as stored) the rows of the snapshot ``database`` name."""
    try:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            return {
                str(row[0])
                for table in ("faces", "reference_faces")
                for row in conn.execute(
                    f"SELECT DISTINCT crop_path FROM {table} WHERE crop_path IS NOT NULL"
                )
            }
    except sqlite3.Error as exc:
        raise StoreError(f"reading the crops named in {database} failed: {exc}") from exc
