"""The library directory on disk: whether one exists, private permissions, leftovers.

A library holds biometric data (every face's descriptor, crops of faces), so
it is private to its owner: folders 0700 and files 0600, set explicitly so the
umask does not matter (issue 13 found 0755/0644). Libraries made before are
tightened when opened, and the caller is told once. A ``kill -9`` can leave
temp files of atomic writes (``.tmp-*``) and crops whose row was never
committed; :func:`sweep_leftovers` removes them on the next open.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from facesight.config import default_library_dir
from facesight.errors import NotFoundError
from facesight.files import process_alive
from facesight.location import redact_url

__all__ = [
    "LIBRARY_FOLDERS",
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "TEMP_GRACE_S",
    "is_library",
    "make_private_dir",
    "mark_session",
    "orphan_crops",
    "postgres_files_dir",
    "prepare_library_dir",
    "sweep_leftovers",
    "tighten_permissions",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

TEMP_GRACE_S = 600.0
"""A temp file younger than this may belong to a command running now (a scan
writes crops from worker processes): it is left alone."""

LIBRARY_FOLDERS = ("crops", "models", "index", "cache")
"""The library's own folders (see ``library``'s module docstring)."""


def is_library(path: Path, database: str) -> bool:
    """Whether ``path`` holds a library: a database file that is not empty."""
    try:
        return (path / database).stat().st_size > 0
    except OSError:
        return False


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents of the library itself) as 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def _entries(root: Path) -> Iterable[Path]:
    """The library's folders and files that matter, without walking every crop."""
    yield root
    for child in root.iterdir():
        yield child
        if child.is_dir() and not child.is_symlink():
            for inner in child.iterdir():
                yield inner
                if child.name == "crops" and inner.is_dir() and inner.name == "references":
                    yield from inner.iterdir()


def tighten_permissions(root: Path) -> int:
    """Make the library's folders 0700 and its files 0600; return how many changed.

    Crops under ``crops/<xx>/`` are written 0600 by ``files.atomic_file`` and
    sit behind 0700 folders, so they are not walked one by one.
    """
    changed = 0
    for path in _entries(root):
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            continue
        want = PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else PRIVATE_FILE
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & want)
            changed += 1
    return changed


def sweep_leftovers(root: Path, known_crops: set[str], grace_s: float = TEMP_GRACE_S) -> int:
    """Remove temp files of interrupted writes and crops no row names; return the count.

    Args:
        known_crops: every crop path the database stores (relative to ``root``).
        grace_s: files younger than this are left alone (0 when no other
            command has the library open).
    """
    now = time.time()
    removed = 0
    for path in _walk_files(root):
        relative = path.relative_to(root).as_posix()
        leftover = path.name.startswith(".tmp-") or (
            relative.startswith("crops/") and relative not in known_crops
        )
        try:
            if leftover and now - path.stat().st_mtime >= grace_s:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def orphan_crops(root: Path, known_crops: set[str]) -> list[Path]:
    """Crop files no row of the database names (``doctor`` lists them)."""
    return [
        p
        for p in _walk_files(root)
        if p.relative_to(root).as_posix().startswith("crops/")
        and p.relative_to(root).as_posix() not in known_crops
        and not p.name.startswith(".tmp-")
    ]


def _walk_files(root: Path) -> Iterable[Path]:
    """Files directly in ``root`` and anywhere under its own sub-folders."""
    for entry in root.iterdir():
        if entry.is_file() and not entry.is_symlink():
            yield entry
    for name in LIBRARY_FOLDERS:
        for folder, _, files in os.walk(root / name):
            for file in files:
                yield Path(folder) / file


def prepare_library_dir(
    path: Path, database: str, *, create: bool, read_only: bool | None, notices: list[str]
) -> bool:
    """Check or create the library folder; return whether to open it read-only.

    What the caller should tell the user (read-only, permissions tightened) is
    appended to ``notices``.

    Raises:
        NotFoundError: no library there and ``create`` is False.
    """
    if not is_library(path, database):
        if not create:
            raise NotFoundError(
                f"the library {path} does not exist (no {database} in it): "
                "check --library, or create it with `facesight init` (or enroll/scan)"
            )
        make_private_dir(path)
    if read_only is None:
        db = path / database
        read_only = not os.access(path, os.W_OK) or (db.exists() and not os.access(db, os.W_OK))
    if read_only:
        notices.append(
            f"the library {path} is read-only: opened without recording anything (no audit entries)"
        )
    else:
        for folder in LIBRARY_FOLDERS:  # made here so they are private (0700) too
            make_private_dir(path / folder)
        changed = tighten_permissions(path)
        if changed:
            notices.append(
                f"tightened the permissions of {changed} path(s) in the library "
                f"{path}: folders 0700, files 0600 (it holds biometric data)"
            )
    return read_only


def postgres_files_dir(location: str) -> Path:
    """The local folder of a PostgreSQL library's files on this machine: crops as they
    are written and served (the database holds them: ``store.postgres``), converted
    models, the index of stored faces, session markers. One per database (the URL
    without its password), beside the per-user default library."""
    key = hashlib.sha256(redact_url(location).encode()).hexdigest()[:16]
    return default_library_dir().parent / "postgres" / key


def mark_session(path: Path) -> tuple[Path, list[Path], list[Path]]:
    """Mark this process as using the library at ``path``.

    Returns the new marker, the markers found before it, and those of them whose
    process is gone (a killed command: its leftovers are to be swept).
    """
    others = list(path.glob(".session-*"))
    dead = [m for m in others if not _alive(m.name.split("-")[1])]
    # one marker per open library (a process may open it twice), named by its process
    marker = path / f".session-{os.getpid()}-{secrets.token_hex(4)}"
    os.close(os.open(marker, os.O_CREAT | os.O_WRONLY, 0o600))
    return marker, others, dead


def _alive(pid: str) -> bool:
    """Whether a session marker's owner runs (its name holds the pid)."""
    return pid.isdigit() and process_alive(int(pid))
