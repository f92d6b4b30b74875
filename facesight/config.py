"""Where the library lives. Read only by the edges (CLI, API), never by the library.

A library is a folder (its SQLite database, crops, models) or a PostgreSQL database
named by a ``postgresql://`` URL (``facesight.location``): a URL stays the string it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from facesight.location import is_postgres_url

__all__ = ["ENV_LIBRARY", "default_library_dir", "resolve_library", "resolve_library_dir"]

ENV_LIBRARY = "FACESIGHT_LIBRARY"


def default_library_dir() -> Path:
    """The per-user default: e.g. ``~/.local/share/facesight/library`` on Linux."""
    return Path(platformdirs.user_data_dir("facesight", appauthor=False)) / "library"


def resolve_library(explicit: str | Path | None) -> Path | str:
    """``--library`` if given, else ``$FACESIGHT_LIBRARY``, else the per-user default:
    a folder as a ``Path``, a ``postgresql://`` URL as the string it is."""
    chosen = explicit or os.environ.get(ENV_LIBRARY)
    if not chosen:
        return default_library_dir()
    if is_postgres_url(chosen):
        return str(chosen).strip()
    return Path(chosen).expanduser()


def resolve_library_dir(explicit: str | Path | None) -> Path:
    """The library folder :func:`resolve_library` names; for a PostgreSQL library, the
    per-user default folder (where the measurement scripts keep their caches)."""
    location = resolve_library(explicit)
    return default_library_dir() if isinstance(location, str) else location
