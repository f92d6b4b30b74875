"""A full disk, for real: a small tmpfs mounted by the test, and SQLite's max_page_count."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesight.errors import StoreError
from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))


def _counts(database: Path) -> tuple[int, ...]:
    with sqlite3.connect(database) as conn:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("people", "reference_faces", "media", "faces", "candidates")
        )


def _consistent(library: Path) -> None:
    """Each committed change whole, none half: media hold their faces, crops match rows."""
    with sqlite3.connect(library / "facesight.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        uneven = conn.execute(
            "SELECT m.id FROM media m WHERE m.face_count !="
            " (SELECT COUNT(*) FROM faces f WHERE f.media_id = m.id)"
        ).fetchall()
        assert uneven == []
        stored = {
            r[0]
            for r in conn.execute(
                "SELECT crop_path FROM faces UNION SELECT crop_path FROM reference_faces"
            )
            if r[0]
        }
    on_disk = {p.relative_to(library).as_posix() for p in (library / "crops").rglob("*.jpg")}
    assert on_disk == stored


def test_a_database_that_cannot_grow_rolls_back_with_one_clear_error(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Joe Biden", BIDEN[:1])
        pages = library.store.connection.execute("PRAGMA page_count").fetchone()[0]
        library.store.connection.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="full"):
            library.scan(sorted(PEOPLE.rglob("*.jpg"))[:12])
        with pytest.raises(StoreError, match="full"):
            library.enroll("Barack Obama", OBAMA)
    # earlier files and images were committed one transaction each; the failed one is not
    _consistent(tmp_path / "lib")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs (root only): too small for the 20 MB model cache."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _facesight(library: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facesight", "--library", str(library), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _fill(disk: Path) -> None:
    """Fill the disk up, leaving nothing free (unbuffered: nothing left to flush)."""
    for name, block in (("filler", 1 << 16), ("filler2", 512)):
        fd = os.open(disk / name, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            while os.write(fd, b"\0" * block):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)


def _problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error")]


@pytest.mark.slow
def test_a_full_disk_ends_every_command_with_one_line_and_the_library_as_before(
    small_disk: Path,
) -> None:
    library = small_disk / "lib"
    enrolled = _facesight(library, "enroll", "Joe Biden", str(BIDEN[0]))
    assert enrolled.returncode == 0, enrolled.stderr
    assert "Traceback" not in enrolled.stderr  # the model cache did not fit: a warning only
    before = _counts(library / "facesight.db")
    _fill(small_disk)
    photos = small_disk.parent / "photos"
    photos.mkdir()
    for image in OBAMA[:3]:
        shutil.copy(image, photos / image.name)
    for args in (
        ("enroll", "Barack Obama", str(OBAMA[0])),
        ("scan", str(photos)),
        ("people",),
    ):
        result = _facesight(library, *args)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        if args[0] != "people":
            assert result.returncode == 1, (args, result.stderr)
            assert len(_problem_lines(result)) == 1, (args, result.stderr)
        leftovers = [p for p in library.rglob(".tmp-*")]
        assert leftovers == [], args
    os.unlink(small_disk / "filler")
    assert _counts(library / "facesight.db") == before
    _consistent(library)
