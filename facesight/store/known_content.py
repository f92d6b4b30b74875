"""What a scan worker asks the library before analysing a file: is this content known?

Scan workers are separate processes, each with its own read-only connection to the
library file (a connection cannot cross a process); they only read ``media``, which
``Store`` writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from facesight.location import is_postgres_url

__all__ = ["KnownContent"]


class KnownContent:
    """A read-only view of the stored media of one library database file.

    Args:
        database: the library's SQLite file, or its PostgreSQL URL (``store.location``).
    """

    def __init__(self, database: Path | str) -> None:
        self._db: Any
        if is_postgres_url(database):
            from facesight.store.postgres_connection import open_postgres

            self._db = open_postgres(str(database), read_only=True)
        else:
            self._db = sqlite3.connect(
                f"file:{database}?mode=ro", uri=True, check_same_thread=False
            )

    def close(self) -> None:
        self._db.close()

    def known(self, sha256: str, embedder: str) -> bool:
        """Whether content with this sha256 is stored, described by ``embedder``."""
        row = self._db.execute(
            "SELECT 1 FROM media WHERE sha256 = ? AND embedder = ?", (sha256, embedder)
        ).fetchone()
        return row is not None
