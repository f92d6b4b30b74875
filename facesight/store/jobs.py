"""The ``jobs`` table: background work (scans, re-matching, clustering, reports, reindexing)
queued by the workspace and the CLI and drained by a worker process.

The one writer of ``jobs`` (schema migration 13). ``library.jobs`` decides what a job is
and when it may change; these are its statements. A worker claims the oldest queued job
in one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) AND state = 'queued' RETURNING``, so two
workers never both get one (the loser gets no row and looks again). While it runs, the
worker writes ``heartbeat_s`` (seconds since the epoch) every few seconds; a running job
whose heartbeat stopped (its worker was killed, the machine lost power) is found by
:func:`stale_running` and queued again or failed (:func:`requeue`, :func:`finish`).

``params``, ``result`` are JSON objects, ``failures`` a JSON array of lines (capped by the
caller; ``failure_count`` keeps the whole count). Times shown to people (``*_at``) are ISO
8601 UTC text; ``heartbeat_s`` is compared, so it is a number.

Portable SQL only (SQLite >= 3.35 and PostgreSQL both run it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SCHEMA", "JobRow", "JobTables"]

SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    message TEXT NOT NULL DEFAULT '',
    failures TEXT NOT NULL DEFAULT '[]',
    failure_count INTEGER NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    heartbeat_s REAL
);
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_by_kind ON jobs(kind, id)
"""
"""Migration 13's SQL (``store.migrations``). Copied with a library (``store.copy.TABLES``):
a job's history, files and who asked belong to the library's record of what was done."""

_COLUMNS = (
    "id, kind, params, state, done, total, message, failures, failure_count, result, error,"
    " created_by, created_at, started_at, finished_at, cancel_requested, attempts, worker,"
    " heartbeat_s"
)
_FINISHED = "('done', 'failed', 'cancelled')"


@dataclass(frozen=True)
class JobRow:
    """One ``jobs`` row, its JSON columns decoded."""

    id: int
    kind: str
    params: dict[str, Any]
    state: str
    done: int
    total: int | None
    message: str
    failures: list[str]
    failure_count: int
    result: dict[str, Any]
    error: str
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    cancel_requested: bool
    attempts: int
    worker: str | None
    heartbeat_s: float | None


class JobTables:
    """Reads and writes the ``jobs`` table of one library database.

    Reads use ``conn`` (the store's connection); writes take the caller's transaction.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(
        self, conn: sqlite3.Connection, kind: str, params: dict[str, Any], created_by: str, at: str
    ) -> int:
        """A new queued job's id."""
        cursor = conn.execute(
            "INSERT INTO jobs (kind, params, state, created_by, created_at)"
            " VALUES (?, ?, 'queued', ?, ?)",
            (kind, json.dumps(params, sort_keys=True), created_by, at),
        )
        return int(cursor.lastrowid or 0)

    def get(self, job_id: int, conn: sqlite3.Connection | None = None) -> JobRow | None:
        row = (
            (conn or self._conn)
            .execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None else _job(row)

    def page(
        self, *, kind: str | None, state: str | None, before: int | None, limit: int
    ) -> list[JobRow]:
        """Jobs newest first, with ids below ``before``; of one kind or state when given."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE (? IS NULL OR kind = ?)"
            " AND (? IS NULL OR state = ?) AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?",
            (kind, kind, state, state, before, before, limit),
        )
        return [_job(r) for r in rows]

    def any_queued(self) -> bool:
        row = self._conn.execute("SELECT id FROM jobs WHERE state = 'queued' LIMIT 1")
        return row.fetchone() is not None

    def claim(self, conn: sqlite3.Connection, worker: str, now_s: float, at: str) -> JobRow | None:
        """Take the oldest queued job for ``worker``: running, one more attempt; None when
        there is none (or another worker won the race for it)."""
        row = conn.execute(
            "UPDATE jobs SET state = 'running', worker = ?, heartbeat_s = ?,"
            " started_at = COALESCE(started_at, ?), attempts = attempts + 1"
            " WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1)"
            f" AND state = 'queued' RETURNING {_COLUMNS}",
            (worker, now_s, at),
        ).fetchone()
        return None if row is None else _job(row)

    def beat(self, conn: sqlite3.Connection, job_id: int, worker: str, now_s: float) -> bool:
        """``worker`` still runs the job: its heartbeat is now. False when it no longer
        holds it (the job was recovered meanwhile and another worker may hold it)."""
        cursor = conn.execute(
            "UPDATE jobs SET heartbeat_s = ? WHERE id = ? AND state = 'running' AND worker = ?",
            (now_s, job_id, worker),
        )
        return cursor.rowcount == 1

    def progress(
        self,
        conn: sqlite3.Connection,
        job_id: int,
        worker: str,
        *,
        done: int,
        total: int | None,
        message: str,
        failures: Sequence[str],
        failure_count: int,
        now_s: float,
    ) -> bool:
        """Store a running job's progress (and heartbeat); False when ``worker`` no longer
        holds it."""
        cursor = conn.execute(
            "UPDATE jobs SET done = ?, total = ?, message = ?, failures = ?, failure_count = ?,"
            " heartbeat_s = ? WHERE id = ? AND state = 'running' AND worker = ?",
            (
                done,
                total,
                message,
                json.dumps(list(failures)),
                failure_count,
                now_s,
                job_id,
                worker,
            ),
        )
        return cursor.rowcount == 1

    def cancel_requested(self, job_id: int) -> bool:
        row = self._conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,))
        found = row.fetchone()
        return found is not None and bool(found[0])

    def request_cancel(self, conn: sqlite3.Connection, job_id: int, at: str) -> str | None:
        """Cancel a queued job at once, flag a running one; the state it was in (None: no
        such job). A finished job is left as it is."""
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        state = str(row[0])
        if state == "queued":
            conn.execute(
                "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ?,"
                " message = 'cancelled before it started' WHERE id = ?",
                (at, job_id),
            )
        elif state == "running":
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        return state

    def finish(
        self,
        conn: sqlite3.Connection,
        job_id: int,
        worker: str | None,
        *,
        state: str,
        result: dict[str, Any],
        error: str,
        at: str,
    ) -> bool:
        """End a running job (``worker`` None: whoever held it); False when it was not
        running under ``worker``."""
        cursor = conn.execute(
            "UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ?, worker = NULL,"
            " heartbeat_s = NULL WHERE id = ? AND state = 'running'"
            " AND (? IS NULL OR worker = ?)",
            (state, json.dumps(result, sort_keys=True), error, at, job_id, worker, worker),
        )
        return cursor.rowcount == 1

    def requeue(
        self,
        conn: sqlite3.Connection,
        job_id: int,
        worker: str | None,
        message: str,
        *,
        uncount: bool,
    ) -> bool:
        """Put a running job back in the queue (``uncount``: its attempt does not count, the
        worker stopped it on purpose); False when it was not running under ``worker``."""
        cursor = conn.execute(
            "UPDATE jobs SET state = 'queued', worker = NULL, heartbeat_s = NULL, message = ?,"
            " attempts = attempts - ? WHERE id = ? AND state = 'running'"
            " AND (? IS NULL OR worker = ?)",
            (message, 1 if uncount else 0, job_id, worker, worker),
        )
        return cursor.rowcount == 1

    def running(self) -> list[JobRow]:
        """Every running job, oldest first (recovery looks at their workers)."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE state = 'running' ORDER BY id"
        )
        return [_job(r) for r in rows]

    def finished_marker(self) -> tuple[int, int]:
        """(finished jobs, newest job id): changes whenever a job ends or is queued (a
        cheap "the library changed" sign where the database offers none)."""
        row = self._conn.execute(
            f"SELECT COALESCE(SUM(CASE WHEN state IN {_FINISHED} THEN 1 ELSE 0 END), 0),"
            " COALESCE(MAX(id), 0) FROM jobs"
        ).fetchone()
        return int(row[0]), int(row[1])


def _job(row: Sequence[Any]) -> JobRow:
    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return JobRow(
        id=int(row[0]),
        kind=str(row[1]),
        params=dict(json.loads(str(row[2]))),
        state=str(row[3]),
        done=int(row[4]),
        total=None if row[5] is None else int(row[5]),
        message=str(row[6]),
        failures=[str(line) for line in json.loads(str(row[7]))],
        failure_count=int(row[8]),
        result=dict(json.loads(str(row[9]))),
        error=str(row[10]),
        created_by=str(row[11]),
        created_at=str(row[12]),
        started_at=text(row[13]),
        finished_at=text(row[14]),
        cancel_requested=bool(row[15]),
        attempts=int(row[16]),
        worker=text(row[17]),
        heartbeat_s=None if row[18] is None else float(row[18]),
    )
