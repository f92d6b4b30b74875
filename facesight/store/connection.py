"""Opening the library database, and SQLite's failures as one clear line each.

Issue 13 found a library created by any command with a mistyped ``--library``,
a read-only library that could not even be listed, "database is locked" and
"database or disk is full" tracebacks. Here: a database is created only when
asked (private, 0600, whatever the umask); a read-only one is opened with
``mode=ro&immutable=1`` (a read-only mount cannot hold the WAL's shared-memory
file); a lock held elsewhere is waited for ``LOCK_TIMEOUT_S`` and then named
with the processes holding the file open; every other SQLite error names the
library and suggests ``facesight doctor``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from facesight.errors import StoreError

__all__ = ["LOCK_TIMEOUT_S", "ReadOnlyLibraryError", "connect", "database_error", "lock_holders"]

LOCK_TIMEOUT_S = 60.0
"""How long a write waits for another process's write to end. SQLite's own wait;
a scan commits every few files, so any wait past a second or two is another
long transaction (a ``forget``'s checkpoint of a large library takes seconds)."""


class ReadOnlyLibraryError(StoreError):
    """A change was asked of a library opened read-only (a read-only mount or files)."""


def connect(path: Path, *, create: bool, read_only: bool) -> sqlite3.Connection:
    """Open the database file ``path``.

    Args:
        create: create the file (0600) when missing; else it must exist.
        read_only: open with ``mode=ro&immutable=1``: nothing is written, not
            even the WAL's index (the library was closed with an empty WAL).
    """
    if create and not read_only and not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    mode = "ro&immutable=1" if read_only else "rw"
    uri = f"file:{quote(os.path.abspath(path))}?mode={mode}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=LOCK_TIMEOUT_S)


def lock_holders(path: Path) -> list[str]:
    """The other processes that hold the database open, as ``pid N (command)`` (Linux;
    empty where ``/proc`` cannot tell)."""
    wanted = {os.path.realpath(path) + suffix for suffix in ("", "-wal", "-shm")}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            fds = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            if wanted.isdisjoint(fds):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append(f"pid {entry.name} ({' '.join(command.split())[:80]})")
    return found


def database_error(path: str, exc: sqlite3.Error) -> StoreError:
    """One clear line for a SQLite failure on the library at ``path``."""
    text = str(exc)
    library = Path(path).parent
    if "locked" in text or "busy" in text:
        holders = lock_holders(Path(path))
        who = f" by {', '.join(holders)}" if holders else " by another process"
        return StoreError(
            f"the library {library} is locked{who}; waited {LOCK_TIMEOUT_S:.0f} s: "
            "try again when it has finished"
        )
    if "full" in text:
        return StoreError(
            f"the disk holding the library {library} is full ({text}): the last change "
            "was rolled back; free some space and run the command again"
        )
    if "readonly" in text or "read-only" in text:
        return ReadOnlyLibraryError(f"the library {library} is read-only ({text})")
    return StoreError(
        f"the library database {path} is not as expected ({text}); "
        "run `facesight doctor` to check it"
    )
