"""The ``scan_chunks`` table: a distributed scan's files, in chunks claimed under leases.

The one writer of ``scan_chunks`` (``Store`` calls it inside its transactions). A scan on
a cluster (``facesight.scan.ray_executor``) records its files here in chunks; a worker
claims one chunk at a time under a lease (an owner and an expiry time, renewed while it
works), and marks it done in the same transaction that stores the chunk's faces. A chunk
whose worker dies is taken again: the driver releases the dead worker's chunks at once, and
any chunk whose lease ran out (its driver died too) is claimable by the next run.

Portable SQL only (SQLite >= 3.35 and PostgreSQL both run it): a claim is one
``UPDATE ... WHERE id = (SELECT ... LIMIT 1) AND <still claimable> RETURNING``, so two
claimers can never both get a chunk; the loser gets no row and tries the next one.
Lease times are seconds since the epoch (``time.time()``) of the claiming node: the nodes'
clocks must agree to within a small part of the lease (NTP does).

``paths`` is the chunk's file list as a JSON array of strings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from facesight.errors import StoreError
from facesight.store.rows import now

__all__ = [
    "ChunkCounts",
    "ChunkState",
    "LeaseLostError",
    "ScanChunk",
    "add_chunks",
    "chunk_counts",
    "chunks_of",
    "claim",
    "complete",
    "fail",
    "finish",
    "release_owner",
    "renew",
    "reopen",
]

SCHEMA = """
CREATE TABLE scan_chunks (
    id INTEGER PRIMARY KEY,
    scan_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    paths TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'done', 'failed')),
    lease_owner TEXT,
    lease_expires_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (scan_id, seq)
);
CREATE INDEX scan_chunks_by_state ON scan_chunks(scan_id, state, seq)
"""
"""Migration 11's SQL (``store.migrations``)."""


class ChunkState(StrEnum):
    """Where a chunk stands (``scan_chunks.state``)."""

    PENDING = "pending"
    RUNNING = "running"  # claimed; its lease says by whom and until when
    DONE = "done"  # its faces are committed
    FAILED = "failed"  # its workers died ``max_attempts`` times; a rerun tries again


class LeaseLostError(StoreError):
    """A worker tried to complete or renew a chunk it no longer holds (its lease ran out
    and another worker claimed it): its work is rolled back, the other worker's counts."""


@dataclass(frozen=True)
class ScanChunk:
    """One chunk of a distributed scan: its files, in order, and its claim history."""

    id: int
    scan_id: str
    seq: int
    paths: list[str]
    state: ChunkState
    attempts: int


@dataclass(frozen=True)
class ChunkCounts:
    """How many chunks of a scan are in each state; ``leased`` are running under a lease
    that has not run out (a live worker's, or one not yet known dead)."""

    pending: int = 0
    running: int = 0
    leased: int = 0
    done: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.running + self.done + self.failed


_CLAIMABLE = "(state = 'pending' OR (state = 'running' AND lease_expires_at < ?))"


def add_chunks(conn: sqlite3.Connection, scan_id: str, chunks: Sequence[Sequence[str]]) -> None:
    """Append chunks to a scan, numbered after its last one."""
    row = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM scan_chunks WHERE scan_id = ?", (scan_id,)
    ).fetchone()
    first, at = int(row[0]) + 1, now()
    conn.executemany(
        "INSERT INTO scan_chunks (scan_id, seq, paths, state, created_at, updated_at)"
        " VALUES (?, ?, ?, 'pending', ?, ?)",
        [(scan_id, first + i, json.dumps(list(c)), at, at) for i, c in enumerate(chunks)],
    )


def chunks_of(conn: sqlite3.Connection, scan_id: str) -> list[ScanChunk]:
    """Every chunk of a scan, in order."""
    rows = conn.execute(
        "SELECT id, scan_id, seq, paths, state, attempts FROM scan_chunks"
        " WHERE scan_id = ? ORDER BY seq",
        (scan_id,),
    ).fetchall()
    return [_chunk(r) for r in rows]


def reopen(conn: sqlite3.Connection, scan_id: str, now_s: float) -> int:
    """Make a scan's failed chunks, and running ones whose lease ran out, pending again with
    their attempts counted from zero (a new run: the node that failed may work now)."""
    cursor = conn.execute(
        "UPDATE scan_chunks SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL,"
        " attempts = 0, updated_at = ? WHERE scan_id = ? AND (state = 'failed'"
        " OR (state = 'running' AND lease_expires_at < ?))",
        (now(), scan_id, now_s),
    )
    return cursor.rowcount


def claim(
    conn: sqlite3.Connection,
    scan_id: str,
    owner: str,
    now_s: float,
    lease_s: float,
    max_attempts: int,
) -> ScanChunk | None:
    """Take the first claimable chunk of a scan for ``owner`` until ``now_s + lease_s``.

    Claimable: pending, or running under a lease that ran out, and tried fewer than
    ``max_attempts`` times. None when there is none (or another claimer won the race).
    """
    row = conn.execute(
        "UPDATE scan_chunks SET state = 'running', lease_owner = ?, lease_expires_at = ?,"
        " attempts = attempts + 1, updated_at = ?"
        " WHERE id = (SELECT id FROM scan_chunks WHERE scan_id = ? AND attempts < ?"
        f" AND {_CLAIMABLE} ORDER BY seq LIMIT 1) AND {_CLAIMABLE}"
        " RETURNING id, scan_id, seq, paths, state, attempts",
        (owner, now_s + lease_s, now(), scan_id, max_attempts, now_s, now_s),
    ).fetchone()
    return None if row is None else _chunk(row)


def renew(conn: sqlite3.Connection, chunk_id: int, owner: str, expires_s: float) -> None:
    """Extend ``owner``'s lease of a chunk.

    Raises:
        LeaseLostError: the chunk is no longer ``owner``'s.
    """
    _held(conn, chunk_id, owner, "lease_expires_at = ?", (expires_s,))


def complete(conn: sqlite3.Connection, chunk_id: int, owner: str) -> None:
    """Mark ``owner``'s chunk done (in the transaction that stores its faces).

    Raises:
        LeaseLostError: the chunk is no longer ``owner``'s (the transaction must roll back).
    """
    _held(conn, chunk_id, owner, "state = 'done', lease_owner = NULL, lease_expires_at = NULL", ())


def fail(conn: sqlite3.Connection, chunk_id: int, owner: str, error: str) -> None:
    """Give up ``owner``'s chunk: failed, with the reason (a rerun tries it again)."""
    _held(conn, chunk_id, owner, "state = 'failed', lease_owner = NULL, error = ?", (error,))


def release_owner(conn: sqlite3.Connection, scan_id: str, owner: str, max_attempts: int) -> int:
    """Give back the running chunks of a worker known dead: pending again, or failed once
    tried ``max_attempts`` times. The number released."""
    cursor = conn.execute(
        "UPDATE scan_chunks SET lease_owner = NULL, lease_expires_at = NULL, updated_at = ?,"
        " state = CASE WHEN attempts < ? THEN 'pending' ELSE 'failed' END,"
        " error = CASE WHEN attempts < ? THEN error ELSE ? END"
        " WHERE scan_id = ? AND state = 'running' AND lease_owner = ?",
        (
            now(),
            max_attempts,
            max_attempts,
            f"its scan worker died {max_attempts} times while analysing it",
            scan_id,
            owner,
        ),
    )
    return cursor.rowcount


def chunk_counts(conn: sqlite3.Connection, scan_id: str, now_s: float) -> ChunkCounts:
    """The chunks of a scan by state (``leased``: running under a lease not run out)."""
    counts = {
        str(r[0]): (int(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT state, COUNT(*), SUM(CASE WHEN lease_expires_at >= ? THEN 1 ELSE 0 END)"
            " FROM scan_chunks WHERE scan_id = ? GROUP BY state",
            (now_s, scan_id),
        )
    }
    return ChunkCounts(
        pending=counts.get(ChunkState.PENDING, (0, 0))[0],
        running=counts.get(ChunkState.RUNNING, (0, 0))[0],
        leased=counts.get(ChunkState.RUNNING, (0, 0))[1],
        done=counts.get(ChunkState.DONE, (0, 0))[0],
        failed=counts.get(ChunkState.FAILED, (0, 0))[0],
    )


def finish(conn: sqlite3.Connection, scan_id: str) -> bool:
    """Forget a scan whose every chunk is done (its files are in the library now); False
    (and nothing deleted) while any is not."""
    row = conn.execute(
        "SELECT COUNT(*) FROM scan_chunks WHERE scan_id = ? AND state != 'done'", (scan_id,)
    ).fetchone()
    if int(row[0]):
        return False
    conn.execute("DELETE FROM scan_chunks WHERE scan_id = ?", (scan_id,))
    return True


def _held(
    conn: sqlite3.Connection,
    chunk_id: int,
    owner: str,
    assignments: str,
    values: tuple[object, ...],
) -> None:
    cursor = conn.execute(
        f"UPDATE scan_chunks SET {assignments}, updated_at = ?"
        " WHERE id = ? AND state = 'running' AND lease_owner = ?",
        (*values, now(), chunk_id, owner),
    )
    if cursor.rowcount != 1:
        raise LeaseLostError(
            f"scan chunk {chunk_id} is no longer held by {owner}: its lease ran out and "
            "another worker took it; this worker's result is dropped"
        )


def _chunk(row: Sequence[object]) -> ScanChunk:
    paths = json.loads(str(row[3]))
    return ScanChunk(
        int(str(row[0])),
        str(row[1]),
        int(str(row[2])),
        [str(p) for p in paths],
        ChunkState(str(row[4])),
        int(str(row[5])),
    )
