"""Choosing the library database from where the library is: the one place that does.

A folder holds a SQLite file (``store.sqlite.Store``); a ``postgresql://`` URL names a
PostgreSQL database (``store.postgres.PostgresStore``, imported only then, so a SQLite
library never needs psycopg).
"""

from __future__ import annotations

from pathlib import Path

from facesight.errors import StoreError
from facesight.location import is_postgres_url
from facesight.store.sqlite import Store

__all__ = ["DB_NAME", "open_store"]

DB_NAME = "facesight.db"
"""The SQLite file in a library folder."""


def open_store(
    location: str | Path, *, files_dir: Path, create: bool = True, read_only: bool = False
) -> Store:
    """The store of the library at ``location``.

    Args:
        location: the library folder, or a ``postgresql://`` URL.
        files_dir: the local folder of the library's files: for a folder, the folder
            itself (the database is ``DB_NAME`` in it); for a URL, where crops are
            written and served from (``library.directory.postgres_files_dir``).
        create, read_only: as ``Store`` takes them.

    Raises:
        StoreError: a URL was given and the ``postgres`` extra is not installed.
    """
    if is_postgres_url(location):
        try:
            from facesight.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"a PostgreSQL library needs psycopg and pgvector ({exc.name} is missing): "
                "pip install 'facesight[postgres]'"
            ) from exc
        return PostgresStore(str(location), files_dir=files_dir, create=create, read_only=read_only)
    return Store(files_dir / DB_NAME, create=create, read_only=read_only)
