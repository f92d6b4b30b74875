"""Looking after enrolled people in the library (``Library.rename``, ``references``,
``remove_reference``, ``add_reference_from_face``, ``merge_people``, ``forget`` without
re-matching), on a copy of the workspace's real library; and ``facesight rename``."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.facade import Library
from facesight.records import Decision
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE
from .workspace import HOSTILE, copy_library, facesight


@pytest.fixture
def lib(
    tmp_path: Path, workspace_library: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[Library]:
    path = copy_library(workspace_library, tmp_path / "lib")
    with Library(path, create=False, detector=detector, embedder=embedder) as library:
        yield library


def _ids(lib: Library) -> dict[str, int]:
    return {p.name: p.id for p in lib.people()}


def _confirmed_face(lib: Library, name: str) -> int:
    """A pending face of ``name``, confirmed now."""
    face = next(s for s in lib.pending() if s.person == name)
    lib.confirm(face.face_id)
    return face.face_id


def test_rename_keeps_the_person_and_is_audited_by_id(lib: Library) -> None:
    before = _ids(lib)
    seen = len(lib.sightings("Joe Biden"))
    renamed = lib.rename("joe biden", "  Joseph   Biden ")
    assert (renamed.person_id, renamed.old, renamed.new) == (
        before["Joe Biden"],
        "Joe Biden",
        "Joseph Biden",
    )
    after = _ids(lib)
    assert after["Joseph Biden"] == before["Joe Biden"] and "Joe Biden" not in after
    assert len(lib.sightings("Joseph Biden")) == seen > 0
    assert {c.person for s in lib.sightings("Joseph Biden") for c in s.candidates[:1]} == {
        "Joseph Biden"
    }
    record = lib.audit_records(action="people.rename")[0]
    assert record.items["people"] == [before["Joe Biden"]]
    assert "Biden" not in record.details and "Joseph" not in record.details
    assert lib.audit.verify().ok


def test_a_new_spelling_of_the_same_name_is_a_rename(lib: Library) -> None:
    assert lib.rename("Joe Biden", "JOE BIDEN").new == "JOE BIDEN"
    assert "JOE BIDEN" in _ids(lib)


@pytest.mark.parametrize(
    "taken", ["Barack Obama", "barack obama", "  BARACK   OBAMA ", HOSTILE.upper()]
)
def test_rename_to_a_name_another_person_has_is_refused(lib: Library, taken: str) -> None:
    with pytest.raises(InvalidInputError, match="another enrolled person"):
        lib.rename("Joe Biden", taken)
    assert "Joe Biden" in _ids(lib)


def test_rename_compares_names_unicode_normalised(lib: Library) -> None:
    lib.rename("Joe Biden", unicodedata.normalize("NFC", "José Biden"))
    with pytest.raises(InvalidInputError, match="another enrolled person"):
        lib.rename("Barack Obama", unicodedata.normalize("NFD", "JOSÉ BIDEN"))


@pytest.mark.parametrize(
    "hostile", ["", "   ", "line\nbreak", "\x1b[31mred", "a\u202eb", "tab\there", "nul\x00"]
)
def test_rename_refuses_names_enroll_refuses(lib: Library, hostile: str) -> None:
    with pytest.raises(InvalidInputError):
        lib.rename("Joe Biden", hostile)
    assert "Joe Biden" in _ids(lib)
    assert lib.audit_records(action="people.rename") == []


def test_markup_in_a_name_is_kept_as_text(lib: Library) -> None:
    lib.rename(HOSTILE, "<b>Katy</b> & 'Perry'")
    assert "<b>Katy</b> & 'Perry'" in _ids(lib)


def test_rename_of_nobody_is_not_found(lib: Library) -> None:
    with pytest.raises(NotFoundError):
        lib.rename("Nobody At All", "Somebody")


def test_the_last_reference_is_refused_pointing_at_forget(lib: Library) -> None:
    only = lib.references("Barack Obama")
    assert len(only) == 1
    with pytest.raises(InvalidInputError, match="forget"):
        lib.remove_reference(only[0].id)
    assert len(lib.references("Barack Obama")) == 1
    assert lib.audit_records(action="reference.remove") == []


def test_a_confirmed_face_becomes_a_reference_and_a_reference_is_removed(lib: Library) -> None:
    person_id = _ids(lib)["Barack Obama"]
    enrolled = lib.references("Barack Obama")[0]
    enrolled_crop = lib.store.file_path(enrolled.crop_path)
    assert enrolled_crop is not None and Path(enrolled_crop).is_file()
    face = _confirmed_face(lib, "Barack Obama")
    made = lib.add_reference_from_face(face, "barack obama", rematch=False)
    refs = lib.references("Barack Obama")
    assert [r.id for r in refs] == [enrolled.id, made] and refs[1].face_id == face
    assert made in lib.gallery().reference_ids.tolist()  # the cached gallery was dropped
    record = lib.audit_records(action="reference.from_face")[0]
    assert record.items["faces"] == [face] and record.items["people"] == [person_id]
    with pytest.raises(InvalidInputError, match="already"):
        lib.add_reference_from_face(face, "Barack Obama", rematch=False)

    removed = lib.remove_reference(enrolled.id)
    assert removed.person_id == person_id and removed.crop_deleted
    assert removed.references_left == 1 and not Path(enrolled_crop).exists()
    assert [r.id for r in lib.references("Barack Obama")] == [made]
    assert enrolled.id not in lib.gallery().reference_ids.tolist()
    rows = lib.store.query("SELECT COUNT(*) FROM reference_faces WHERE id = ?", (enrolled.id,))
    assert rows[0][0] == 0
    record = lib.audit_records(action="reference.remove")[0]
    assert record.items["references"] == [enrolled.id]
    assert record.items["people"] == [person_id]
    assert lib.audit.verify().ok
    with pytest.raises(InvalidInputError, match="last"):
        lib.remove_reference(made)
    with pytest.raises(NotFoundError):
        lib.remove_reference(enrolled.id)


def test_only_a_face_confirmed_as_the_person_becomes_their_reference(lib: Library) -> None:
    pending = next(s for s in lib.pending() if s.person == "Barack Obama")
    with pytest.raises(InvalidInputError, match="not confirmed"):
        lib.add_reference_from_face(pending.face_id, "Barack Obama")
    face = _confirmed_face(lib, "Joe Biden")
    with pytest.raises(InvalidInputError, match="not confirmed"):
        lib.add_reference_from_face(face, "Barack Obama")
    rejected = next(s for s in lib.pending() if s.person == "Barack Obama")
    lib.reject(rejected.face_id)
    assert lib.sighting(rejected.face_id).decision == Decision.REJECTED
    with pytest.raises(InvalidInputError, match="not confirmed"):
        lib.add_reference_from_face(rejected.face_id, "Barack Obama")
    with pytest.raises(NotFoundError):
        lib.add_reference_from_face(face, "Nobody At All")
    assert lib.audit_records(action="reference.from_face") == []


def test_merge_and_forget_without_rematching(lib: Library) -> None:
    ids = _ids(lib)
    merged = lib.merge_people("Joe Biden", "Lin-Manuel Miranda", rematch=False)
    assert merged.kept_id == ids["Joe Biden"] and merged.references_moved == 1
    assert "Lin-Manuel Miranda" not in _ids(lib)
    assert len(lib.references("Joe Biden")) == 2
    gallery_people = set(lib.gallery().person_names)
    assert "Lin-Manuel Miranda" not in gallery_people
    forgotten = lib.forget("Joe Biden", rematch=False)
    assert forgotten.references_removed == 2
    assert "Joe Biden" not in set(lib.gallery().person_names)
    lib.rematch()  # what the queued job does
    assert all(s.person != "Joe Biden" for s in lib.sightings())


def test_the_cli_renames_and_refuses_a_taken_name(tmp_path: Path, workspace_library: Path) -> None:
    path = copy_library(workspace_library, tmp_path / "lib")
    done = facesight(path, "rename", "Joe Biden", "Joseph R. Biden")
    assert done.returncode == 0, done.stderr
    assert "Renamed Joe Biden to Joseph R. Biden" in done.stdout
    refused = facesight(path, "rename", "Joseph R. Biden", "barack obama")
    assert refused.returncode == 1
    assert "another enrolled person" in refused.stderr
    with sqlite3.connect(path / "facesight.db") as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM people")}
    assert "Joseph R. Biden" in names and "Joe Biden" not in names


def test_references_curated_on_either_backend(
    library_location: str | Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    obama = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
    files = tmp_path / "files"
    with Library(library_location, detector=detector, embedder=embedder, files_dir=files) as lib:
        lib.enroll("Barack Obama", obama[:2])
        lib.scan(obama[2:4])
        face = lib.sightings("Barack Obama")[0].face_id
        lib.confirm(face)
        made = lib.add_reference_from_face(face, "Barack Obama", rematch=False)
        first = lib.references("Barack Obama")[0]
        assert lib.remove_reference(first.id).crop_deleted
        assert [r.id for r in lib.references("Barack Obama")][-1] == made
        kept = {str(r[0]) for r in lib.store.query("SELECT crop_path FROM reference_faces")}
        assert first.crop_path not in kept
        if isinstance(library_location, str):  # PostgreSQL keeps the crops' bytes too
            stored = {str(r[0]) for r in lib.store.query("SELECT path FROM crop_files")}
            assert first.crop_path not in stored and kept <= stored
        lib.rename("Barack Obama", "Barack H. Obama")
        assert [p.name for p in lib.people()] == ["Barack H. Obama"]
        assert lib.audit.verify().ok


def test_the_overview_counts_as_the_people_list_does(lib: Library) -> None:
    face = _confirmed_face(lib, "Barack Obama")
    overview = {e.person.name: e for e in lib.people_overview()}
    assert {p.name: p for p in lib.people()} == {n: e.person for n, e in overview.items()}
    obama = overview["Barack Obama"]
    pending = [s for s in lib.pending() if s.person == "Barack Obama"]
    assert (obama.confirmed, obama.pending) == (1, len(pending))
    assert obama.person.sightings == 1 + len(pending) and face not in [s.face_id for s in pending]
    reference = lib.references("Barack Obama")[0].id
    assert all(len(e.sample_references) == 1 for e in overview.values())
    assert obama.sample_references == [reference]
