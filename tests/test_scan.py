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

import numpy as np
import pytest
from PIL import Image

from facesight.library.facade import Library
from facesight.scan.collection import IN_PROCESS_BELOW
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

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


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


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
    workers = _children(process.pid)
    assert workers, "a scan of 24 files runs in worker processes"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "orphaned workers"
    partial = _media_rows(killed / "facesight.db")
    assert 4 <= partial < 24, "the kill must land mid-scan"
    subprocess.run(_scan_command(killed, folder), env=env, check=True, capture_output=True)
    subprocess.run(_scan_command(clean, folder), env=env, check=True, capture_output=True)
    resumed = _state(killed / "facesight.db")
    assert resumed == _state(clean / "facesight.db")
    assert all(count == stored for _, count, stored in resumed)
    assert len(resumed) == len({sha for sha, _, _ in resumed})


def test_parallel_workers_store_what_one_process_stores(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    images = [*sorted(PEOPLE.glob("*/*.jpg"))[:12], TWO_PEOPLE]
    assert len(images) >= IN_PROCESS_BELOW
    with Library(tmp_path / "parallel", detector=detector, embedder=embedder) as parallel:
        summary = parallel.scan(images, workers=2)
        assert summary.media_scanned == len(images) and summary.faces_per_s > 0
        got = _faces(parallel)
    with Library(tmp_path / "serial", detector=detector, embedder=embedder) as serial:
        for start in range(0, len(images), IN_PROCESS_BELOW - 1):  # small scans: in-process
            serial.scan(images[start : start + IN_PROCESS_BELOW - 1])
        want = _faces(serial)
    assert [key for key, _ in got] == [key for key, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _faces(library: Library) -> list[tuple[tuple[str, int], np.ndarray]]:
    rows = library.store.query(
        "SELECT m.sha256, f.face_index, f.x1, f.y1, f.x2, f.y2, f.embedding"
        " FROM faces f JOIN media m ON m.id = f.media_id ORDER BY m.sha256, f.face_index"
    )
    return [
        (
            (r["sha256"], r["face_index"]),
            np.concatenate(
                [[r["x1"], r["y1"], r["x2"], r["y2"]], np.frombuffer(r["embedding"], "<f4")]
            ),
        )
        for r in rows
    ]
