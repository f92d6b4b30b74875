"""Writing files so that readers never see half of one: a temp file beside it, fsync, rename;
and the sha256 of a file's content (the one helper for media, model and index files).

Used for every file facesight writes outside its database: face crops, evidence
frames, reports, plots, exports and XMP sidecars. A crash or a kill leaves either
the old file or the new one, never a torn one; the temp file is removed on failure.

One rule for every output (issue 13): only a regular file is ever replaced. A
device node (``/dev/full``), a FIFO, a folder, or a symlink to any of them is
refused with :class:`~facesight.errors.OutputError`; a symlink to a regular file
is written through (its target is replaced, the link stays). ``-`` is standard
output. Files are written 0600 and missing folders made 0700, whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from facesight.errors import OutputError

__all__ = [
    "STDOUT",
    "atomic_file",
    "atomic_path",
    "check_output",
    "process_alive",
    "sha256_file",
    "sha256_stream",
    "sweep_dead_temps",
    "write_text_atomically",
]

STDOUT = "-"
"""The output name that means standard output."""


def check_output(path: Path, *, make_parents: bool = True) -> Path:
    """The file to replace when writing ``path``: itself, or a symlink's regular target.

    Raises:
        OutputError: ``path`` is (or links to) something other than a regular
            file, or its folder is missing and ``make_parents`` is false.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(
            f"{path} is not a regular file ({_kind(mode)}): refusing to replace it; "
            "name a file, or '-' for standard output"
        )
    if mode is None and path.is_symlink():
        raise OutputError(f"{path} is a broken symlink (to {os.readlink(path)}): refusing it")
    if not make_parents and not target.parent.is_dir():
        raise OutputError(f"cannot write {path}: no such folder {target.parent}; create it first")
    return target


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


@contextmanager
def atomic_file(
    path: Path,
    mode: str = "wb",
    *,
    make_parents: bool = True,
    durable: bool = True,
    **open_args: Any,
) -> Iterator[IO[Any]]:
    """Open a temp file in ``path``'s folder (created unless ``make_parents`` is false); it
    is fsynced (unless ``durable`` is false) and replaces ``path`` when the block ends
    without an exception, and is deleted otherwise.

    ``-`` yields standard output (left open). See the module docstring for what is refused.
    """
    if str(path) == STDOUT:
        yield sys.stdout.buffer if "b" in mode else sys.stdout
        return
    with (
        atomic_path(path, make_parents=make_parents, durable=durable) as temporary,
        temporary.open(mode, **open_args) as handle,
    ):
        yield handle


@contextmanager
def atomic_path(path: Path, *, make_parents: bool = True, durable: bool = True) -> Iterator[Path]:
    """A temp file's path in ``path``'s folder, for writers that take a file name (faiss,
    numpy): when the block ends without an exception it is fsynced and replaces ``path``;
    otherwise it is deleted. ``durable=False`` skips the fsync: readers still never see
    a partial file, but a power failure may lose the data (for files made again
    cheaply). The temp file is named ``.tmp-<pid>-*`` (the writing process, so
    :func:`sweep_dead_temps` can tell a killed writer's leftover from a live one's); it
    is created 0600.
    """
    target = check_output(Path(path), make_parents=make_parents)
    # folders made here are private (0700), like the 0600 temp file mkstemp makes:
    # crops and evidence are biometric data
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".tmp-{os.getpid()}-", suffix=target.suffix
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o600)  # a writer that recreated the file took the umask's mode
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_dead_temps(folder: Path) -> int:
    """Remove the temp files (``.tmp-<pid>-*``) that writers killed mid-write (``kill -9``)
    left in ``folder``; a live process's are kept. Returns how many were removed.

    Run by exports before they write into a folder outside the library (the library's own
    leftovers are swept when it is opened).
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        parts = entry.name.split("-", 2)
        if len(parts) < 3 or parts[0] != ".tmp" or not parts[1].isdigit():
            continue
        if not process_alive(int(parts[1])) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (the writer of a temp file, a session's owner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def sha256_stream(handle: IO[bytes]) -> str:
    """Hex sha256 of what is left to read in ``handle``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content.

    Raises:
        OSError: the file cannot be opened or read.
    """
    with Path(path).open("rb") as handle:
        return sha256_stream(handle)


def write_text_atomically(
    path: Path, text: str, newline: str = "\n", *, make_parents: bool = True
) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see the module docstring)."""
    with atomic_file(
        path, "w", make_parents=make_parents, encoding="utf-8", newline=newline
    ) as handle:
        handle.write(text)
