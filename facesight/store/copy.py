"""Copying a whole library database to another backend (SQLite <-> PostgreSQL).

Rows are copied table by table in foreign-key order with their ids, so the copy's
references, faces, review decisions and audit chain are the original's: the chain's
hashes cover ids and fields, not the backend, and ``audit verify`` passes on the copy.
Columns are those both schemas have (a later migration's new column is copied when both
sides have it). Crops go with the rows: files of a SQLite library become ``crop_files``
rows of a PostgreSQL one, and back. PostgreSQL receives rows by ``COPY``; its identity
counters are then moved past the copied ids.

The destination must be empty; :func:`copy_library` counts every table on both sides
after the copy and raises if one differs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from facesight.errors import InvalidInputError, StoreError
from facesight.store.changes import note_change
from facesight.store.rows import DescriptorBlob
from facesight.store.sqlite import Store

__all__ = ["NOT_COPIED", "TABLES", "copy_library"]

TABLES = (
    "people",
    "reference_faces",
    "media",
    "media_paths",
    "faces",
    "candidates",
    "media_errors",
    "audit_log",
    "reviews",
    "unknown_clusters",
    "unknown_members",
    "unknown_exclusions",
    "distinct_people",
    "former_names",
    "models",
    "imported_tags",
    "scan_chunks",
    "users",
    "api_tokens",
    "jobs",
    "collections",
)
"""Every table of a library, parents before children. A migration that adds a table
adds it here (the copy test fails on a table it does not know)."""

NOT_COPIED = ("web_sessions", "login_failures", "library_changes")
"""Tables a copy leaves out: a running server's short-lived state (logins last hours, failed
logins count for minutes), which would only let a copied session cookie log in to the copy;
the change counter (``store.changes``: each side has its own row, moved by the copy)."""

_DESCRIPTORS = ("embedding",)
"""Columns holding a descriptor (a BLOB in SQLite, a pgvector ``vector`` in PostgreSQL)."""

_IDENTITY = (
    "people",
    "reference_faces",
    "media",
    "faces",
    "reviews",
    "imported_tags",
    "scan_chunks",
    "users",
    "api_tokens",
    "jobs",
    "collections",
)
"""PostgreSQL tables whose ids the database numbers (identity columns)."""


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    cursor = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return [str(d[0]) for d in cursor.description or ()]


def _is_postgres(conn: sqlite3.Connection) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def _rows(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
    order = "rowid" if table == "media_paths" else "1"  # media_paths: the order paths came
    wrap = [c in _DESCRIPTORS for c in columns]
    for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"):
        yield [
            DescriptorBlob(v) if w and v is not None else v for v, w in zip(row, wrap, strict=True)
        ]


def _write(
    conn: sqlite3.Connection, table: str, columns: list[str], rows: Iterator[list[Any]]
) -> None:
    if _is_postgres(conn):
        conn.copy_rows(table, columns, rows)  # type: ignore[attr-defined]
        return
    marks = ", ".join("?" * len(columns))
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _versions(store: Store) -> list[int]:
    return [int(r[0]) for r in store.query("SELECT version FROM schema_migrations ORDER BY 1")]


def copy_library(source: Store, destination: Store) -> dict[str, int]:
    """Copy every row and crop of ``source`` into the empty ``destination``, in one
    transaction; the rows of each table (and ``crops``) copied.

    Raises:
        InvalidInputError: the destination already holds a library's rows, or the two
            are at different schema versions.
        StoreError: a table's count differs after the copy (nothing is committed).
    """
    if _versions(source) != _versions(destination):
        raise InvalidInputError(
            f"the source is at schema {_versions(source)[-1:]}, the destination at "
            f"{_versions(destination)[-1:]}: open both with this facesight first"
        )
    src = source.connection
    busy = [t for t in TABLES if _count(destination.connection, t)]
    if busy:
        raise InvalidInputError(
            f"the destination {destination.where} is not empty ({', '.join(busy)} hold rows): "
            "copy into a new library"
        )
    counts: dict[str, int] = {}
    with destination.transaction() as dst:
        note_change(dst)
        for table in TABLES:
            wanted = set(_columns(dst, table)) - {"rowid"}
            columns = [c for c in _columns(src, table) if c in wanted]
            _write(dst, table, columns, _rows(src, table, columns))
            counts[table] = _count(src, table)
            if _count(dst, table) != counts[table]:
                raise StoreError(
                    f"copying {table} stored {_count(dst, table)} rows of {counts[table]}"
                )
        crops = 0
        for stored, data in source.crop_files():
            destination.keep_crop(dst, stored, data)
            crops += 1
        counts["crops"] = crops
        if _is_postgres(dst):
            for table in _IDENTITY:
                dst.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
    return counts
