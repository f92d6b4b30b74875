"""The audit log: who did what to which items, when; append-only.

Every review decision, enrollment, erasure, export and search writes one
record, in the same transaction as the change it describes, so a change is
never stored without its record. The table refuses UPDATE and DELETE (SQLite
triggers, schema migration 4): the application can only add to it.

Records name items by id (faces, people, clusters, media paths) and never
hold a person's name, so erasing a person (``Library.forget``) leaves no name
behind in the log; the log still says that an erasure happened, when and by
whom.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from facesight.errors import InvalidInputError

__all__ = ["AuditAction", "AuditLog", "AuditRecord", "default_actor"]


class AuditAction(StrEnum):
    """What an audit record is about."""

    ENROLL = "enroll"
    FORGET = "forget"
    REVIEW_CONFIRM = "review.confirm"
    REVIEW_REJECT = "review.reject"
    REFERENCE_FROM_FACE = "reference.from_face"
    SEARCH_FACE = "search.face"
    SEARCH_IDENTIFY = "search.identify"
    EXPORT_REPORT = "export.report"
    EXPORT_XMP = "export.xmp"
    EXPORT_FRAMES = "export.frames"
    UNKNOWN_NAME = "unknowns.name"
    UNKNOWN_SPLIT = "unknowns.split"
    UNKNOWN_MERGE = "unknowns.merge"
    CONFLICT_MERGE = "conflicts.merge"
    CONFLICT_DIFFERENT = "conflicts.different"


def default_actor() -> str:
    """Who is acting when nobody said: the login name (``unknown`` if there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER", "unknown")


@dataclass(frozen=True)
class AuditRecord:
    """One thing done: ``items`` maps a kind (faces, people, clusters, paths) to ids."""

    id: int
    at: str
    actor: str
    action: str
    items: dict[str, list[Any]] = field(default_factory=dict)
    details: str = ""


class AuditLog:
    """Writes and reads the audit log of one library database.

    Args:
        conn: the library's SQLite connection (``Store``'s).
        actor: who is acting: a reviewer's name, recorded with every record.
    """

    def __init__(self, conn: sqlite3.Connection, actor: str) -> None:
        if not actor.strip():
            raise InvalidInputError("an audit record needs an actor: a non-empty name")
        self._conn = conn
        self.actor = actor.strip()

    def record(
        self,
        conn: sqlite3.Connection,
        action: AuditAction,
        *,
        faces: Iterable[int] = (),
        people: Iterable[int] = (),
        clusters: Iterable[int] = (),
        paths: Iterable[str] = (),
        details: str = "",
    ) -> None:
        """Add a record inside the caller's transaction ``conn`` (committed with the change)."""
        items = {
            kind: values
            for kind, values in (
                ("faces", [int(i) for i in faces]),
                ("people", [int(i) for i in people]),
                ("clusters", [int(i) for i in clusters]),
                ("paths", [str(p) for p in paths]),
            )
            if values
        }
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, items, details) VALUES (?, ?, ?, ?, ?)",
            (
                datetime.now(UTC).isoformat(timespec="seconds"),
                self.actor,
                str(action),
                json.dumps(items),
                details,
            ),
        )

    def records(
        self, *, action: str | None = None, actor: str | None = None, limit: int | None = None
    ) -> list[AuditRecord]:
        """Records, newest first; ``action`` may be a prefix (``review`` matches review.*)."""
        rows = self._conn.execute(
            "SELECT id, at, actor, action, items, details FROM audit_log"
            " WHERE (? IS NULL OR action = ? OR action LIKE ? || '.%')"
            " AND (? IS NULL OR actor = ?) ORDER BY id DESC LIMIT ?",
            (action, action, action, actor, actor, -1 if limit is None else limit),
        ).fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]
