"""The README's main job on the demo data, through the real command line.

Enroll everyone in ../shared/faces/people from two photos each, scan the
rest of ../shared/faces, and check who was found where.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli

from .paths import DISTRACTORS, GROUP, NOFACE, PEOPLE


def _run(library: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--library", str(library), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library = tmp_path_factory.mktemp("demo") / "library"
    _run(library, "enroll", "--from-folders", str(PEOPLE), "--limit", "2", "--largest")
    people = json.loads(_run(library, "people", "--json"))
    assert len(people) == len([p for p in PEOPLE.iterdir() if p.is_dir()])
    _run(library, "scan", str(PEOPLE), str(GROUP), str(DISTRACTORS), str(NOFACE))
    return library


@pytest.fixture(scope="module")
def demo_sightings(demo_library: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_run(demo_library, "sightings", "--json"))
    return rows


def test_demo_shows_no_reference_photo_as_a_sighting_of_its_person(
    demo_library: Path, demo_sightings: list[dict[str, Any]]
) -> None:
    every = json.loads(_run(demo_library, "sightings", "--all", "--json"))
    references = {(r["path"], r["person"]) for r in every if r["status"] == "reference"}
    enrolled = sum(p["references"] for p in json.loads(_run(demo_library, "people", "--json")))
    assert len(references) == enrolled  # every reference photo is recognised as one
    assert not [r for r in demo_sightings if (r["path"], r["person"]) in references]
    assert not [r for r in demo_sightings if r["distance"] == 0.0]
    counted = json.loads(_run(demo_library, "people", "--json"))
    for person in counted:
        assert person["sightings"] == sum(r["person"] == person["name"] for r in demo_sightings)


def _found_in(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[Path(row["path"]).name].add(row["person"])
    return found


def test_demo_finds_obama_and_biden_in_the_group_photos(
    demo_sightings: list[dict[str, Any]],
) -> None:
    found = _found_in(demo_sightings)
    assert found["face_recognition_obama_and_biden.jpg"] == {"Barack Obama", "Joe Biden"}
    assert found["face_recognition_two_people.jpg"] == {"Barack Obama", "Joe Biden"}


def test_demo_finds_kit_harington_with_rose_leslie(demo_sightings: list[dict[str, Any]]) -> None:
    assert _found_in(demo_sightings)["face_recognition_kit_with_rose.jpg"] == {
        "Kit Harington",
        "Rose Leslie",
    }


def test_demo_names_nobody_in_distractors_or_images_without_faces(
    demo_sightings: list[dict[str, Any]],
) -> None:
    named = {Path(r["path"]).parent for r in demo_sightings}
    assert DISTRACTORS not in named and NOFACE not in named


def test_demo_recognises_each_person_in_their_other_photos(
    demo_sightings: list[dict[str, Any]],
) -> None:
    people_rows = [r for r in demo_sightings if Path(r["path"]).parent.parent == PEOPLE]
    wrong = [
        (r["path"], r["person"])
        for r in people_rows
        if r["person"] != Path(r["path"]).parent.name.replace("_", " ")
    ]
    assert wrong == []
    # of the 38 photos of enrolled people that are not their references (72 - 17 x 2)
    assert len({r["path"] for r in people_rows}) >= 26


def test_demo_sighting_rows_carry_the_evidence(demo_sightings: list[dict[str, Any]]) -> None:
    row = next(r for r in demo_sightings if r["path"].endswith("obama_and_biden.jpg"))
    assert row["match"] is True and 0 <= row["distance"] <= 0.6
    assert Path(row["reference"]).is_file() and Path(row["crop"]).is_file()
    assert len(row["kps5"]) == 5 and len(row["xyxy"]) == 4 and len(row["sha256"]) == 64
    assert row["detector"].startswith("retinaface") and row["embedder"].startswith("dlib")
