"""Paths of files inside a library, stored relative to it.

A library is a directory that can be copied (``cp -a``), moved or named by a
relative path from any folder; so the database stores the crops it owns as
``crops/…`` relative to the library directory and resolves them against the
directory it was opened from. Before schema 6 facesight stored them as the
``--library`` was typed (absolute or relative to the shell's folder):
:func:`migrated_crop_path` rewrites those. Files are only ever deleted when
they lie inside the library (:func:`file_inside`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["file_inside", "migrated_crop_path", "resolve_stored", "to_stored"]

_OWN_CROP = re.compile(
    r"(?:^|[/\\])(crops[/\\](?:references[/\\]ref_\d+\.jpg|[0-9a-f]{2}[/\\][0-9a-f]{64}_[^/\\]+\.jpg))$"
)
"""The names facesight gives the crops it writes (``scan_workers``, ``library_enroll``)."""


def to_stored(root: Path, path: str) -> str:
    """``path`` as the database stores it: relative to ``root`` when inside it, else as given."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(root)
    if os.path.commonpath([absolute, base]) == base:
        return Path(os.path.relpath(absolute, base)).as_posix()
    return path


def resolve_stored(root: Path, value: str) -> str:
    """A stored path as a file name usable from any working folder."""
    if os.path.isabs(value):
        return value
    return os.path.join(os.path.abspath(root), value)


def file_inside(root: Path, value: str) -> Path | None:
    """The file a stored path names when it lies inside the library ``root``, else None
    (links resolved, so nothing outside the library is ever deleted through it)."""
    real = Path(os.path.realpath(resolve_stored(root, value)))
    base = Path(os.path.realpath(root))
    return real if real.is_relative_to(base) and real != base else None


def migrated_crop_path(root: Path | None, value: str) -> str:
    """A crop path stored before schema 6, as schema 6 stores it.

    Inside the library: relative to it. A crop named as facesight names its
    own (``…/crops/<xx>/<sha256>_<i>.jpg``, ``…/crops/references/ref_<n>.jpg``)
    that lies elsewhere was written by this library under another name (a
    copy, a move, a path typed relative to another folder): it is the
    library's own. Anything else is kept as it was.
    """
    if root is not None and os.path.isabs(value):
        stored = to_stored(root, value)
        if stored != value:
            return stored
    found = _OWN_CROP.search(value)
    if found is None:
        return value
    return found.group(1).replace("\\", "/")
