"""Where the library lives. Read only by the edges (CLI, API), never by the library."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["ENV_LIBRARY", "default_library_dir", "resolve_library_dir"]

ENV_LIBRARY = "FACESIGHT_LIBRARY"


def default_library_dir() -> Path:
    """The per-user default: e.g. ``~/.local/share/facesight/library`` on Linux."""
    return Path(platformdirs.user_data_dir("facesight", appauthor=False)) / "library"


def resolve_library_dir(explicit: str | Path | None) -> Path:
    """``--library`` if given, else ``$FACESIGHT_LIBRARY``, else the per-user default."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(ENV_LIBRARY)
    return Path(from_env).expanduser() if from_env else default_library_dir()
