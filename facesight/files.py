"""Writing files so that readers never see half of one: a temp file beside it, then rename.

Used for every file facesight writes outside its database: face crops, evidence
frames, reports, plots and XMP sidecars. A crash or a kill leaves either the old
file or the new one, never a torn one; the temp file is removed on failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_file", "write_text_atomically"]


@contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """Open a temp file in ``path``'s folder (created if needed); it replaces ``path``
    when the block ends without an exception, and is deleted otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str, newline: str = "\n") -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see the module docstring)."""
    with atomic_file(path, "w", encoding="utf-8", newline=newline) as handle:
        handle.write(text)
