"""The evidence chain: references are not sightings, manual identifications are marked,
notes and counts survive into every report, search-face says which question it answers.

One real library: Obama and Jolie enrolled from two photos each (as ``scripts/demo.sh``
enrolls: the first two by name, the largest face), then their folders scanned, so their
reference photos are scanned too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facesight.errors import ManualIdentificationError
from facesight.exports.frames import BOX_RGB, draw_box, frame_label
from facesight.library.facade import Library
from facesight.library.reports import export_xmp, report_rows
from facesight.library.unknowns import UnknownPeople
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*"))
JOLIE = sorted((PEOPLE / "Angelina_Jolie").glob("*"))
REFERENCES = {*OBAMA[:2], *JOLIE[:2]}


def _cli(library: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "facesight", "--library", str(library), "--user", "carol"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, input=stdin, timeout=180
    )


@pytest.fixture
def lib(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Iterator[Library]:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder, actor="carol") as lib:
        lib.enroll("Barack Obama", OBAMA[:2], largest=True)
        lib.enroll("Angelina Jolie", JOLIE[:2], largest=True)
        summary = lib.scan([PEOPLE / "Barack_Obama", PEOPLE / "Angelina_Jolie"])
        assert summary.failures == []
        yield lib


# ---------------------------------------------------------------- 1. references


def test_reference_photos_are_references_not_pending_sightings_of_themselves(
    lib: Library, tmp_path: Path
) -> None:
    every = lib.sightings(include_unmatched=True)
    of_references = [s for s in every if Path(s.path) in REFERENCES]
    assert len(of_references) == len(REFERENCES)
    for s in of_references:
        assert s.decision == "reference" and s.reference is not None, s.path
        assert s.reference.person in ("Barack Obama", "Angelina Jolie")
    shown = lib.sightings()
    assert shown and not [s for s in shown if Path(s.path) in REFERENCES]
    assert not [s for s in lib.pending() if Path(s.path) in REFERENCES]
    counts = {p.name: p.sightings for p in lib.people()}
    assert counts == {name: len([s for s in shown if s.person == name]) for name in counts}
    rows = report_rows(lib, None)
    assert rows and not [r for r in rows if Path(r.media_path) in REFERENCES]
    xmp = export_xmp(lib, tmp_path / "xmp")
    named = {p.name.removesuffix(".xmp") for p in xmp.written}
    assert not named & {p.name for p in REFERENCES}
    listed = json.loads(_cli(lib.path, "sightings", "--all", "--json").stdout)
    statuses = {Path(r["path"]).name: r["status"] for r in listed}
    assert {statuses[p.name] for p in REFERENCES} == {"reference"}


def test_a_confirmed_sighting_made_a_reference_stays_a_sighting(lib: Library) -> None:
    face = lib.pending()[0]
    lib.confirm(face.face_id, as_reference=True)
    again = lib.sighting(face.face_id)
    assert again.decision == "confirmed" and again.category == "confirmed"
    assert face.face_id in [s.face_id for s in lib.sightings()]
    assert face.face_id in [r.face_id for r in report_rows(lib, face.person)]


# ---------------------------------------------------------------- 4. overrides and notes


def _obama_face(lib: Library) -> int:
    return next(s.face_id for s in lib.pending() if s.person == "Barack Obama")


def test_confirming_someone_not_proposed_needs_force_and_is_a_manual_identification(
    lib: Library,
) -> None:
    face = _obama_face(lib)
    with pytest.raises(ManualIdentificationError):
        lib.confirm(face, "Angelina Jolie")
    assert lib.sighting(face).decision == "pending"  # nothing was recorded
    named = lib.confirm(face, "Angelina Jolie", force=True, note="tattoo on the wrist")
    assert named.category == "manual identification" and named.person == "Angelina Jolie"
    assert named.review is not None and named.review.manual and named.review.reviewer == "carol"
    figures = named.named
    assert figures is not None and figures.person == "Angelina Jolie"
    assert 0.4 < figures.distance < 2.0 and 0.0 < figures.fmr <= 1.0  # real, not unknown
    (row,) = [r for r in report_rows(lib, "Angelina Jolie") if r.face_id == face]
    assert row.category == "manual identification" and row.note == "tattoo on the wrist"
    assert row.distance == pytest.approx(figures.distance) and row.fmr == pytest.approx(figures.fmr)
    # a plain confirmation of the proposal is no manual identification
    other = _obama_face(lib)
    assert lib.confirm(other).category == "confirmed"


def test_cli_override_is_refused_without_a_terminal_or_force(lib: Library) -> None:
    face = str(_obama_face(lib))
    refused = _cli(lib.path, "review", "confirm", face, "--as", "Angelina Jolie", stdin="y\n")
    assert refused.returncode != 0 and "manual identification" in refused.stderr
    assert lib.sighting(int(face)).decision == "pending"
    forced = _cli(
        lib.path, "review", "confirm", face, "--as", "Angelina Jolie", "--force", "--note", "n1"
    )
    assert forced.returncode == 0, forced.stderr
    assert "manual identification as Angelina Jolie (distance" in forced.stdout
    listed = json.loads(_cli(lib.path, "sightings", "--json").stdout)
    (row,) = [r for r in listed if r["face_id"] == int(face)]
    assert row["category"] == "manual identification" and row["note"] == "n1"
    assert row["distance"] is not None and row["fmr"] is not None


def test_notes_and_store_counts_reach_every_report_format(lib: Library, tmp_path: Path) -> None:
    pending = [s for s in lib.pending() if s.person == "Barack Obama"]
    lib.confirm(pending[0].face_id, note="confirmed <because> =1+1")
    lib.reject(pending[1].face_id, note="a look-alike")
    out = tmp_path / "out"
    run = _cli(
        lib.path, "report", "--person", "Barack Obama",
        "--html", str(out / "r.html"), "--csv", str(out / "r.csv"), "--json", str(out / "r.json"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 rejected" in run.stderr
    page = (out / "r.html").read_text(encoding="utf-8")
    assert "confirmed &lt;because&gt; =1+1" in page and "1 rejected" in page
    assert "a look-alike" not in page  # rejected rows only on request
    document = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert document["schema"] == 2 and document["summary"]["rejected"] == 1
    notes = [r["note"] for r in document["rows"]]
    assert "confirmed <because> =1+1" in notes
    with (out / "r.csv").open(encoding="utf-8", newline="") as handle:
        assert "'confirmed <because> =1+1" not in handle.read()  # starts with c: left alone
    with (out / "r.csv").open(encoding="utf-8", newline="") as handle:
        assert "confirmed <because> =1+1" in [r["note"] for r in csv.DictReader(handle)]
    again = _cli(
        lib.path, "report", "--person", "Barack Obama", "--include-rejected",
        "--json", str(out / "all.json"),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    rows: list[dict[str, Any]] = json.loads((out / "all.json").read_text())["rows"]
    (rejected,) = [r for r in rows if r["status"] == "rejected"]
    assert rejected["note"] == "a look-alike" and rejected["distance"] is not None


# ---------------------------------------------------------------- 5. evidence frames


def _band_height(image: np.ndarray, x: int, y_top: int) -> int:
    """Rows of label colour straight above (x, y_top) in column x."""
    height = 0
    for y in range(y_top - 1, -1, -1):
        if tuple(image[y, x]) != BOX_RGB:
            break
        height += 1
    return height


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1920, 1080), (4000, 3000)])
def test_evidence_label_is_scaled_to_the_frame(width: int, height: int) -> None:
    pixels = np.zeros((height, width, 3), np.uint8)
    box = (width * 0.4, height * 0.5, width * 0.6, height * 0.8)
    drawn = np.asarray(draw_box(pixels, box, "Barack Obama | machine match | est. FMR 1.2e-04"))
    band = _band_height(drawn, int(box[0]) + 1, int(box[1]) - 1)
    assert band >= height / 40, (band, height)  # legible at any size
    assert band <= height / 8


def test_evidence_label_names_person_status_and_rate(lib: Library, tmp_path: Path) -> None:
    pending = lib.pending()[0]
    label = frame_label(pending)
    assert pending.person is not None and pending.person in label
    assert "machine match" in label and "est. FMR" in label
    written = lib.write_frames([pending], tmp_path / "frames")
    frame = written[0].path
    assert frame is not None and frame.stat().st_size > 0
    manifest = json.loads((tmp_path / "frames" / "manifest.json").read_text())
    assert manifest["files"] == [
        {
            "path": frame.name,
            "sha256": hashlib.sha256(frame.read_bytes()).hexdigest(),
            "bytes": frame.stat().st_size,
        }
    ]
    assert manifest["embedder"] == lib.pipeline.embedder_version and manifest["generated_by"]
    assert len(manifest["audit_head"]) == 64


def test_name_says_exactly_what_it_did(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    directory = tmp_path / "named"
    with Library(directory, detector=detector, embedder=embedder) as library:
        assert library.scan(OBAMA, workers=0).failures == []
        (cluster,) = UnknownPeople(library).clusters()
    run = _cli(directory, "name", str(cluster.id), "Barack Obama", "--best", "2", "--yes")
    assert run.returncode == 0, run.stderr
    listed = json.loads(_cli(directory, "review", "--list", "--status", "all", "--json").stdout)
    statuses = [r["status"] for r in listed if r["person"] == "Barack Obama"]
    confirmed, pending = statuses.count("confirmed"), statuses.count("pending")
    assert (confirmed, pending) == (2, 2)
    named = {r["category"] for r in listed if r["status"] == "confirmed"}
    assert named == {"manual identification"}  # a person named them; the rule did not
    assert "2 reference(s)" in run.stdout
    assert f"{confirmed} face(s) confirmed" in run.stdout
    assert f"{pending} proposed as Barack Obama, pending review" in run.stdout


# ---------------------------------------------------------------- 8. search-face


def test_search_face_separates_the_probe_figures_from_the_faces_own_decision(
    lib: Library,
) -> None:
    found = _cli(lib.path, "search-face", str(OBAMA[2]), "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    listed = {
        r["face_id"]: r for r in json.loads(_cli(lib.path, "sightings", "--all", "--json").stdout)
    }
    assert hits
    for hit in hits:
        assert {"probe_distance", "probe_fmr", "probe_same_person"} <= set(hit)
        own = listed[hit["face_id"]]
        assert hit["sighting_person"] == own["person"]
        assert hit["sighting_fmr"] == own["fmr"]
        assert hit["sighting_status"] == own["status"]
        assert hit["sighting_category"] == own["category"]
        assert "timecode" in hit
    table = _cli(lib.path, "search-face", str(OBAMA[2]))
    assert "probe" in table.stdout + table.stderr and "own sighting decision" in table.stderr


def test_report_json_names_fields_as_sightings_json_does(lib: Library, tmp_path: Path) -> None:
    face = _obama_face(lib)
    lib.confirm(face, note="seen at the podium")
    out = tmp_path / "r.json"
    assert _cli(lib.path, "report", "--all", "--json", str(out)).returncode == 0
    (row,) = [r for r in json.loads(out.read_text())["rows"] if r["face_id"] == face]
    listed = json.loads(_cli(lib.path, "sightings", "--json").stdout)
    (own,) = [r for r in listed if r["face_id"] == face]
    assert not {"media_path", "media_kind", "decided_at", "crop_path", "decision"} & set(row)
    for key in ("person", "path", "kind", "sha256", "status", "category", "reviewer"):
        assert row[key] == own[key], key
    for key in ("reviewed_at", "note", "timecode", "crop", "reference", "quality_reasons"):
        assert row[key] == own[key], key
    assert row["note"] == "seen at the podium"


def test_a_manual_identification_is_audited_as_one(lib: Library) -> None:
    face = _obama_face(lib)
    lib.confirm(face, "Angelina Jolie", force=True, note="by the scar")
    (record,) = lib.audit.records(action="review.confirm")
    assert record.items["faces"] == [face]
    assert record.details == "manual identification: by the scar"


def _in_terminal(library: Path, answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a real terminal (a pty) and answer its question."""
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACESIGHT_USER": "carol"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, with the pty as its terminal
        os.execve(sys.executable, command, env)
    seen, answered = b"", False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the CLI ended
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"manual identification?" in seen:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_cli_override_at_a_terminal_warns_and_asks(lib: Library) -> None:
    face = _obama_face(lib)
    args = ("review", "confirm", str(face), "--as", "Angelina Jolie")
    code, text = _in_terminal(lib.path, "n", *args)
    assert code != 0 and "warning" in text and lib.sighting(face).decision == "pending"
    code, text = _in_terminal(lib.path, "y", *args)
    assert code == 0, text
    assert lib.sighting(face).category == "manual identification"
