"""Collection roots registered for the review workspace to scan (``Library.collections``).

An administrator registers a folder from the command line (``facesight collections add
PATH``); the workspace lists the roots and starts a scan job of one by its id, so no web
request ever names a path on the server. A root is stored resolved (absolute, symbolic links
followed) and must be an existing folder this process can read and list, outside the library
itself. Adding and removing a root are audited (``collections.add``, ``collections.remove``,
the path in the erasable field). Removing a root forgets the registration only: what its
scans stored stays in the library.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facesight.clock import utc_now_iso
from facesight.errors import InvalidInputError, NotFoundError
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.collections import CollectionRow
from facesight.store.protocol import LibraryStore

__all__ = ["Collection", "CollectionService"]


@dataclass(frozen=True)
class Collection:
    """A registered root: ``path`` resolved, ``added_at`` ISO UTC, ``added_by`` who acted."""

    id: int
    path: str
    added_at: str
    added_by: str


def _collection(row: CollectionRow) -> Collection:
    return Collection(row.id, row.path, row.added_at, row.added_by)


class CollectionService:
    """The registered roots of one library.

    Args:
        store: the library database (``store.collections`` writes the rows).
        audit: where each change is recorded, in the change's transaction.
        library_dir: the library's own folder: never a root, nor inside one's walk.
    """

    def __init__(self, store: LibraryStore, audit: AuditLog, library_dir: Path) -> None:
        self._store = store
        self._audit = audit
        self._library_dir = library_dir

    def add(self, path: str | os.PathLike[str]) -> Collection:
        """Register the folder ``path`` (resolved); audited.

        Raises:
            NotFoundError: nothing is at ``path``.
            InvalidInputError: ``path`` is not a folder, cannot be read or listed, lies
                inside the library, or is registered already.
        """
        resolved = self._checked(Path(path))
        with self._store.transaction() as conn:
            new_id = self._store.collections.add(conn, resolved, utc_now_iso(), self._audit.actor)
            if new_id is None:
                raise InvalidInputError(f"{resolved} is registered already")
            self._audit.record(
                conn, AuditAction.COLLECTIONS_ADD, counts={"collection": new_id}, paths=[resolved]
            )
        return self.get(new_id)

    def list(self) -> list[Collection]:
        """Every registered root, oldest first."""
        return [_collection(row) for row in self._store.collections.all()]

    def get(self, collection_id: int) -> Collection:
        """The root with this id.

        Raises:
            NotFoundError: no root has this id.
        """
        row = self._store.collections.get(collection_id)
        if row is None:
            raise NotFoundError(
                f"no collection {collection_id}: `facesight collections list` shows the ids"
            )
        return _collection(row)

    def remove(self, collection_id: int) -> Collection:
        """Forget the root ``collection_id`` (what its scans stored stays); audited.

        Raises:
            NotFoundError: no root has this id.
        """
        found = self.get(collection_id)
        with self._store.transaction() as conn:
            if not self._store.collections.remove(conn, collection_id):
                raise NotFoundError(f"no collection {collection_id}")
            self._audit.record(
                conn,
                AuditAction.COLLECTIONS_REMOVE,
                counts={"collection": collection_id},
                paths=[found.path],
            )
        return found

    def _checked(self, path: Path) -> str:
        """``path`` resolved, once it is a readable folder outside the library."""
        if not path.exists():
            raise NotFoundError(f"{path}: no such folder; nothing was registered")
        resolved = path.resolve()
        if not resolved.is_dir():
            raise InvalidInputError(f"{path} is not a folder: register the folder that holds it")
        if not os.access(resolved, os.R_OK | os.X_OK):
            raise InvalidInputError(f"{path}: this account cannot read or list the folder")
        try:
            with os.scandir(resolved) as entries:
                next(entries, None)
        except OSError as error:
            raise InvalidInputError(f"{path}: the folder cannot be listed: {error}") from error
        library = self._library_dir.resolve()
        if resolved == library or library in resolved.parents:
            raise InvalidInputError(
                f"{path} is inside the library {self._library_dir}: its crops are not media"
            )
        return str(resolved)
