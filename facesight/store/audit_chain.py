"""The audit log's hash chain, its salted commitments and its append-only triggers.

Each record's ``hash`` is the sha256 of a canonical serialisation (compact JSON,
keys in a fixed order) of its fields and the previous record's hash; the first
record follows :data:`GENESIS`. Fields that erasure may have to remove (paths and
free-text details: they can hold a name) enter the hash only through a salted
commitment, ``sha256(salt || value)`` with 16 random bytes of salt per record and
field, stored beside the value. Erasure sets the value and its salt to NULL and
keeps the commitment, so the chain still verifies; without the salt the
commitment cannot be tested against guessed names.

The triggers refuse every DELETE and every UPDATE but that one: setting values
and salts to NULL while all else stays as it was. The log itself cannot prove
it was not rewritten whole (hashes recomputed, triggers put back): only a head
kept outside the library can, which is why reports carry the head.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERASABLE",
    "ERASURE_ACTION",
    "GENESIS",
    "POSTGRES_TRIGGERS",
    "POSTGRES_TRIGGER_FUNCTION",
    "TRIGGERS",
    "TRIGGERS_RESTORED",
    "AuditProblem",
    "AuditVerification",
    "broken_triggers",
    "commit",
    "drop_trigger_sql",
    "record_hash",
    "triggers_of",
    "verify_chain",
]

GENESIS = "0" * 64
"""The "previous hash" of the first record."""

ERASABLE = ("paths", "details")
"""Fields kept as value + salt + commitment, so erasure can blank them."""

ERASURE_ACTION = "forget"
"""The action of an erasure record, whose ``items.records`` lists the records it blanked."""

TRIGGERS_RESTORED = "audit.triggers_restored"
"""The action recorded when an open finds a trigger missing or altered and restores it."""

_REFUSED = "the audit log is append-only"
_UNCHANGED = (
    "id",
    "at",
    "os_user",
    "actor",
    "claimed_user",
    "version",
    "action",
    "items",
    "paths_commit",
    "details_commit",
    "prev_hash",
    "hash",
)
_ERASURE_ONLY = " AND ".join(
    [f"NEW.{c} IS OLD.{c}" for c in _UNCHANGED]
    + [f"(NEW.{c} IS NULL OR NEW.{c} IS OLD.{c})" for f in ERASABLE for c in (f, f"{f}_salt")]
)
TRIGGERS: dict[str, str] = {
    "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    "audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    f" WHEN NOT ({_ERASURE_ONLY})"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSED}: only erasure may blank paths and details'); END",
}
"""The append-only triggers by name, as created (schema migration 5)."""

_POSTGRES_ERASURE_ONLY = " AND ".join(
    [f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _UNCHANGED]
    + [
        f"(NEW.{c} IS NULL OR NEW.{c} IS NOT DISTINCT FROM OLD.{c})"
        for f in ("paths", "details")
        for c in (f, f"{f}_salt")
    ]
)
POSTGRES_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND ({_POSTGRES_ERASURE_ONLY}) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'the audit log is append-only: only erasure may blank paths and details';
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END
$$"""
"""The one function behind the append-only triggers: the same rule as SQLite's
``audit_chain.TRIGGERS`` (every DELETE and TRUNCATE refused; an UPDATE only when it sets
erasable values and their salts to NULL and leaves everything else as it was)."""

POSTGRES_TRIGGERS: dict[str, str] = {
    "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "audit_log_no_truncate": "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
}
"""The append-only triggers by name, as created (migration 5 on PostgreSQL)."""

TABLE = """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    os_user TEXT,
    actor TEXT NOT NULL,
    claimed_user TEXT,
    version TEXT,
    action TEXT NOT NULL,
    items TEXT NOT NULL,
    paths TEXT,
    paths_salt TEXT,
    paths_commit TEXT NOT NULL,
    details TEXT,
    details_salt TEXT,
    details_commit TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
)"""
"""The audit table of schema 5; ``os_user`` and ``version`` are NULL on records older than it.

``version`` is the facesight version that wrote the record (in the chain).
"""

COLUMNS = (
    "id, at, os_user, actor, claimed_user, version, action, items, paths, paths_salt,"
    " paths_commit, details, details_salt, details_commit, prev_hash, hash"
)


def commit(value: str) -> tuple[str, str]:
    """A fresh salt (hex) and the commitment ``sha256(salt || utf-8 value)`` (hex)."""
    salt = secrets.token_bytes(16)
    return salt.hex(), hashlib.sha256(salt + value.encode()).hexdigest()


def record_hash(fields: dict[str, Any]) -> str:
    """The chain hash of one record from its stored fields (erasable ones by commitment)."""
    canonical = [fields[c] for c in _UNCHANGED if c != "hash"]
    data = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def chained_row(fields: dict[str, Any], paths: str, details: str) -> dict[str, Any]:
    """``fields`` (id, at, users, action, items, prev_hash) completed with commitments and hash."""
    row = dict(fields)
    for name, value in (("paths", paths), ("details", details)):
        row[name] = value
        row[f"{name}_salt"], row[f"{name}_commit"] = commit(value)
    row["hash"] = record_hash(row)
    return row


def insert_row(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Insert a row made by :func:`chained_row`."""
    names = [c.strip() for c in COLUMNS.split(",")]
    conn.execute(
        f"INSERT INTO audit_log ({COLUMNS}) VALUES ({', '.join('?' * len(names))})",
        [row[n] for n in names],
    )


def _normalised(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").strip()


def triggers_of(conn: sqlite3.Connection) -> dict[str, str]:
    """The append-only triggers by name, as this connection's database creates them."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        return {
            name: f"{POSTGRES_TRIGGER_FUNCTION};\n{sql}" for name, sql in POSTGRES_TRIGGERS.items()
        }
    return TRIGGERS


def drop_trigger_sql(conn: sqlite3.Connection, name: str) -> str:
    """The statement that drops one append-only trigger (to create it again)."""
    on = " ON audit_log" if getattr(conn, "dialect", "sqlite") == "postgresql" else ""
    return f"DROP TRIGGER IF EXISTS {name}{on}"


def _postgres_broken_triggers(conn: sqlite3.Connection) -> list[str]:
    body = POSTGRES_TRIGGER_FUNCTION.split("$$")[1]
    present = {
        str(r[0]): (str(r[1]), str(r[2]))
        for r in conn.execute(
            "SELECT t.tgname, t.tgenabled, p.prosrc FROM pg_trigger t"
            " JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = 'audit_log'::regclass AND NOT t.tgisinternal"
        ).fetchall()
    }
    return [
        name
        for name in POSTGRES_TRIGGERS
        if name not in present
        or present[name][0] == "D"
        or _normalised(present[name][1]) != _normalised(body)
    ]


def broken_triggers(conn: sqlite3.Connection) -> list[str]:
    """Names of the append-only triggers that are missing or not as created."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        return _postgres_broken_triggers(conn)
    present = dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
    )
    return [
        name
        for name, sql in TRIGGERS.items()
        if _normalised(present.get(name) or "") != _normalised(sql)
    ]


@dataclass(frozen=True)
class AuditProblem:
    """One thing wrong with the log: the record it is found at (None: the log as a whole)."""

    record_id: int | None
    problem: str

    def __str__(self) -> str:
        return (
            self.problem if self.record_id is None else f"record {self.record_id}: {self.problem}"
        )


@dataclass(frozen=True)
class AuditVerification:
    """What :meth:`facesight.store.audit.AuditLog.verify` found; ``problems`` in log order."""

    records: int
    head: str
    problems: tuple[AuditProblem, ...]

    @property
    def ok(self) -> bool:
        """True when the chain, the commitments, the triggers and the kept head all hold."""
        return not self.problems


def _opens(commitment: str, salt: str | None, value: str) -> bool:
    """Whether ``value`` with ``salt`` is what ``commitment`` commits to."""
    if salt is None:
        return False
    try:
        return hashlib.sha256(bytes.fromhex(salt) + value.encode()).hexdigest() == commitment
    except ValueError:  # a salt that is not hex
        return False


def _record_problems(row: sqlite3.Row, previous: tuple[int, str]) -> list[str]:
    found = []
    last_id, last_hash = previous
    if row["id"] != last_id + 1:
        missing = f"{last_id + 1}" if row["id"] == last_id + 2 else f"{last_id + 1}-{row['id'] - 1}"
        found.append(f"record(s) {missing} before it are missing (deleted)")
    elif row["prev_hash"] != last_hash:
        found.append(f"its previous hash does not match record {last_id}'s (changed or replaced)")
    if record_hash(dict(row)) != row["hash"]:
        found.append("its fields do not match its hash (changed after it was written)")
    for name in ERASABLE:
        value, salt = row[name], row[f"{name}_salt"]
        if value is None:
            continue  # erased: the commitment alone stays in the chain
        if not _opens(row[f"{name}_commit"], salt, value):
            found.append(f"its {name} do not match their commitment (changed after it was written)")
    if row["action"] == TRIGGERS_RESTORED:
        found.append(
            f"the append-only triggers were found missing or altered and restored at {row['at']} "
            f"({row['details'] or 'which: erased'}): the log was unprotected before then; "
            "compare its head with one kept outside the library"
        )
    return found


def verify_chain(conn: sqlite3.Connection, head: str | None = None) -> AuditVerification:
    """Check every record's link, hash and commitments, the triggers, and a kept ``head``."""
    cursor = conn.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY id")
    cursor.row_factory = sqlite3.Row
    problems: list[AuditProblem] = []
    previous = (0, GENESIS)
    hashes: dict[str, int] = {GENESIS: 0}
    count = 0
    erased: list[int] = []
    explained: set[int] = set()
    for row in cursor:
        problems += [AuditProblem(row["id"], p) for p in _record_problems(row, previous)]
        previous = (row["id"], row["hash"])
        hashes[row["hash"]] = row["id"]
        count += 1
        if any(row[name] is None for name in ERASABLE):
            erased.append(row["id"])
        if row["action"] == ERASURE_ACTION:
            explained.update(json.loads(row["items"]).get("records", []))
    problems += [
        AuditProblem(i, "its paths or details were blanked, but no erasure record lists it")
        for i in erased
        if i not in explained
    ]
    problems.sort(key=lambda p: p.record_id or 0)  # stable: each record's problems in order
    if head is not None and head.strip().lower() not in hashes:
        problems.append(
            AuditProblem(
                previous[0] or None,
                f"the kept head {head.strip()} is not in the log, which now ends here: "
                "records after this one were dropped (or the log was rewritten)",
            )
        )
    problems += [
        AuditProblem(None, f"the append-only trigger {name} is missing or altered")
        for name in broken_triggers(conn)
    ]
    return AuditVerification(count, previous[1], tuple(problems))


def chain_existing(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> None:
    """Write schema-4 records into the new table, chained in id order (migration 5).

    Their paths move out of ``items`` into the erasable field; their one actor
    name stays as it was (who was the claimed name and who the account is not known).
    """
    previous = GENESIS
    for number, old in enumerate(rows, start=1):
        items = json.loads(old["items"])
        paths = items.pop("paths", [])
        row = chained_row(
            {
                "id": number,
                "at": old["at"],
                "os_user": None,
                "actor": old["actor"],
                "claimed_user": None,
                "version": None,
                "action": old["action"],
                "items": json.dumps(items),
                "prev_hash": previous,
            },
            json.dumps(paths),
            old["details"],
        )
        insert_row(conn, row)
        previous = row["hash"]
