"""``facesight library backup DEST``: a consistent copy of a SQLite library, taken while
``facesight serve`` (or any command) keeps writing to it.

Order matters. The database is copied first, as one snapshot (``store.backup``), then the
crops its rows name. A crop is written before the row that names it commits, so every
crop the snapshot names already existed when the snapshot was taken; copying crops first
would miss the crops of faces stored between the two copies. Crops written after the
snapshot are not copied (no row in the backup names them). A crop deleted between the
two copies (someone forgot a person meanwhile) is listed in ``missing_crops``: take the
backup again. The face index and the model cache are not copied: both are rebuilt from
the database when the backup is first opened (the index about 30 s at 1M faces,
``bench/make_million.py``).

The backup is an audit record of the library (``library.backup``, DEST an erasable
path), written before the snapshot so the backup holds it too. The backup is private
like a library (folders 0700, files 0600), never written over an
existing path, and checked once taken: SQLite's ``PRAGMA integrity_check`` and the audit
chain's verification. A PostgreSQL library is backed up with ``pg_dump``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from facesight.errors import InvalidInputError, NotFoundError, StoreError
from facesight.library.directory import PRIVATE_FILE, is_library, make_private_dir
from facesight.location import is_postgres_url
from facesight.store.audit import AuditAction, AuditVerification
from facesight.store.backend import DB_NAME
from facesight.store.backup import snapshot_crop_paths, snapshot_database
from facesight.store.crop_paths import file_inside
from facesight.store.sqlite import Store

__all__ = ["BackupReport", "backup_library"]


@dataclass(frozen=True)
class BackupReport:
    """What ``backup_library`` wrote: the backup's folder, its database's size, the crops
    copied and those named but gone (deleted after the snapshot), the audit check."""

    destination: Path
    database_bytes: int
    crops: int
    missing_crops: list[str]
    audit: AuditVerification


def backup_library(
    source: str | Path, destination: Path, *, actor: str | None = None
) -> BackupReport:
    """Back up the library folder ``source`` into the new folder ``destination``; the
    backup is first recorded in the library's audit log (``library.backup``, as ``actor``),
    so the backup holds the record of its own making.

    Raises:
        InvalidInputError: ``destination`` exists, or ``source`` is a PostgreSQL library.
        NotFoundError, StoreError: no library at ``source``; the copy failed or does not
            pass its checks.
    """
    if is_postgres_url(source):
        raise InvalidInputError(
            "a PostgreSQL library is backed up with pg_dump (pg_dump -Fc DBNAME > FILE), "
            "and its files folder copied after it"
        )
    source = Path(source)
    if destination.exists() or destination.is_symlink():
        raise InvalidInputError(f"{destination} exists: give a new folder for the backup")
    if not is_library(source, DB_NAME):
        raise NotFoundError(f"no library at {source} (no {DB_NAME} in it)")
    with Store(source / DB_NAME, create=False) as library:
        audit = library.audit_log(actor)
        with library.transaction() as conn:
            audit.record(conn, AuditAction.LIBRARY_BACKUP, paths=[str(destination)])
    make_private_dir(destination)
    snapshot_database(source / DB_NAME, destination / DB_NAME)
    copied, missing = _copy_crops(source, destination, snapshot_crop_paths(destination / DB_NAME))
    with Store(destination / DB_NAME, create=False) as backup:
        problems = backup.integrity_problems()
        if problems:
            raise StoreError(f"the backup at {destination} is damaged: {problems[0]}")
        verified = backup.audit_log().verify()
    if not verified.ok:
        raise StoreError(f"the backup's audit log does not verify: {verified.problems[0]}")
    size = (destination / DB_NAME).stat().st_size
    return BackupReport(destination, size, copied, missing, verified)


def _copy_crops(source: Path, destination: Path, named: set[str]) -> tuple[int, list[str]]:
    """Copy the crops ``named`` (stored paths inside the library) as 0600 files; (copied,
    missing). A stored path outside the library (from before schema 6) is not copied."""
    copied, missing = 0, []
    for stored in sorted(named):
        found = file_inside(source, stored)
        if found is None or os.path.isabs(stored):
            continue
        target = destination / stored
        _private_folders(destination, target.parent)
        try:
            shutil.copyfile(found, target)
        except FileNotFoundError:
            missing.append(stored)
            continue
        os.chmod(target, PRIVATE_FILE)
        copied += 1
    return copied, missing


def _private_folders(root: Path, folder: Path) -> None:
    """``folder`` and each folder between it and ``root`` made 0700 (``mkdir -p`` would
    leave the ones between to the umask)."""
    if folder == root or folder.is_dir():
        return
    _private_folders(root, folder.parent)
    make_private_dir(folder)
