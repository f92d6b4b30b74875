"""Crash-safe files for FaceIndex: write through a temporary file, fsync, rename, checksum.

A save writes its data file under a new name, then replaces the manifest that names
it (``os.replace`` is atomic on POSIX and Windows), then removes the older data files:
a crash at any point leaves a manifest naming a complete file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from facesight.files import atomic_path, sha256_file

__all__ = [
    "DATA_PREFIX",
    "MANIFEST",
    "fsync_directory",
    "remove_other_data_files",
    "write_atomically",
]

MANIFEST = "manifest.json"
DATA_PREFIX = "faces-"


def write_atomically(path: Path, write: Callable[[Path], object]) -> tuple[int, str]:
    """Have ``write`` fill a temporary file, fsync it, rename it to ``path``
    (:func:`facesight.files.atomic_path`).

    Returns the file's size in bytes and its sha256 (hex). On any error the
    temporary file is removed and ``path`` is left as it was.
    """
    with atomic_path(path) as temporary:
        write(temporary)
        digest = sha256_file(temporary)
        size = temporary.stat().st_size
    return size, digest


def fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (a no-op where directories can't be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_other_data_files(directory: Path, keep: str) -> None:
    """Remove older data files and leftovers of interrupted saves; best effort."""
    for path in directory.iterdir():
        old_data = path.name.startswith(DATA_PREFIX) and path.name != keep
        # ".tmp-*": atomic_path's temporary files; ".*.tmp": those of older versions
        leftover = path.name.startswith(".tmp-") or (
            path.name.startswith(".") and path.name.endswith(".tmp")
        )
        if old_data or leftover:
            # Still open elsewhere (Windows): the next save removes it.
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
