"""Conflicts on real photos and real models: one face under two names, found and resolved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.conflicts import ambiguous_sightings, enrollment_conflicts, person_conflicts
from facesight.library.facade import Library
from facesight.library.merge import mark_different, resolve_merge
from facesight.media.images import load_image
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))


def _enroll_twice(library: Library) -> None:
    """Two photos of one man under two names, and somebody else."""
    for name, image in (
        ("Barack Obama", OBAMA[0]),
        ("Barry Soetoro", OBAMA[1]),
        ("Joe Biden", BIDEN[0]),
    ):
        result = library.enroll(name, [image])
        assert result.added == [str(image)], result


def _audit(library: Library, action: str) -> list[tuple[list[int], str]]:
    rows = library.store.query(
        "SELECT items, details FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )
    return [(json.loads(r["items"])["people"], r["details"]) for r in rows]


def test_same_face_under_two_names_is_a_person_conflict_with_evidence(library: Library) -> None:
    _enroll_twice(library)
    [conflict] = person_conflicts(library)
    assert (conflict.first, conflict.second) == ("Barack Obama", "Barry Soetoro")
    refs = {
        r["person_id"]: r
        for r in library.store.query(
            "SELECT id, person_id, source_path, crop_path FROM reference_faces"
        )
    }
    for person_id, evidence in (
        (conflict.first_id, conflict.first_reference),
        (conflict.second_id, conflict.second_reference),
    ):
        row = refs[person_id]
        assert (evidence.reference_id, evidence.source_path) == (row["id"], row["source_path"])
        assert evidence.crop_path == str(library.path.absolute() / row["crop_path"])
        assert Path(evidence.crop_path).is_file()
    calibration = library.calibration()
    assert 0.2 < conflict.distance < calibration.threshold(1)
    assert conflict.fmr <= calibration.alpha
    # one reference each: the templates are the references themselves
    assert conflict.first_template_distance == pytest.approx(conflict.distance, abs=1e-4)
    assert (conflict.first_references, conflict.second_references) == (1, 1)


def test_a_different_person_is_not_in_conflict(library: Library) -> None:
    _enroll_twice(library)
    biden = library.store.person_id("Joe Biden")
    pairs = [{c.first_id, c.second_id} for c in person_conflicts(library)]
    assert pairs and not any(biden in pair for pair in pairs)


def test_marked_different_is_not_listed_again_after_reopening(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        _enroll_twice(library)
        assert mark_different(library, "barry soetoro", "Barack Obama") is True
        assert mark_different(library, "Barack Obama", "Barry Soetoro") is False
        assert person_conflicts(library) == []
        [row] = library.store.query("SELECT person_a, person_b, decided_by FROM distinct_people")
        assert (row["person_a"], row["person_b"]) == (1, 2)
        assert row["decided_by"] == library.audit.actor
        assert [people for people, _ in _audit(library, "conflicts.different")] == [[1, 2]] * 2
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as reopened:
        assert person_conflicts(reopened) == []
        # the face still matches both names almost equally: the sighting stays in doubt
        reopened.scan([OBAMA[2]], workers=1)
        [ambiguous] = ambiguous_sightings(reopened)
        names = {ambiguous.first.person, ambiguous.second.person}
        assert names == {"Barack Obama", "Barry Soetoro"}


def test_merge_leaves_one_person_with_both_references_and_an_audit_record(
    library: Library,
) -> None:
    _enroll_twice(library)
    library.scan([OBAMA[2]], workers=1)
    [ambiguous] = ambiguous_sightings(library)
    face_id = ambiguous.sighting.face_id
    assert ambiguous.first.is_match and ambiguous.second.is_match and ambiguous.fmr_ratio >= 1
    library.confirm(face_id, "Barry Soetoro", force=True)  # the runner-up: named by hand
    assert ambiguous_sightings(library) == []  # a reviewer decided

    result = resolve_merge(library, "Barack Obama", "Barry Soetoro")

    assert (result.kept, result.absorbed, result.references_moved) == (
        "Barack Obama",
        "Barry Soetoro",
        1,
    )
    assert [p.name for p in library.people()] == ["Barack Obama", "Joe Biden"]
    refs = library.store.query("SELECT person_id, source_path FROM reference_faces ORDER BY id")
    obama = library.store.person_id("Barack Obama")
    assert [(r["person_id"], r["source_path"]) for r in refs[:2]] == [
        (obama, str(OBAMA[0])),
        (obama, str(OBAMA[1])),
    ]
    # the assignment to Barry rejected Obama, then confirmed Barry: both now about Obama
    reviews = library.store.query(
        "SELECT person_id, decision FROM reviews WHERE face_id = ? ORDER BY id", (face_id,)
    )
    assert [(r["person_id"], r["decision"]) for r in reviews] == [
        (obama, "rejected"),
        (obama, "confirmed"),
    ]
    assert library.sighting(face_id).person == "Barack Obama" and result.reviews_moved == 1
    [(people, details)] = _audit(library, "conflicts.merge")
    assert people == [obama, result.absorbed_id] and "Barry" not in details
    assert person_conflicts(library) == [] and ambiguous_sightings(library) == []


def test_resolving_refuses_unknown_or_identical_people(library: Library) -> None:
    _enroll_twice(library)
    with pytest.raises(NotFoundError, match="nobody called 'Nobody'"):
        mark_different(library, "Barack Obama", "Nobody")
    with pytest.raises(InvalidInputError, match="the same enrolled person"):
        resolve_merge(library, "Barack Obama", "barack  obama")
    assert _audit(library, "conflicts.merge") == [] and len(library.people()) == 3


def test_enrolling_a_face_of_another_person_warns(library: Library) -> None:
    library.enroll("Barack Obama", [OBAMA[0]])
    library.enroll("Joe Biden", [BIDEN[0]])
    obama = library.store.person_id("Barack Obama")
    analyzed = library.pipeline.analyze(load_image(OBAMA[1]).pixels)
    embedding = analyzed.embedding[0]
    [message] = enrollment_conflicts(library, embedding, None)
    assert "'Barack Obama'" in message and "facesight conflicts" in message
    assert enrollment_conflicts(library, embedding, obama) == []  # the person's own face


def test_cli_lists_conflicts_as_one_json_array_and_remembers_different(
    library: Library,
) -> None:
    _enroll_twice(library)
    library.scan([OBAMA[2]], workers=1)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "facesight", "--library", str(library.path), *args]
        env = os.environ | {"FACESIGHT_USER": "tester"}
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
        assert done.returncode == 0, done.stderr
        return done

    rows = json.loads(run("conflicts", "--json").stdout)
    assert [r["kind"] for r in rows] == ["person", "sighting"]
    person, sighting = rows
    assert (person["first"], person["second"]) == ("Barack Obama", "Barry Soetoro")
    assert Path(person["first_reference"]["crop_path"]).is_file()
    assert sighting["path"] == str(OBAMA[2]) and Path(sighting["crop"]).is_file()
    assert run("conflicts", "different", "Barack Obama", "Barry Soetoro").stdout.startswith(
        "Barack Obama and Barry Soetoro are now marked"
    )
    assert [r["kind"] for r in json.loads(run("conflicts", "--json").stdout)] == ["sighting"]
    [(_, _)] = _audit(library, "conflicts.different")
    assert library.audit.records(action="conflicts")[0].actor == "tester"
