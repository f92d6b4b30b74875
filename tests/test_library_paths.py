"""Crop paths are relative to the library: absolute, relative, copied and moved libraries."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import GROUP, PEOPLE

BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA_AND_BIDEN = GROUP / "face_recognition_obama_and_biden.jpg"


def _open(path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Library:
    return Library(path, detector=detector, embedder=embedder)


def _stored_crops(library: Path) -> list[str]:
    with sqlite3.connect(library / "facesight.db") as conn:
        rows = conn.execute(
            "SELECT crop_path FROM reference_faces UNION ALL SELECT crop_path FROM faces"
        ).fetchall()
    return [str(r[0]) for r in rows if r[0]]


def _make(path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> None:
    with _open(path, detector, embedder) as library:
        library.enroll("Joe Biden", BIDEN[:2])
        library.scan([OBAMA_AND_BIDEN])


def test_crop_paths_are_stored_relative_to_the_library(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _make(Path("typed-relative"), detector, embedder)
    _make(tmp_path / "absolute", detector, embedder)
    for name in ("typed-relative", "absolute"):
        stored = _stored_crops(tmp_path / name)
        assert len(stored) >= 4
        assert all(p.startswith("crops/") for p in stored), stored


def test_a_relative_library_works_from_another_folder(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _make(Path("demo-library"), detector, embedder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with _open(Path("../demo-library"), detector, embedder) as library:
        found = library.sightings("Joe Biden")
        assert found and all(s.crop_path and Path(s.crop_path).is_file() for s in found)
        assert library.forget("Joe Biden").files_removed == 2


def test_forget_in_a_copy_leaves_the_original_alone(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    original, copy = tmp_path / "A", tmp_path / "B"
    _make(original, detector, embedder)
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)
    before = sorted(p.name for p in (original / "crops" / "references").iterdir())
    with _open(copy, detector, embedder) as library:
        assert library.forget("Joe Biden").files_removed == 2
    assert sorted(p.name for p in (original / "crops" / "references").iterdir()) == before
    assert list((copy / "crops" / "references").iterdir()) == []


def test_forget_in_a_moved_library_removes_its_crops(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    _make(tmp_path / "A", detector, embedder)
    shutil.move(tmp_path / "A", tmp_path / "C")
    with _open(tmp_path / "C", detector, embedder) as library:
        found = library.sightings()
        assert found and all(s.crop_path and Path(s.crop_path).is_file() for s in found)
        assert library.forget("Joe Biden").files_removed == 2
    assert list((tmp_path / "C" / "crops" / "references").iterdir()) == []


def _as_before_migration_6(library: Path, paths: dict[str, str]) -> None:
    """Rewrite crop paths as facesight stored them before (as typed), and undo migration 6."""
    with sqlite3.connect(library / "facesight.db") as conn:
        for relative, old in paths.items():
            conn.execute("UPDATE faces SET crop_path = ? WHERE crop_path = ?", (old, relative))
            conn.execute(
                "UPDATE reference_faces SET crop_path = ? WHERE crop_path = ?", (old, relative)
            )
        conn.execute("DELETE FROM schema_migrations WHERE version = 6")


def test_migration_makes_old_crop_paths_relative(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    _make(tmp_path / "A", detector, embedder)
    stored = _stored_crops(tmp_path / "A")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"not the library's")
    old = {stored[0]: str(outside)}  # outside the library: kept, never deleted
    old |= {p: str(tmp_path / "A" / p) for p in stored[1:3]}  # absolute, inside the library
    old |= {stored[3]: f"some/old/cwd/A/{stored[3]}"}  # as typed from another folder
    _as_before_migration_6(tmp_path / "A", old)
    shutil.move(tmp_path / "A", tmp_path / "C")
    with _open(tmp_path / "C", detector, embedder) as library:
        assert _stored_crops(tmp_path / "C") == [str(outside), *stored[1:]]
        assert library.forget("Joe Biden").files_removed == 1
    assert outside.read_bytes() == b"not the library's"
    assert not (tmp_path / "C" / stored[1]).exists()
