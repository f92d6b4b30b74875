"""A PostgreSQL connection that speaks the subset of ``sqlite3.Connection`` the store uses.

The per-table store modules (``store.people``, ``store.media``, ``store.reviews``, ...)
are written once, in SQL both databases accept; this adapter lets the same functions run
on PostgreSQL (psycopg 3) without a second copy of any statement:

- ``?`` placeholders become psycopg's ``%s`` (a literal ``%`` is doubled), translated once
  per statement text and cached;
- values are bound client-side (``psycopg.ClientCursor``), so ``? IS NULL OR col = ?``
  works whatever the Python type (server-side binding cannot type a bare ``$1 IS NULL``);
- rows are read by position or by column name, and ``dict(row)`` works, like ``sqlite3.Row``;
- ``cursor.lastrowid`` is the ``id`` an INSERT made: ``RETURNING id`` is added to an INSERT
  into a table with an identity ``id`` (``ID_TABLES``);
- ``BEGIN IMMEDIATE`` (SQLite's "take the write lock now") becomes ``BEGIN`` plus a
  transaction-scoped advisory lock, so writers to one library take turns as they do on
  SQLite (the audit chain reads its last record and appends the next in one transaction);
- a descriptor (``rows.DescriptorBlob``: little-endian float32 bytes) is written to a
  pgvector ``vector`` column and read back as the same bytes;
- psycopg's errors are raised as ``sqlite3`` error classes (``PostgresIntegrityError`` is
  a ``sqlite3.IntegrityError``), so the store's one error boundary (``Store.transaction``,
  the migrations) maps both databases' failures alike. Messages never hold a password
  (``store.location.redact``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import psycopg
from psycopg import pq
from psycopg.adapt import Dumper, Loader
from psycopg.types import TypeInfo

from facesight.location import redact
from facesight.store.rows import DescriptorBlob

__all__ = [
    "ID_TABLES",
    "LIBRARY_LOCK",
    "PgConnection",
    "PgCursor",
    "PgRow",
    "PostgresError",
    "PostgresIntegrityError",
    "PostgresOperationalError",
    "open_postgres",
]

ID_TABLES = frozenset(
    {"people", "reference_faces", "media", "faces", "reviews", "audit_log", "unknown_clusters"}
)
"""Tables whose ``id`` is an identity column: an INSERT into one returns its id."""

LIBRARY_LOCK = 0x66616365
"""The advisory lock a write transaction holds (``face`` in ASCII): one writer at a time."""

_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)


class PostgresError(sqlite3.DatabaseError):
    """A PostgreSQL failure, raised as the ``sqlite3`` class the store already handles."""


class PostgresIntegrityError(sqlite3.IntegrityError):
    """A broken constraint (a foreign key, a unique key, an append-only trigger)."""


class PostgresOperationalError(sqlite3.OperationalError):
    """The server could not do it (gone, read-only, out of disk, a lock timeout)."""


def _mapped(exc: psycopg.Error, location: str) -> sqlite3.Error:
    text = redact(f"{exc}".strip(), location)
    if isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.RaiseException):
        return PostgresIntegrityError(text)
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction):
        return PostgresOperationalError(text)
    return PostgresError(text)


@lru_cache(maxsize=2048)
def _translated(sql: str, bound: bool = True) -> tuple[str, bool]:
    """The statement in psycopg's placeholders (``bound``: values come with it, so a
    literal ``%`` is doubled), and whether it returns the new row's id."""
    text = sql.replace("%", "%%").replace("?", "%s") if bound else sql
    if text.strip().upper() in ("BEGIN IMMEDIATE", "BEGIN"):
        return f"BEGIN; SELECT pg_advisory_xact_lock({LIBRARY_LOCK})", False
    insert = _INSERT.match(text)
    returns_id = (
        insert is not None
        and insert.group(1).lower() in ID_TABLES
        and "RETURNING" not in text.upper()
        and " SELECT " not in text.upper()
    )
    if returns_id:
        text = text.rstrip().rstrip(";") + " RETURNING id"
    return text, returns_id


class PgRow(tuple[Any, ...]):
    """A row readable by position and by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column named {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())
    row_type = type("Row", (PgRow,), {"_names": names})
    return lambda values: row_type(values)


class PgCursor:
    """The result of one statement: rows, ``rowcount`` and ``lastrowid``."""

    row_factory: Any = None  # accepted and ignored: rows are always addressable by name

    def __init__(
        self,
        rows: list[PgRow],
        rowcount: int,
        lastrowid: int | None,
        description: list[tuple[str, ...]] | None = None,
    ) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.description = description

    def fetchone(self) -> PgRow | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[PgRow]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.fetchall())


class _DescriptorDumper(Dumper):
    """A descriptor's float32 bytes as pgvector's text form ``[v1,v2,...]``."""

    format = pq.Format.TEXT

    def dump(self, obj: Any) -> bytes:
        values = np.frombuffer(bytes(obj), dtype="<f4")
        return ("[" + ",".join(repr(float(v)) for v in values) + "]").encode()


class _VectorLoader(Loader):
    """pgvector's text form read back as the float32 bytes the store modules expect."""

    format = pq.Format.TEXT

    def load(self, data: Any) -> bytes:
        text = bytes(data).decode()
        return np.array(text[1:-1].split(","), dtype="<f4").tobytes() if text != "[]" else b""


class PgConnection:
    """One psycopg connection behind the ``sqlite3.Connection`` methods the store calls.

    Args:
        conn: an open psycopg connection in autocommit mode (transactions are the
            store's explicit ``BEGIN``/``COMMIT``, as on SQLite).
        location: the library URL, for error messages (its password is never shown).
    """

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any], location: str) -> None:
        self.raw = conn
        self.location = location
        self._vector_ready = False

    def register_vector(self) -> None:
        """Read and write descriptors in ``vector`` columns (once the extension exists)."""
        info = TypeInfo.fetch(self.raw, "vector")
        if info is None:
            return
        dumper = type("DescriptorDumper", (_DescriptorDumper,), {"oid": info.oid})
        self.raw.adapters.register_dumper(DescriptorBlob, dumper)
        self.raw.adapters.register_loader(info.oid, _VectorLoader)
        self._vector_ready = True

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        text, returns_id = _translated(sql, bool(params))
        try:
            with self.raw.cursor(row_factory=_row_factory) as cursor:
                cursor.execute(text.encode(), list(params) or None)
                rows: list[PgRow] = []
                described: list[tuple[str, ...]] | None = [
                    (d.name,) for d in cursor.description or ()
                ] or None
                if cursor.description is not None:
                    while True:
                        rows += cursor.fetchall()
                        if not cursor.nextset():
                            break
                rowcount = cursor.rowcount
        except psycopg.Error as exc:
            raise _mapped(exc, self.location) from exc
        lastrowid = int(rows[0][0]) if returns_id and rows else None
        return PgCursor([] if returns_id else rows, rowcount, lastrowid, described)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        text, _ = _translated(sql)
        text = text.replace(" RETURNING id", "")
        params = [list(p) for p in seq]
        if not params:
            return PgCursor([], 0, None)
        try:
            with self.raw.cursor() as cursor:
                cursor.executemany(text.encode(), params)
                rowcount = cursor.rowcount
        except psycopg.Error as exc:
            raise _mapped(exc, self.location) from exc
        return PgCursor([], rowcount, None)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Write rows with ``COPY ... FROM STDIN`` (inside the open transaction); the count.

        The bulk path for large writes (``store.copy``, the writer benchmark): one
        round trip for the whole stream instead of one per row."""
        names = ", ".join(columns)
        count = 0
        try:
            with (
                self.raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN".encode()) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
                    count += 1
        except psycopg.Error as exc:
            raise _mapped(exc, self.location) from exc
        return count

    def close(self) -> None:
        self.raw.close()


def open_postgres(location: str, *, read_only: bool = False) -> PgConnection:
    """Connect to the library database at the ``postgresql://`` URL ``location``.

    Raises:
        PostgresOperationalError: the server cannot be reached or refuses the login
            (in one line without the password).
    """
    try:
        conn = psycopg.connect(location, autocommit=True, cursor_factory=psycopg.ClientCursor)
    except psycopg.Error as exc:
        raise _mapped(exc, location) from exc
    if read_only:
        conn.execute("SET default_transaction_read_only = on")
    conn.execute("SET client_min_messages = warning")
    return PgConnection(conn, location)
