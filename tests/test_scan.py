"""Scanning: bad input never stops a scan, rescans skip content, a kill -9 resumes cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from facesight.library import Library

from .paths import GROUP, PEOPLE, REPO

TWO_PEOPLE = GROUP / "face_recognition_two_people.jpg"


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Create one file per kind of bad input; return name -> expected failure kind."""
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(TWO_PEOPLE.read_bytes()[:2500])
    (folder / "garbage.png").write_bytes(os.urandom(3000))
    (folder / "notes.jpeg").write_text("not an image at all\n")
    Image.new("1", (13000, 12000)).save(folder / "bomb.png")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "dirloop").symlink_to(folder)
    os.mkfifo(folder / "pipe.jpg")
    return {
        "empty.jpg": "corrupt",
        "truncated.jpg": "corrupt",
        "garbage.png": "unsupported",
        "notes.jpeg": "unsupported",
        "bomb.png": "too_large",
        "dangling.jpg": "unreadable",
        "loop.jpg": "unreadable",
        "dirloop": "unreadable",
        "pipe.jpg": "unreadable",
    }


def _counts(library: Library) -> tuple[int, int, int]:
    row = library.store.query(
        "SELECT (SELECT COUNT(*) FROM media) AS m, (SELECT COUNT(*) FROM faces) AS f,"
        " (SELECT COUNT(*) FROM media_paths) AS p"
    )[0]
    return row["m"], row["f"], row["p"]


def test_scan_reports_every_bad_file_and_goes_on(library: Library, tmp_path: Path) -> None:
    library.scan([TWO_PEOPLE])
    before = library.store.query("SELECT * FROM faces ORDER BY id")
    bad = tmp_path / "bad"
    expected = _bad_inputs(bad)
    shutil.copy(TWO_PEOPLE, bad / "good_copy.jpg")
    summary = library.scan([bad])
    got = {Path(f.path).name: f.kind for f in summary.failures}
    assert got == expected
    assert all(Path(f.path).name in f"{f.path}" and f.message for f in summary.failures)
    assert summary.media_skipped == 1  # the good copy is known content
    recorded = {Path(f.path).name: f.kind for f in library.failures()}
    assert recorded == expected
    assert library.store.query("SELECT * FROM faces ORDER BY id") == before


def test_rescan_skips_known_content_and_recognises_a_renamed_copy(
    library: Library, tmp_path: Path
) -> None:
    first = library.scan([TWO_PEOPLE])
    assert (first.media_scanned, first.faces_found) == (1, 2)
    again = library.scan([TWO_PEOPLE])
    assert (again.media_scanned, again.media_skipped) == (0, 1)
    renamed = tmp_path / "renamed.jpg"
    shutil.copy(TWO_PEOPLE, renamed)
    library.scan([renamed])
    assert _counts(library) == (1, 2, 2)


def test_stop_on_error_raises_at_the_first_bad_file(library: Library, tmp_path: Path) -> None:
    (tmp_path / "a_empty.jpg").write_bytes(b"")
    with pytest.raises(Exception, match=r"a_empty\.jpg: empty file"):
        library.scan([tmp_path], stop_on_error=True)


def _scan_command(library: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "facesight", "--library", str(library), "scan", str(folder)]


def _media_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM media").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _state(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        return sorted(
            conn.execute(
                "SELECT m.sha256, m.face_count, (SELECT COUNT(*) FROM faces f"
                " WHERE f.media_id = m.id) FROM media m"
            ).fetchall()
        )


@pytest.mark.slow
def test_scan_killed_mid_way_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted(PEOPLE.glob("*/*.jpg"))[:24]:
        shutil.copy(path, folder / f"{path.parent.name}_{path.name}")
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        _scan_command(killed, folder), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while _media_rows(killed / "facesight.db") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = _media_rows(killed / "facesight.db")
    assert 4 <= partial < 24, "the kill must land mid-scan"
    subprocess.run(_scan_command(killed, folder), env=env, check=True, capture_output=True)
    subprocess.run(_scan_command(clean, folder), env=env, check=True, capture_output=True)
    resumed = _state(killed / "facesight.db")
    assert resumed == _state(clean / "facesight.db")
    assert all(count == stored for _, count, stored in resumed)
    assert len(resumed) == len({sha for sha, _, _ in resumed})
