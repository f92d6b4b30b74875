"""``facesight library copy``: SQLite -> PostgreSQL -> SQLite, counts and audit chain kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli
from facesight.errors import InvalidInputError
from facesight.library.copy import copy_library
from facesight.library.facade import Library
from facesight.store.copy import NOT_COPIED, TABLES
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))


def _state(library: Library) -> tuple[object, ...]:
    sightings = [
        (s.face_id, s.path, [c.person for c in s.candidates], s.review and s.review.decision)
        for s in library.sightings(include_unmatched=True)
    ]
    tables = {t: library.store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in TABLES}
    return sightings, [p.name for p in library.people()], tables


def test_a_library_goes_to_postgresql_and_back_whole(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    original = tmp_path / "original"
    with Library(original, detector=detector, embedder=embedder) as lib:
        lib.enroll("Barack Obama", OBAMA[:1])
        lib.enroll("Joe", BIDEN[:1])
        lib.rename("Joe", "Joe Biden")  # a former name (table former_names) goes too
        lib.scan([*OBAMA[1:3], *BIDEN[1:3]])
        lib.confirm(lib.sightings("Barack Obama")[0].face_id, note="seen")
        lib.reject(lib.sightings("Joe Biden")[0].face_id)
        before = _state(lib)
        # every table of the schema is copied (a migration's new table must join TABLES)
        names = lib.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert {r["name"] for r in names} - {"schema_migrations"} == set(TABLES) | set(NOT_COPIED)
    result = CliRunner().invoke(cli, ["library", "copy", str(original), postgres_url, "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    tables = before[2]
    assert isinstance(tables, dict) and counts["faces"] == tables["faces"]
    assert counts["former_names"] == tables["former_names"] == 1
    assert counts["crops"] == tables["faces"] + tables["reference_faces"]
    with Library(postgres_url, detector=detector, embedder=embedder) as lib:
        assert _state(lib)[:2] == before[:2]
        crop = lib.sightings("Barack Obama")[0].crop_path
        assert crop is not None and Path(crop).is_file()
        assert lib.audit.verify().ok
        assert [r.action for r in lib.audit.records(limit=1)] == ["library.copy"]
    back = tmp_path / "back"
    report = copy_library(postgres_url, back)
    assert report.audit.ok and report.counts["crops"] == counts["crops"]
    with Library(back, detector=detector, embedder=embedder) as lib:
        assert _state(lib)[:2] == before[:2]
        assert all(Path(s.crop_path or "").is_file() for s in lib.sightings())
        audited = [r.action for r in lib.audit.records(limit=2)]
        assert audited == ["library.copy", "library.copy"] and lib.audit.verify().ok
        assert lib.enroll("Barack Obama", OBAMA[-1:]).added  # ids go on after the copied ones
    with pytest.raises(InvalidInputError, match="not empty"):
        copy_library(original, back)
    with Library(postgres_url, detector=detector, embedder=embedder) as lib:
        # PostgreSQL's identity counters were moved past the copied ids too
        assert lib.enroll("Barack Obama", OBAMA[-1:]).added
        assert len(lib.gallery().reference_ids) == 3
