"""``facesight library copy``: a library copied between SQLite and PostgreSQL, verified.

The rows and crops go across in one transaction (``store.copy``); the copy then gets an
audit record of its own (``library.copy``, with the counts), and is checked by counting
every table on both sides and by verifying its audit chain, which still holds because
the records were copied with their ids and hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facesight.errors import StoreError
from facesight.library.directory import postgres_files_dir, prepare_library_dir
from facesight.location import is_postgres_url
from facesight.store.audit import AuditAction, AuditVerification
from facesight.store.backend import DB_NAME, open_store
from facesight.store.copy import copy_library as copy_rows
from facesight.store.sqlite import Store

__all__ = ["CopyReport", "copy_library"]


@dataclass(frozen=True)
class CopyReport:
    """What ``copy_library`` copied and found: rows per table (and ``crops``), the source
    and copy as messages name them, and the copy's audit verification."""

    source: str
    destination: str
    counts: dict[str, int]
    audit: AuditVerification


def _open(location: str | Path, *, create: bool) -> Store:
    if is_postgres_url(location):
        files = postgres_files_dir(str(location))
        prepare_library_dir(files, DB_NAME, create=True, read_only=False, notices=[])
        return open_store(str(location), files_dir=files, create=create)
    folder = Path(location)
    prepare_library_dir(folder, DB_NAME, create=create, read_only=False, notices=[])
    return open_store(folder, files_dir=folder, create=create)


def copy_library(
    source: str | Path, destination: str | Path, *, actor: str | None = None
) -> CopyReport:
    """Copy the library at ``source`` into a new (or empty) library at ``destination``;
    each a folder or a ``postgresql://`` URL.

    Raises:
        NotFoundError: no library at ``source``.
        InvalidInputError: the destination is not empty, or at another schema version.
        StoreError: the copy's counts or its audit chain do not match the source's.
    """
    with _open(source, create=False) as src, _open(destination, create=True) as dst:
        counts = copy_rows(src, dst)
        audit = dst.audit_log(actor)
        with dst.transaction() as conn:
            audit.record(
                conn,
                AuditAction.LIBRARY_COPY,
                counts={k: v for k, v in counts.items() if v},
                details=f"copied from {src.where}",
            )
        verification = audit.verify()
        if not verification.ok:
            raise StoreError(f"the copy at {dst.where} does not verify: {verification.problems[0]}")
        return CopyReport(src.where, dst.where, counts, verification)
