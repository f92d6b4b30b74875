"""A person's former names (a rename's old name, a merged person's name) are erased with
the person: ``forget`` blanks the audit records that mention any of them, on SQLite and
on PostgreSQL, and the rows of ``former_names`` go with the person."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))


def _photo(tmp_path: Path, folder: str, index: int) -> Path:
    """A copy of a real photo of Obama under ``tmp_path/folder`` (the name in its path)."""
    target = tmp_path / "photos" / folder / f"{index}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBAMA[index], target)
    return target


def _audit_text(lib: Library) -> str:
    """Every path list and details text of the audit log, casefolded."""
    rows = lib.store.query("SELECT paths, details FROM audit_log")
    return " ".join(
        json.dumps(r["paths"] or "") + " " + (r["details"] or "") for r in rows
    ).casefold()


def _former_rows(lib: Library) -> int:
    return int(lib.store.query("SELECT COUNT(*) AS n FROM former_names")[0]["n"])


def _open(
    location: str | Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Library:
    return Library(location, detector=detector, embedder=embedder, files_dir=tmp_path / "files")


def test_forget_after_rename_erases_the_old_name(
    library_location: str | Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    with _open(library_location, tmp_path, detector, embedder) as lib:
        lib.enroll("Barry Obama", [_photo(tmp_path, "Barry_Obama", 0)], rematch=False)
        lib.identify(_photo(tmp_path, "Barry_Obama", 1))
        lib.identify(_photo(tmp_path, "Barry", 2))  # only the old name in its path
        assert _audit_text(lib).count("barry") == 2  # found when there
        lib.rename("Barry Obama", "Barack Obama")
        assert _former_rows(lib) == 1
        assert [p.name for p in lib.people()] == ["Barack Obama"]
        lib.forget("Barack Obama", rematch=False)
        assert "barry" not in _audit_text(lib)
        assert _former_rows(lib) == 0
        assert lib.audit.verify().ok
    if isinstance(library_location, Path):  # PostgreSQL: tests/test_postgres_erasure.py
        raw = b"".join(p.read_bytes() for p in library_location.rglob("*") if p.is_file())
        assert b"Barry" not in raw  # the former name's row was overwritten, not just unlinked


def test_forget_after_merge_erases_the_absorbed_persons_names_and_notes(
    library_location: str | Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    shutil.copy(OBAMA[3], collection / "img.jpg")  # a file name without a name
    with _open(library_location, tmp_path, detector, embedder) as lib:
        lib.enroll("Bazza", [_photo(tmp_path, "Bazza", 0)], rematch=False)
        lib.rename("Bazza", "Barry")
        lib.scan([collection])
        face = lib.sightings("Barry")[0].face_id
        lib.confirm(face, note="at the rally")  # a note about Barry, naming nobody
        lib.identify(_photo(tmp_path, "Bazza", 1))
        lib.identify(_photo(tmp_path, "Barry", 2))
        lib.enroll("Barack Obama", [_photo(tmp_path, "Barack_Obama", 3)], rematch=False)
        text = _audit_text(lib)
        assert "bazza" in text and "barry" in text and "rally" in text
        lib.merge_people("Barack Obama", "Barry", rematch=False)
        assert _former_rows(lib) == 2  # Bazza (Barry's) and Barry, now Barack Obama's
        lib.forget("Barack Obama", rematch=False)
        text = _audit_text(lib)
        assert "bazza" not in text and "barry" not in text and "rally" not in text
        assert _former_rows(lib) == 0
        assert lib.audit.verify().ok


def test_a_merge_keeps_the_kept_persons_own_former_names(
    library_location: str | Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    with _open(library_location, tmp_path, detector, embedder) as lib:
        lib.enroll("Bazza", [_photo(tmp_path, "a", 0)], rematch=False)
        lib.rename("Bazza", "Barry")
        lib.enroll("Obama", [_photo(tmp_path, "b", 1)], rematch=False)
        lib.rename("Obama", "Barack Obama")
        lib.enroll("Joe Biden", sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))[:1], rematch=False)
        lib.rename("Joe Biden", "Joseph Biden")  # another person's: untouched
        lib.merge_people("Barack Obama", "Barry", rematch=False)
        rows = lib.store.query(
            "SELECT p.name AS person, f.name AS former FROM former_names f"
            " JOIN people p ON p.id = f.person_id ORDER BY f.name"
        )
        assert [(r["person"], r["former"]) for r in rows] == [
            ("Barack Obama", "Barry"),
            ("Barack Obama", "Bazza"),
            ("Joseph Biden", "Joe Biden"),
            ("Barack Obama", "Obama"),
        ]
        lib.forget("Barack Obama", rematch=False)
        assert [r["name"] for r in lib.store.query("SELECT name FROM former_names")] == [
            "Joe Biden"
        ]


def test_a_name_given_back_is_not_a_former_name(
    library_location: str | Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    with _open(library_location, tmp_path, detector, embedder) as lib:
        lib.enroll("Barry", [_photo(tmp_path, "a", 0)], rematch=False)
        lib.rename("Barry", "Barack Obama")
        lib.rename("Barack Obama", "Barry")
        names = [r["name"] for r in lib.store.query("SELECT name FROM former_names")]
        assert names == ["Barack Obama"]
