"""The account tables: ``users``, ``web_sessions``, ``api_tokens``, ``login_failures``.

The one writer of these tables (schema migration 12). ``library.accounts`` decides who
may log in and calls these inside ``Store.transaction()`` (the same connection), so each
change is written whole with its audit record. Nothing here holds a secret in clear:
``users.password_hash`` is an Argon2id hash (argon2-cffi's encoded string), and sessions
and API tokens are found by the SHA-256 (hex) of their random 256-bit secret.

Times that the timeouts and the rate limit compare (``*_s``) are seconds since the epoch
from the service's clock; times shown to people (``*_at``) are ISO 8601 UTC text.
Accounts are never deleted (review decisions and audit records name them): they are
disabled.

Portable SQL only (SQLite and PostgreSQL run the same statements).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SCHEMA",
    "AccountTables",
    "SessionRow",
    "TokenRow",
    "UserRow",
]

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
CREATE TABLE web_sessions (
    secret_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    created_s REAL NOT NULL,
    last_seen_s REAL NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
CREATE TABLE login_failures (
    name_key TEXT NOT NULL,
    address TEXT NOT NULL,
    at_s REAL NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures(name_key, address, at_s)
"""
"""Migration 12's SQL (``store.migrations``). ``users`` and ``api_tokens`` are copied with
a library (``store.copy.TABLES``); ``web_sessions`` and ``login_failures`` are not
(``store.copy.NOT_COPIED``): they are short-lived state of one running server."""

_USER = "SELECT id, name, role, disabled, created_at, password_hash FROM users"
_TOKEN = (
    "SELECT t.id, u.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,"
    " t.secret_sha256, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id"
)


@dataclass(frozen=True)
class UserRow:
    """One ``users`` row (with its password hash: never leaves ``library.accounts``)."""

    id: int
    name: str
    role: str
    disabled: bool
    created_at: str
    password_hash: str


@dataclass(frozen=True)
class TokenRow:
    """One ``api_tokens`` row with its account's name."""

    id: int
    user: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    secret_sha256: str
    user_id: int


@dataclass(frozen=True)
class SessionRow:
    """One ``web_sessions`` row with its account."""

    user: UserRow
    created_s: float
    last_seen_s: float


class AccountTables:
    """Reads and writes the account tables of one library database.

    Reads use ``conn`` (the store's connection); writes take the caller's transaction.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # -- users -------------------------------------------------------------------

    def user(self, name_key: str) -> UserRow | None:
        """The account whose folded name (``text.name_key``) is ``name_key``."""
        row = self._conn.execute(f"{_USER} WHERE name_key = ?", (name_key,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[UserRow]:
        """Every account, in the order they were made."""
        return [_user(r) for r in self._conn.execute(f"{_USER} ORDER BY id")]

    def add_user(
        self,
        conn: sqlite3.Connection,
        name: str,
        name_key: str,
        role: str,
        password_hash: str,
        at: str,
    ) -> int | None:
        """A new account's id; None when the name is taken."""
        cursor = conn.execute(
            "INSERT INTO users (name, name_key, role, password_hash, disabled, created_at,"
            " password_changed_at) VALUES (?, ?, ?, ?, 0, ?, ?)"
            " ON CONFLICT (name_key) DO NOTHING",
            (name, name_key, role, password_hash, at, at),
        )
        return None if cursor.rowcount == 0 else int(cursor.lastrowid or 0)

    def set_password_hash(
        self, conn: sqlite3.Connection, user_id: int, password_hash: str, at: str | None
    ) -> None:
        """Store a new hash; ``at`` None: the same password, rehashed with new parameters."""
        conn.execute(
            "UPDATE users SET password_hash = ?,"
            " password_changed_at = COALESCE(?, password_changed_at) WHERE id = ?",
            (password_hash, at, user_id),
        )

    def disable_user(self, conn: sqlite3.Connection, user_id: int) -> None:
        conn.execute("UPDATE users SET disabled = 1 WHERE id = ?", (user_id,))

    # -- sessions ----------------------------------------------------------------

    def add_session(
        self, conn: sqlite3.Connection, secret_sha256: str, user_id: int, address: str, now_s: float
    ) -> None:
        conn.execute(
            "INSERT INTO web_sessions (secret_sha256, user_id, address, created_s, last_seen_s)"
            " VALUES (?, ?, ?, ?, ?)",
            (secret_sha256, user_id, address, now_s, now_s),
        )

    def session(self, conn: sqlite3.Connection, secret_sha256: str) -> SessionRow | None:
        """The session with this secret hash and its account (read in ``conn``)."""
        row = conn.execute(
            "SELECT u.id, u.name, u.role, u.disabled, u.created_at, u.password_hash,"
            " s.created_s, s.last_seen_s FROM web_sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.secret_sha256 = ?",
            (secret_sha256,),
        ).fetchone()
        if row is None:
            return None
        return SessionRow(_user(row), float(row[6]), float(row[7]))

    def touch_session(self, conn: sqlite3.Connection, secret_sha256: str, now_s: float) -> None:
        conn.execute(
            "UPDATE web_sessions SET last_seen_s = ? WHERE secret_sha256 = ?",
            (now_s, secret_sha256),
        )

    def end_session(self, conn: sqlite3.Connection, secret_sha256: str) -> bool:
        """Delete one session; False when there was none."""
        cursor = conn.execute("DELETE FROM web_sessions WHERE secret_sha256 = ?", (secret_sha256,))
        return cursor.rowcount > 0

    def end_sessions(self, conn: sqlite3.Connection, user_id: int) -> int:
        """Delete every session of an account; how many there were."""
        cursor = conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
        return max(cursor.rowcount, 0)

    # -- API tokens --------------------------------------------------------------

    def add_token(
        self,
        conn: sqlite3.Connection,
        user_id: int,
        secret_sha256: str,
        at: str,
        expires_at: str | None,
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO api_tokens (user_id, secret_sha256, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (user_id, secret_sha256, at, expires_at),
        )
        return int(cursor.lastrowid or 0)

    def token(self, token_id: int) -> TokenRow | None:
        row = self._conn.execute(f"{_TOKEN} WHERE t.id = ?", (token_id,)).fetchone()
        return None if row is None else _token(row)

    def tokens(self, user_id: int | None = None) -> list[TokenRow]:
        """Every token (of one account when ``user_id`` is given), oldest first."""
        rows = self._conn.execute(
            f"{_TOKEN} WHERE (? IS NULL OR t.user_id = ?) ORDER BY t.id", (user_id, user_id)
        )
        return [_token(r) for r in rows]

    def revoke_tokens(
        self, conn: sqlite3.Connection, at: str, *, token_ids: Sequence[int] = (), user_id: int = 0
    ) -> int:
        """Revoke the given tokens, or every token of ``user_id``; how many were live."""
        ids = list(token_ids)
        where = f"id IN ({','.join('?' * len(ids))})" if ids else "user_id = ?"
        cursor = conn.execute(
            f"UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND {where}",
            (at, *(ids or [user_id])),
        )
        return max(cursor.rowcount, 0)

    def token_used(self, conn: sqlite3.Connection, token_id: int, at: str) -> None:
        conn.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?"
            " AND (last_used_at IS NULL OR last_used_at <> ?)",
            (at, token_id, at),
        )

    # -- failed logins -----------------------------------------------------------

    def failures_since(
        self, conn: sqlite3.Connection, name_key: str, address: str, since_s: float
    ) -> list[float]:
        """The times of failed logins for (account, address) after ``since_s``, oldest first
        (read in ``conn``: the caller counts and adds in one transaction)."""
        rows = conn.execute(
            "SELECT at_s FROM login_failures WHERE name_key = ? AND address = ? AND at_s > ?"
            " ORDER BY at_s",
            (name_key, address, since_s),
        )
        return [float(r[0]) for r in rows]

    def add_failure(
        self, conn: sqlite3.Connection, name_key: str, address: str, now_s: float, keep_s: float
    ) -> None:
        """Record a failed login; failures older than ``keep_s`` (anyone's) are dropped."""
        conn.execute("DELETE FROM login_failures WHERE at_s <= ?", (now_s - keep_s,))
        conn.execute(
            "INSERT INTO login_failures (name_key, address, at_s) VALUES (?, ?, ?)",
            (name_key, address, now_s),
        )

    def clear_failures(self, conn: sqlite3.Connection, name_key: str, address: str) -> None:
        conn.execute(
            "DELETE FROM login_failures WHERE name_key = ? AND address = ?", (name_key, address)
        )


def _user(row: Sequence[object]) -> UserRow:
    return UserRow(
        id=int(str(row[0])),
        name=str(row[1]),
        role=str(row[2]),
        disabled=bool(row[3]),
        created_at=str(row[4]),
        password_hash=str(row[5]),
    )


def _token(row: Sequence[object]) -> TokenRow:
    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return TokenRow(
        id=int(str(row[0])),
        user=str(row[1]),
        created_at=str(row[2]),
        expires_at=text(row[3]),
        revoked_at=text(row[4]),
        last_used_at=text(row[5]),
        secret_sha256=str(row[6]),
        user_id=int(str(row[7])),
    )
