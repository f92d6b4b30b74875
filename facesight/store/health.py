"""The database half of ``facesight doctor``: SQLite's own checks and the schema's objects."""

from __future__ import annotations

import sqlite3

from facesight.store.migrations import apply_migrations

__all__ = ["integrity_problems", "missing_schema_objects"]


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """SQLite's integrity and foreign-key findings, one line each (empty when sound)."""
    rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    problems = [] if rows == ["ok"] else [f"integrity: {r}" for r in rows[:10]]
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        problems.append(f"{len(broken)} row(s) refer to rows that do not exist")
    return problems


def missing_schema_objects(conn: sqlite3.Connection) -> tuple[list[tuple[str, str]], int]:
    """(kind, name) of every table, index and trigger a freshly migrated database has and
    this one lacks, and how many a fresh one has."""
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    try:
        apply_migrations(fresh)
        want = _objects(fresh)
    finally:
        fresh.close()
    return sorted(want - _objects(conn)), len(want)


def _objects(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    rows = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {(str(t), str(n)) for t, n in rows}
