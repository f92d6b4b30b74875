"""The library's change counter: one number that moves whenever something the review
queue, the people's counts or the unknowns list read changes, and never on an audit
record, a session touch, a token's use, a failed login, a job's heartbeat or a
collection (``store.queue.QueueMemo`` keeps their answers until it moves).

SQLite's ``PRAGMA data_version`` and a connection's ``total_changes`` move on every
commit: in a served library each page's own view record (``Library.record_view``), each
signed-in request's session touch and the job worker's heartbeat dropped the memo, so
nearly every page paid the first page's cost (``bench/queue_at_scale.py``, docs/scale.md).

The counter is one row, bumped in the transaction of each write it covers, so another
connection (the job worker, a CLI command) sees it move when that write commits:

* triggers on the small tables (``COUNTED``): reviews, imported tags, people and their
  references, former names, people told apart, models, unknown clusters and exclusions;
* the store's write paths for the bulk tables (``note_change``): media, their paths,
  faces and candidates (``store.media``), unknown members (``store.unknowns``), a copy
  (``store.copy``). A per-row trigger there doubled the time to insert 1.5 million
  candidates (9.2 s to 18.3 s, a script run once on this project's shared 2-core
  machine), a rematch's cost.

PostgreSQL keeps no memo: it has the table (a copy between backends keeps the schemas
alike) and no triggers, and ``note_change`` does nothing there.
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["COUNTED", "SCHEMA", "SQLITE_TRIGGERS", "change_mark", "note_change"]

SCHEMA = """
CREATE TABLE library_changes (changes INTEGER NOT NULL);
INSERT INTO library_changes (changes) VALUES (0)
"""
"""Migration 17 (portable): the counter, a single row."""

COUNTED = (
    "reviews",
    "imported_tags",
    "people",
    "reference_faces",
    "former_names",
    "distinct_people",
    "models",
    "unknown_clusters",
    "unknown_exclusions",
)
"""The small tables whose every row written moves the counter (by trigger)."""

_BUMP = "UPDATE library_changes SET changes = changes + 1"

SQLITE_TRIGGERS = ";\n".join(
    f"CREATE TRIGGER {table}_{event.lower()}_counted AFTER {event} ON {table} BEGIN {_BUMP}; END"
    for table in COUNTED
    for event in ("INSERT", "UPDATE", "DELETE")
)
"""Migration 17 on SQLite: a trigger per write to each ``COUNTED`` table."""


def _sqlite(conn: Any) -> bool:
    return getattr(conn, "dialect", "sqlite") == "sqlite"


def note_change(conn: sqlite3.Connection) -> None:
    """Move the counter in the caller's transaction (a write to a bulk table); nothing on
    PostgreSQL."""
    if _sqlite(conn):
        conn.execute(_BUMP)


def change_mark(conn: sqlite3.Connection) -> Any:
    """What moves when the queue's answers may have (``QueueMemo``): the counter as this
    connection sees it; None (nothing is kept) on PostgreSQL, and inside a transaction,
    whose writes may still be rolled back and the counter with them."""
    if not _sqlite(conn) or conn.in_transaction:
        return None
    return conn.execute("SELECT changes FROM library_changes").fetchone()[0]
