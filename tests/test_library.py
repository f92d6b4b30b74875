"""The Library facade on real photos and real models: enroll, identify, compare, forget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesight.errors import NoFaceError, NotFoundError
from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import GROUP, NOFACE, PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA_AND_BIDEN = GROUP / "face_recognition_obama_and_biden.jpg"


def test_enroll_adds_references_and_lists_person(library: Library) -> None:
    result = library.enroll("Barack Obama", OBAMA[:2])
    assert result.failures == [] and len(result.added) == 2
    [person] = library.people()
    assert (person.name, person.references) == ("Barack Obama", 2)
    rows = library.store.query("SELECT crop_path FROM reference_faces")
    assert all(r["crop_path"].startswith("crops/references/") for r in rows)
    assert all(Path(library.path / r["crop_path"]).is_file() for r in rows)


def test_enroll_same_image_twice_is_not_duplicated(library: Library) -> None:
    library.enroll("Barack Obama", OBAMA[:1])
    again = library.enroll("barack obama", OBAMA[:1])
    assert again.already_enrolled == [str(OBAMA[0])] and again.added == []
    assert library.people()[0].references == 1


def test_enroll_refuses_image_without_face(library: Library) -> None:
    result = library.enroll("Nobody", [NOFACE / "skimage_coffee.jpg"])
    [failure] = result.failures
    assert failure.kind == "refused"
    assert failure.path.endswith("skimage_coffee.jpg")
    assert failure.message.startswith("no face found")
    assert library.people() == []


def test_enroll_refuses_group_photo_unless_a_face_is_chosen(library: Library) -> None:
    refused = library.enroll("Barack Obama", [OBAMA_AND_BIDEN])
    assert "faces found; pick one with --face N" in refused.failures[0].message
    chosen = library.enroll("Barack Obama", [OBAMA_AND_BIDEN], face=1)
    assert chosen.added == [str(OBAMA_AND_BIDEN)]


def test_enroll_warns_on_a_small_face(library: Library, tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    with Image.open(OBAMA[0]) as image:
        image.convert("RGB").resize((image.width // 8, image.height // 8)).save(small)
    result = library.enroll("Barack Obama", [small], largest=True)
    assert result.added and any("small face" in w for w in result.warnings)


def test_identify_names_both_people_in_a_group_photo(library: Library) -> None:
    library.enroll("Barack Obama", OBAMA[:2])
    library.enroll("Joe Biden", BIDEN[:1])
    faces = library.identify(OBAMA_AND_BIDEN)
    names = sorted(f.match.person for f in faces if f.match)
    assert names == ["Barack Obama", "Joe Biden"]
    assert len(faces) == 3  # and the girl on the right, who is nobody enrolled
    for face in faces:
        assert [c.distance for c in face.candidates] == sorted(c.distance for c in face.candidates)
        assert face.candidates[-1].distance > 0.6


def test_compare_same_and_different_people(library: Library) -> None:
    same = library.compare(OBAMA[0], OBAMA[1])
    different = library.compare(OBAMA[0], BIDEN[0])
    assert same.same_person and same.distance < 0.5
    assert not different.same_person and different.distance > 0.6
    assert same.strength == "strong"


def test_compare_image_without_face_raises(library: Library) -> None:
    with pytest.raises(NoFaceError, match=r"skimage_brick\.jpg: no face found"):
        library.compare(OBAMA[0], NOFACE / "skimage_brick.jpg")


def test_embed_yields_every_face_with_its_descriptor(library: Library) -> None:
    records = {
        Path(r.path).name: r
        for r in library.embed(
            [GROUP / "face_recognition_two_people.jpg", NOFACE / "skimage_moon.jpg"]
        )
    }
    two = records["face_recognition_two_people.jpg"]
    assert len(two.faces) == 2 and two.faces.embedding is not None
    assert two.faces.embedding.shape == (2, 128)
    assert len(records["skimage_moon.jpg"].faces) == 0


def _library_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_forget_leaves_no_trace(library: Library) -> None:
    library.enroll("Joe Biden", BIDEN[:1])
    library.enroll("Barack Obama", OBAMA[:2])
    library.scan([OBAMA_AND_BIDEN])
    obama_refs = library.store.query(
        "SELECT r.embedding, r.crop_path FROM reference_faces r JOIN people p"
        " ON p.id = r.person_id WHERE p.name = 'Barack Obama'"
    )
    result = library.forget("Barack Obama")
    assert (result.references_removed, result.files_removed) == (2, 2)
    assert library.store.query("SELECT COUNT(*) AS n FROM people")[0]["n"] == 1
    assert all(not (library.path / r["crop_path"]).exists() for r in obama_refs)
    names = {r["name"] for r in library.store.query("SELECT name FROM people")}
    assert names == {"Joe Biden"}
    persons = {r["person_id"] for r in library.store.query("SELECT person_id FROM candidates")}
    assert len(persons) == 1
    raw = _library_bytes(library.path)
    assert b"Barack Obama" not in raw
    for row in obama_refs:
        assert row["embedding"] not in raw
    with pytest.raises(NotFoundError):
        library.sightings("Barack Obama")


def test_rematch_finds_people_enrolled_after_the_scan(library: Library) -> None:
    library.scan([OBAMA_AND_BIDEN])
    assert library.sightings() == []
    library.enroll("Joe Biden", BIDEN[:1])
    [sighting] = library.sightings("Joe Biden")
    assert sighting.match is not None and sighting.match.person == "Joe Biden"
    assert np.isfinite(sighting.match.distance)


def test_candidates_carry_calibrated_evidence(library: Library) -> None:
    library.enroll("Barack Obama", OBAMA[:2])
    library.enroll("Joe Biden", BIDEN[:1])
    faces = library.identify(OBAMA_AND_BIDEN)
    for face in faces:
        fmrs = [c.fmr for c in face.candidates]
        assert fmrs == sorted(fmrs)  # ranked by estimated false-match rate
        for c in face.candidates:
            assert 0.0 < c.fmr <= 1.0 and c.fmr <= c.fpir <= 1.0
            assert c.is_match == (c.distance <= c.max_distance)
            assert c.reference_distance >= 0 and Path(c.reference_path).name.endswith(".jpg")
        assert 0.0 <= face.quality <= 1.0
    obama = next(f for f in faces if f.match and f.match.person == "Barack Obama")
    assert obama.match is not None and obama.match.references == 2 and obama.match.fmr < 1e-4
    # The two-reference template is stricter than the one-reference one, in distance.
    calibration = library.calibration()
    assert calibration.people == 2 and calibration.threshold(2) < calibration.threshold(1)


def test_enrollment_flags_a_reference_that_disagrees(library: Library) -> None:
    agreeing = library.enroll("Barack Obama", OBAMA[:2])
    assert agreeing.disagreements == []
    wrong = library.enroll("Barack Obama", BIDEN[:1])
    [message] = wrong.disagreements
    assert str(BIDEN[0]) in message and "possibly a different person" in message
    assert wrong.added == [str(BIDEN[0])]  # kept: the user decides


def test_stricter_target_or_fixed_distance_re_decides_stored_sightings(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    path = tmp_path / "lib"
    with Library(path, detector=detector, embedder=embedder) as lib:
        lib.enroll("Joe Biden", BIDEN[:1])
        lib.scan([OBAMA_AND_BIDEN, *BIDEN[1:]])
        found = lib.sightings("Joe Biden")
        assert len(found) >= 2
        weakest = max(s.candidates[0].fmr for s in found)
    strict = weakest / 2  # one person: FPIR == FMR
    with Library(path, detector=detector, embedder=embedder, target_fpir=strict) as lib:
        assert len(lib.sightings("Joe Biden")) == len(found) - 1
        assert all(
            s.match is None
            for s in lib.sightings(include_unmatched=True)
            if s.candidates and s.candidates[0].fmr > strict
        )
    with Library(path, detector=detector, embedder=embedder, max_distance=0.05) as lib:
        assert lib.sightings("Joe Biden") == []
        assert lib.people()[0].sightings == 0


def test_reindex_brings_back_a_library_described_by_an_older_model(library: Library) -> None:
    library.enroll("Joe Biden", BIDEN[:1])
    library.scan([OBAMA_AND_BIDEN])
    assert len(library.sightings("Joe Biden")) == 1
    # What a library from an older descriptor looks like: other version, other vectors.
    with library.store.transaction() as conn:
        conn.execute("UPDATE reference_faces SET embedder = 'old', embedding = zeroblob(512)")
        conn.execute("UPDATE media SET embedder = 'old'")
    library.rematch()
    assert library.stale() == (1, 1)
    assert len(library.gallery()) == 0 and library.sightings("Joe Biden") == []
    result = library.reindex()
    assert (result.references_updated, result.failures) == (1, [])
    assert result.media.media_scanned == 1
    assert library.stale() == (0, 0)
    [sighting] = library.sightings("Joe Biden")
    assert sighting.match is not None and sighting.match.fmr < 1e-4
    assert library.store.query("SELECT COUNT(*) AS n FROM media")[0]["n"] == 1


def test_search_face_finds_every_stored_sighting_nearest_first(library: Library) -> None:
    library.scan([OBAMA_AND_BIDEN, BIDEN[0]])  # nobody enrolled: search needs no gallery
    hits = library.search_face(BIDEN[1], top_k=10)
    distances = [h.distance for h in hits]
    assert distances == sorted(distances) and len(hits) == 4  # every stored face
    same = [h for h in hits if h.same_person]
    assert {Path(h.sighting.path).name for h in same} == {OBAMA_AND_BIDEN.name, BIDEN[0].name}
    assert all(h.fmr < 1e-4 for h in same) and all(h.fmr > 1e-3 for h in hits[2:])
    assert (library.path / "index" / "manifest.json").is_file()


def test_face_index_follows_the_database_and_rebuilds_when_damaged(library: Library) -> None:
    library.scan([BIDEN[0]])
    assert len(library.face_index()) == 1
    library.scan([OBAMA_AND_BIDEN])  # three more faces: added to the saved index
    index = library.face_index()
    assert len(index) == 4 and index.rebuilt_because is None
    for data in (library.path / "index").glob("faces-*"):
        data.write_bytes(b"damaged")
    rebuilt = library.face_index()
    assert len(rebuilt) == 4
    assert library.search_face(BIDEN[1], top_k=1)[0].same_person


def test_face_index_notices_a_reused_face_id(library: Library) -> None:
    library.scan([BIDEN[0], OBAMA[0]])
    assert len(library.face_index()) == 2
    # The top face is deleted and a different face takes its id, as SQLite allows.
    with library.store.transaction() as conn:
        top = conn.execute("SELECT MAX(id) FROM faces").fetchone()[0]
        other = conn.execute("SELECT embedding FROM faces WHERE id != ?", (top,)).fetchone()[0]
        conn.execute("UPDATE faces SET embedding = ? WHERE id = ?", (other, top))
    index = library.face_index()
    distances, ids = index.search(np.frombuffer(other, "<f4")[None].astype(np.float32), 2)
    assert sorted(ids[0].tolist()) == sorted(
        r["id"] for r in library.store.query("SELECT id FROM faces")
    )
    assert distances[0, 1] < 1e-3  # both ids now hold the same vector: rebuilt from the database


def test_review_decisions_survive_reanalysis_after_a_model_upgrade(library: Library) -> None:
    library.enroll("Joe Biden", BIDEN[:1])
    library.scan([OBAMA_AND_BIDEN])
    [biden] = library.sightings("Joe Biden")
    library.confirm(biden.face_id, note="checked")
    obama = next(s for s in library.sightings(include_unmatched=True) if s.person is None)
    library.confirm(obama.face_id, "Joe Biden", force=True)  # a deliberate wrong assignment
    with library.store.transaction() as conn:
        conn.execute("UPDATE reference_faces SET embedder = 'old', embedding = zeroblob(512)")
        conn.execute("UPDATE media SET embedder = 'old'")
    library.reindex()
    assert library.stale() == (0, 0)  # every face was analysed and stored again
    decided = [s for s in library.sightings(include_unmatched=True) if s.review is not None]
    assert sorted(s.review.note for s in decided if s.review) == ["", "checked"]
    assert all(s.decision == "confirmed" and s.person == "Joe Biden" for s in decided)
    categories = sorted(s.category for s in decided)
    assert categories == ["confirmed", "manual identification"]  # kept through reanalysis
    boxes = sorted(round(s.xyxy[0]) for s in decided)
    assert boxes == sorted(round(s.xyxy[0]) for s in (biden, obama))


def test_a_stored_face_search_keeps_its_index_in_step_without_a_full_sync(
    library: Library,
) -> None:
    library.scan([BIDEN[0], OBAMA[0]])
    faces = {s.face_id: s for s in library.sightings(include_unmatched=True)}
    probe = next(i for i, s in faces.items() if s.path.endswith(BIDEN[0].name))
    first = library.search_stored(probe)
    assert [h.sighting.face_id for h in first.hits] == [i for i in faces if i != probe]
    assert first.searched == len(faces) and not first.more
    manifest = library.path / "index" / "manifest.json"
    saved = manifest.stat().st_mtime_ns
    library.scan([OBAMA_AND_BIDEN])  # three faces stored after the index was kept
    second = library.search_stored(probe, limit=1)
    assert second.searched == len(faces) + 3 and second.more
    assert Path(second.hits[0].sighting.path).name == OBAMA_AND_BIDEN.name  # Biden, again
    assert manifest.stat().st_mtime_ns == saved  # caught up in memory: no full sync, no save
    gone = second.hits[0].sighting.face_id
    with library.store.transaction() as conn:  # deleted below the top, as another program may
        conn.execute("DELETE FROM faces WHERE id = ?", (gone,))
    third = library.search_stored(probe)
    assert gone not in [h.sighting.face_id for h in third.hits]
    assert third.searched == len(faces) + 2  # dropped from the index once met
    page = library.search_stored(probe, offset=1, limit=1)
    assert [h.sighting.face_id for h in page.hits] == [third.hits[1].sighting.face_id]
    records = library.audit_records(action="search", face_id=probe)
    assert len(records) == 4 and records[0].items["faces"][0] == probe
    with pytest.raises(NotFoundError):
        library.search_stored(10**9)
