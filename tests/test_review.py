"""Review decisions and the audit log: real library, real faces, real SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*"))
JOLIE = sorted((PEOPLE / "Angelina_Jolie").glob("*"))


@pytest.fixture
def reviewed(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Path:
    """A library with Obama and Jolie enrolled from one photo each, their others scanned."""
    with Library(tmp_path / "lib", detector=detector, embedder=embedder, actor="alice") as lib:
        lib.enroll("Barack Obama", OBAMA[:1])
        lib.enroll("Angelina Jolie", JOLIE[:1])
        lib.scan([*OBAMA[1:], *JOLIE[1:4]])
    return tmp_path / "lib"


def _open(path: Path, detector: FaceDetector, embedder: FaceEmbedder, actor: str) -> Library:
    return Library(path, detector=detector, embedder=embedder, actor=actor)


def test_confirm_reject_and_assign_are_kept_with_who_and_when(
    reviewed: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with _open(reviewed, detector, embedder, "bob") as lib:
        pending = lib.pending()
        assert len(pending) >= 4 and all(s.decision == "pending" for s in pending)
        obama = [s for s in pending if s.person == "Barack Obama"]
        jolie = [s for s in pending if s.person == "Angelina Jolie"]
        confirmed = lib.confirm(obama[0].face_id, note="same mole")
        assert (confirmed.decision, confirmed.person) == ("confirmed", "Barack Obama")
        assert confirmed.review is not None and confirmed.review.reviewer == "bob"
        rejected = lib.reject(jolie[0].face_id)
        assert rejected.decision == "rejected" and rejected.person is None
        assert all(c.person != "Angelina Jolie" for c in rejected.candidates)
        assigned = lib.confirm(obama[1].face_id, "Angelina Jolie", force=True)  # fixed by hand
        assert (assigned.decision, assigned.person) == ("confirmed", "Angelina Jolie")
        assert assigned.category == "manual identification"
        assert {s.face_id for s in lib.pending()} == {s.face_id for s in pending} - {
            obama[0].face_id,
            jolie[0].face_id,
            obama[1].face_id,
        }
    db = sqlite3.connect(reviewed / Library.DB_NAME)
    rows = db.execute(
        "SELECT face_id, decision, reviewer, decided_at, note FROM reviews"
    ).fetchall()
    assert len(rows) == 4  # confirm, reject, and the assignment's reject + confirm
    assert {r[2] for r in rows} == {"bob"} and all(r[3] for r in rows)
    assert ("same mole",) in [(r[4],) for r in rows]


def test_a_rejected_person_is_never_proposed_again_even_after_new_references(
    reviewed: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with _open(reviewed, detector, embedder, "bob") as lib:
        target = next(s for s in lib.pending() if s.person == "Barack Obama")
        lib.reject(target.face_id)
        other = next(p for p in OBAMA[1:] if p != Path(target.path))
        lib.enroll("Barack Obama", [other])  # rematches every stored face
        lib.scan(OBAMA)  # a rescan: known content, skipped
        again = lib.sighting(target.face_id)
        assert again.decision == "rejected"
        assert all(c.person != "Barack Obama" for c in again.candidates)
        assert target.face_id not in {s.face_id for s in lib.sightings("Barack Obama")}


def test_confirmed_faces_become_references_only_when_asked(
    reviewed: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with _open(reviewed, detector, embedder, "bob") as lib:
        first, second = [s for s in lib.pending() if s.person == "Barack Obama"][:2]
        lib.confirm(first.face_id)
        assert [p.references for p in lib.people() if p.name == "Barack Obama"] == [1]
        lib.confirm(second.face_id, as_reference=True)
        assert [p.references for p in lib.people() if p.name == "Barack Obama"] == [2]
        actions = [r.action for r in lib.audit.records(actor="bob")]
        assert actions == ["reference.from_face", "review.confirm", "review.confirm"]


def test_the_audit_log_is_append_only_and_forgets_no_action_but_every_name(
    reviewed: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with _open(reviewed, detector, embedder, "carol") as lib:
        lib.confirm(lib.pending()[0].face_id)
        lib.write_frames(lib.sightings("Barack Obama"), reviewed / "evidence")
        lib.identify(JOLIE[0])
        lib.search_face(OBAMA[0])
        lib.forget("Angelina Jolie")
        records = lib.audit.records()
        assert [r.action for r in records[:5]] == [
            "forget",
            "search.face",
            "search.identify",
            "export.frames",
            "review.confirm",
        ]
        assert {r.actor for r in records[:5]} == {"carol"}
        assert records[3].items["paths"] == [str(reviewed / "evidence")]
        assert [r.action for r in lib.audit.records(action="enroll")] == ["enroll", "enroll"]
        assert records[1].items["paths"] == [str(OBAMA[0])]
    db = sqlite3.connect(reviewed / Library.DB_NAME)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'mallory'")
    dump = "\n".join(db.iterdump())
    assert "Angelina Jolie" not in dump and "carol" in dump  # paths hold "Angelina_Jolie"


def _cli(library: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACESIGHT_USER": "dave"}
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, check=True)


def test_review_in_the_terminal_then_list_and_audit_as_json(reviewed: Path) -> None:
    before = json.loads(_cli(reviewed, "review", "--list", "--json").stdout)
    assert len(before) >= 4 and {r["status"] for r in before} == {"pending"}
    _cli(reviewed, "review", stdin="c\nr\nq\n")
    after = json.loads(_cli(reviewed, "review", "--status", "all", "--json").stdout)
    status = {r["face_id"]: (r["status"], r["reviewer"]) for r in after}
    assert status[before[0]["face_id"]] == ("confirmed", "dave")
    assert status[before[1]["face_id"]][1] == "dave"
    face = str(before[2]["face_id"])
    _cli(reviewed, "review", "confirm", face, "--as", "Barack Obama", "--force")
    log = json.loads(_cli(reviewed, "audit", "--action", "review", "--json").stdout)
    assert [r["actor"] for r in log] == ["dave"] * len(log) and len(log) >= 3
    table = _cli(reviewed, "audit").stdout
    assert "review.confirm" in table and "dave" in table
