"""The audit log: who did what to which items, when; append-only and hash-chained.

Every review decision, enrollment, scan, erasure, export and search writes one
record, in the same transaction as the change it describes, so a change is
never stored without its record. Each record is chained to the one before by
a hash (``facesight.store.audit_chain``), and SQLite triggers refuse DELETE and every
UPDATE but erasure's (schema migration 5); the triggers are checked at every
open and restored, with a record saying so, when missing.

Records name people, faces, clusters and media by id and never hold a
person's name on purpose; paths and free-text details may, so they are kept
as salted commitments that :meth:`AuditLog.erase` can blank without breaking
the chain.

Who acted is recorded twice: ``os_user``, the operating-system account of the
process (its effective uid, not ``$USER``), and ``claimed_user``, the name
given with ``--user``/``$FACESIGHT_USER`` or ``Library(actor=...)`` (nobody
checks it). ``actor`` is the claimed name when there is one, else the account.
Inside :meth:`AuditLog.acting_as` (the web workspace, after a login or an API token
was checked: ``library.accounts``) ``actor`` is that facesight account instead and
``claimed_user`` None, since the name was authenticated rather than claimed.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from facesight._version import __version__
from facesight.clock import utc_now_iso
from facesight.errors import InvalidInputError
from facesight.store.audit_chain import (
    COLUMNS,
    GENESIS,
    AuditProblem,
    AuditVerification,
    broken_triggers,
    chained_row,
    drop_trigger_sql,
    insert_row,
    triggers_of,
    verify_chain,
)

__all__ = [
    "AuditAction",
    "AuditLog",
    "AuditProblem",
    "AuditRecord",
    "AuditVerification",
    "default_actor",
    "os_account",
]


class AuditAction(StrEnum):
    """What an audit record is about."""

    ENROLL = "enroll"
    FORGET = "forget"
    REVIEW_CONFIRM = "review.confirm"
    REVIEW_REJECT = "review.reject"
    REFERENCE_FROM_FACE = "reference.from_face"
    REFERENCE_REMOVE = "reference.remove"
    PEOPLE_RENAME = "people.rename"
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
    SCAN = "scan"
    IMPORT_TAGS = "import.tags"
    LIBRARY_COPY = "library.copy"
    LIBRARY_BACKUP = "library.backup"
    TRIGGERS_RESTORED = "audit.triggers_restored"
    MODEL_ADD = "models.add"
    MODEL_USE = "models.use"
    MODEL_CALIBRATE = "models.calibrate"
    VIEW = "view.sightings"  # faces shown to someone (a page, an API answer): biometric data
    USERS_ADD = "users.add"
    USERS_DISABLE = "users.disable"
    USERS_PASSWORD = "users.password"
    TOKENS_ISSUE = "tokens.issue"
    TOKENS_REVOKE = "tokens.revoke"
    SESSIONS_LOGIN = "sessions.login"
    SESSIONS_LOGIN_FAILED = "sessions.login_failed"
    SESSIONS_LOGOUT = "sessions.logout"
    JOB_SUBMIT = "job.submit"
    JOB_CANCEL = "job.cancel"
    COLLECTIONS_ADD = "collections.add"
    COLLECTIONS_REMOVE = "collections.remove"


def os_account() -> str:
    """The operating-system account running this process (effective uid), not ``$USER``."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):  # no pwd (Windows) or no passwd entry
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def default_actor() -> str:
    """Who is acting when nobody claimed a name: the operating-system account."""
    return os_account()


@dataclass(frozen=True)
class AuditRecord:
    """One thing done.

    ``items`` maps a kind (faces, people, clusters, media, records, accounts,
    tokens, references, paths) to
    ids or paths, and ``counts`` to numbers; ``erased`` names the fields
    erasure blanked (their values are gone, their commitments stay).
    ``os_user`` and ``version`` (of facesight) are None on records written
    before schema 5.
    """

    id: int
    at: str
    actor: str
    action: str
    items: dict[str, Any] = field(default_factory=dict)
    details: str = ""
    os_user: str | None = None
    claimed_user: str | None = None
    version: str | None = None
    hash: str = ""
    erased: tuple[str, ...] = ()


class AuditLog:
    """Writes, reads and verifies the audit log of one library database.

    Args:
        conn: the library's SQLite connection (``Store``'s).
        actor: the name the user claims (``--user``); None: none claimed,
            the operating-system account acts alone.
    """

    def __init__(self, conn: sqlite3.Connection, actor: str | None = None) -> None:
        if actor is not None and not actor.strip():
            raise InvalidInputError("a claimed user name cannot be empty")
        self._conn = conn
        self.os_user = os_account()
        self._claimed = actor.strip() if actor is not None else None
        # per thread or task (a server's requests run side by side on one library)
        self._account: ContextVar[str | None] = ContextVar("facesight_account", default=None)

    @property
    def claimed_user(self) -> str | None:
        """The name claimed with ``--user`` (unchecked); None inside :meth:`acting_as`."""
        return None if self._account.get() is not None else self._claimed

    @property
    def actor(self) -> str:
        """Who acts: the authenticated account inside :meth:`acting_as`, else the claimed
        name, else the operating-system account."""
        return self._account.get() or self._claimed or self.os_user

    @contextmanager
    def acting_as(self, account: str) -> Iterator[None]:
        """Within the block (in this thread or task only), records are made by the
        facesight ``account``, which the caller has authenticated; the previous actor
        returns afterwards."""
        if not account.strip():
            raise InvalidInputError("an account name cannot be empty")
        token = self._account.set(account)
        try:
            yield
        finally:
            self._account.reset(token)

    def record(
        self,
        conn: sqlite3.Connection,
        action: AuditAction | str,
        *,
        faces: Iterable[int] = (),
        people: Iterable[int] = (),
        clusters: Iterable[int] = (),
        media: Iterable[int] = (),
        records: Iterable[int] = (),
        accounts: Iterable[int] = (),
        tokens: Iterable[int] = (),
        references: Iterable[int] = (),
        paths: Iterable[str] = (),
        counts: Mapping[str, int] | None = None,
        details: str = "",
    ) -> None:
        """Add a record inside the caller's transaction ``conn`` (committed with the change).

        ``paths`` and ``details`` are erasable (they may hold a name); ids and
        ``counts`` are not.
        """
        items: dict[str, Any] = {
            kind: values
            for kind, values in (
                ("faces", [int(i) for i in faces]),
                ("people", [int(i) for i in people]),
                ("clusters", [int(i) for i in clusters]),
                ("media", [int(i) for i in media]),
                ("records", [int(i) for i in records]),
                ("accounts", [int(i) for i in accounts]),  # library.accounts: users.id
                ("tokens", [int(i) for i in tokens]),  # api_tokens.id
                ("references", [int(i) for i in references]),  # reference_faces.id
            )
            if values
        }
        if counts:
            items["counts"] = {str(k): int(v) for k, v in counts.items()}
        last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        last_id, last_hash = (0, GENESIS) if last is None else (int(last[0]), str(last[1]))
        row = chained_row(
            {
                "id": last_id + 1,
                "at": utc_now_iso(),
                "os_user": self.os_user,
                "actor": self.actor,
                "claimed_user": self.claimed_user,
                "version": __version__,
                "action": str(action),
                "items": json.dumps(items, sort_keys=True),
                "prev_hash": last_hash,
            },
            json.dumps([str(p) for p in paths]),
            details,
        )
        insert_row(conn, row)

    def records(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        limit: int | None = None,
        before: int | None = None,
        since: str | None = None,
        until: str | None = None,
        face_id: int | None = None,
        person_id: int | None = None,
    ) -> list[AuditRecord]:
        """Records, newest first; ``action`` may be a prefix (``review`` matches review.*).

        ``actor`` matches the claimed name or the operating-system account; ``before`` keeps
        the records with smaller ids (the next page after the record ``before``); ``since``
        and ``until`` bound ``at`` (ISO 8601 text, compared as text: a date ``until`` is
        taken up to the end of that day); ``face_id`` / ``person_id`` keep the records whose
        items list that face or person. Every filter is SQL (``audit_log_by_action`` serves
        an action, the primary key ``before``).
        """
        where = [
            "(? IS NULL OR action = ? OR action LIKE ? || '.%')",
            "(? IS NULL OR actor = ? OR os_user = ?)",
            "(? IS NULL OR id < ?)",
            "(? IS NULL OR at >= ?)",
            "(? IS NULL OR at < ?)",
        ]
        end = None if until is None else until + ("~" if len(until) == 10 else "")
        params: list[object] = [action, action, action, actor, actor, actor, before, before]
        params += [since, since, end, end]
        for kind, wanted in (("faces", face_id), ("people", person_id)):
            if wanted is not None:
                where.append(_lists(self._conn, kind))
                params.append(_listed(self._conn, wanted))
        cursor = self._conn.execute(
            f"SELECT {COLUMNS} FROM audit_log WHERE "
            + " AND ".join(where)
            + " ORDER BY id DESC"
            + ("" if limit is None else f" LIMIT {int(limit)}"),
            params,
        )
        cursor.row_factory = sqlite3.Row
        return [_as_record(row) for row in cursor.fetchall()]

    def head(self) -> str:
        """The newest record's hash (hex); keep it to prove later that nothing after it went."""
        row = self._conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        return GENESIS if row is None else str(row[0])

    def verify(self, head: str | None = None) -> AuditVerification:
        """Check the chain, the commitments, the triggers and (if given) a kept ``head``.

        A ``head`` kept from an earlier :meth:`head` must still be a record's
        hash: otherwise records after it were dropped. Never raises on a
        broken log: the problems are returned, first broken record first.
        """
        return verify_chain(self._conn, head)

    def ensure_triggers(self) -> list[str]:
        """Restore missing or altered append-only triggers; return their names.

        A restoration is itself recorded (``audit.triggers_restored``), which
        :meth:`verify` reports from then on: the log was unprotected for a
        while. Nothing happens on a database that cannot be written (read-only);
        :meth:`verify` reports the triggers as missing there.
        """
        if not broken_triggers(self._conn):
            return []
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return []  # read-only: verify says the triggers are missing
        try:
            broken = broken_triggers(self._conn)  # another process may have restored them
            for name in broken:
                self._conn.execute(drop_trigger_sql(self._conn, name))
                self._conn.execute(triggers_of(self._conn)[name])
            if broken:
                self.record(
                    self._conn,
                    AuditAction.TRIGGERS_RESTORED,
                    details=", ".join(broken),
                )
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError:  # read-only or locked: the next open tries again
            self._conn.execute("ROLLBACK")
            return []
        except sqlite3.Error:
            self._conn.execute("ROLLBACK")
            raise
        return broken

    def erase(
        self,
        conn: sqlite3.Connection,
        person_id: int,
        name: str,
        *,
        former_names: Sequence[str] = (),
        former_ids: Sequence[int] = (),
    ) -> list[int]:
        """Blank, inside ``conn``'s transaction, the paths and details that may name a person.

        Blanked: every path list or details text holding a word of ``name`` or of one of
        ``former_names`` (3 letters or more, case-insensitive, also run together as in
        ``JoeBiden.jpg``), and the details (notes) of every record about
        ``person_id`` or one of ``former_ids`` (people merged into the person). The
        commitments stay, so the chain still verifies.
        Returns the ids of the records changed.
        """
        words = {w for n in (name, *former_names) for w in _name_words(n)}
        ids = {person_id, *former_ids}
        changed = []
        cursor = conn.execute(
            "SELECT id, items, paths, details FROM audit_log"
            " WHERE paths IS NOT NULL OR details IS NOT NULL ORDER BY id"
        )
        for record_id, items, paths, details in cursor.fetchall():
            about = not ids.isdisjoint(json.loads(items).get("people", []))
            blank = [
                column
                for column, value, always in (("paths", paths, False), ("details", details, about))
                if value is not None and (always or _mentions(value, words))
            ]
            if blank:
                sets = ", ".join(f"{c} = NULL, {c}_salt = NULL" for c in blank)
                conn.execute(f"UPDATE audit_log SET {sets} WHERE id = ?", (record_id,))
                changed.append(int(record_id))
        return changed


def _lists(conn: sqlite3.Connection, kind: str) -> str:
    """SQL that holds when the record's ``items`` list ``kind`` (faces, people) holds the
    bound id: SQLite's ``json_each``, PostgreSQL's ``jsonb`` containment."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        return f"(items::jsonb -> '{kind}') @> ?::jsonb"
    return f"EXISTS (SELECT 1 FROM json_each(items, '$.{kind}') WHERE value = ?)"


def _listed(conn: sqlite3.Connection, wanted: int) -> object:
    """The bound value :func:`_lists` compares with (a JSON array of one id on PostgreSQL)."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        return json.dumps([int(wanted)])
    return int(wanted)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.casefold())


def _name_words(name: str) -> set[str]:
    tokens = _tokens(name)
    return {t for t in tokens if len(t) >= 3} | {"".join(tokens)}


def _mentions(value: str, words: set[str]) -> bool:
    run_together = "".join(_tokens(value))
    return any(w and w in run_together for w in words)


def _as_record(row: sqlite3.Row) -> AuditRecord:
    items = json.loads(row["items"])
    paths = json.loads(row["paths"]) if row["paths"] is not None else []
    if paths:
        items["paths"] = paths
    return AuditRecord(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        items=items,
        details=row["details"] or "",
        os_user=row["os_user"],
        claimed_user=row["claimed_user"],
        version=row["version"],
        hash=row["hash"],
        erased=tuple(f for f in ("paths", "details") if row[f] is None),
    )
