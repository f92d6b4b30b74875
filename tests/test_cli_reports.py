"""``facesight report`` and ``export-xmp`` over a real library: the page in headless Chromium,
CSV and JSON rows, sidecars read back by ExifTool, and the audit records of every export."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.exports.report_csv_json import CSV_COLUMNS, rows_json
from facesight.exports.xmp import exif_orientation
from facesight.library.facade import Library
from facesight.library.reports import export_xmp, report_rows
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO, SHARED_FACES
from .tools import read_xmp

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
OBAMA = PEOPLE / "Barack_Obama"
JOLIE = PEOPLE / "Angelina_Jolie"
CONFIRMED = OBAMA / "face_recognition_obama1.jpg"
PENDING = OBAMA / "face_recognition_obama2.jpg"
REJECTED = OBAMA / "face_recognition_obama3.jpg"
JOLIE_SCANNED = [JOLIE / "deepface_img2.jpg", JOLIE / "deepface_img4.jpg"]


@dataclass(frozen=True)
class Exports:
    """A library with reviewed sightings, and what the CLI exported from it."""

    library: Library
    out: Path
    confirmed_face: int
    rejected_face: int
    person_run: subprocess.CompletedProcess[str]
    all_run: subprocess.CompletedProcess[str]
    xmp_run: subprocess.CompletedProcess[str]
    confirmed_xmp_run: subprocess.CompletedProcess[str]


def _cli(library: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "facesight", "--library", str(library), "--user", "alice"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def _outputs(folder: Path, stem: str) -> list[str]:
    return [
        item
        for kind in ("html", "csv", "json")
        for item in (f"--{kind}", f"{folder}/{stem}.{kind}")
    ]


def _face_of(library: Library, person: str, path: Path) -> int:
    (sighting,) = [s for s in library.sightings(person) if Path(s.path) == path]
    return sighting.face_id


@pytest.fixture(scope="module")
def exports(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[Exports]:
    root = tmp_path_factory.mktemp("reports")
    out = root / "out"
    with Library(root / "lib", detector=detector, embedder=embedder, actor="alice") as library:
        library.enroll("Barack Obama", [OBAMA / "face_recognition_obama.jpg"])
        library.enroll("Angelina Jolie", [JOLIE / "deepface_img1.jpg"])
        miranda = PEOPLE / "Lin_Manuel_Miranda" / "face_recognition_lin-manuel-miranda.jpg"
        library.enroll("Lin-Manuel Miranda", [miranda])
        summary = library.scan([CONFIRMED, PENDING, REJECTED, *JOLIE_SCANNED, HAMILTON])
        assert summary.failures == [] and summary.videos_scanned == 1
        confirmed = _face_of(library, "Barack Obama", CONFIRMED)
        rejected = _face_of(library, "Barack Obama", REJECTED)
        library.confirm(confirmed)
        library.reject(rejected)
        person_run = _cli(
            library.path, "report", "--person", "barack obama", *_outputs(out, "obama")
        )
        all_run = _cli(library.path, "report", "--all", *_outputs(out, "all"))
        xmp_run = _cli(library.path, "export-xmp", "--output", str(out / "xmp"))
        confirmed_xmp_run = _cli(
            library.path, "export-xmp", "--output", str(out / "xmp-confirmed"), "--confirmed-only"
        )
        yield Exports(
            library, out, confirmed, rejected, person_run, all_run, xmp_run, confirmed_xmp_run
        )


# ---------------------------------------------------------------- the pages in Chromium


def _open(browser: WebDriver, path: Path) -> dict[str, Any]:
    """The page as Chromium shows it: title, row and section texts, images, requests."""
    browser.get(path.as_uri())
    state: dict[str, Any] = browser.execute_script(
        "const texts = s => [...document.querySelectorAll(s)].map(e => e.innerText);"
        "return {title: document.title, rows: texts('tr.sighting'),"
        " people: texts('section.person > h2'), summary: texts('section.summary')[0],"
        " notes: texts('section.notes')[0],"
        " images: [...document.images].map(i => [i.complete, i.naturalWidth]),"
        " fetched: performance.getEntriesByType('resource').map(e => e.name)}"
    )
    return state


def _json_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return rows


def test_person_report_shows_each_sighting_with_its_decision_and_reviewer(
    exports: Exports, browser: WebDriver
) -> None:
    assert exports.person_run.returncode == 0, exports.person_run.stderr
    assert "Sightings of Barack Obama: " in exports.person_run.stderr
    assert "(1 confirmed, " in exports.person_run.stderr
    page = _open(browser, exports.out / "obama.html")
    rows = _json_rows(exports.out / "obama.json")
    assert page["title"] == "Sightings of Barack Obama"
    assert page["people"] == ["Barack Obama"]
    assert len(page["rows"]) == len(rows) >= 2
    for row, text in zip(rows, page["rows"], strict=True):
        assert Path(row["path"]).name in text and row["category"] in text
    by_file = {Path(r["path"]).name: text for r, text in zip(rows, page["rows"], strict=True)}
    assert "confirmed" in by_file[CONFIRMED.name] and "alice" in by_file[CONFIRMED.name]
    assert "machine match" in by_file[PENDING.name] and "alice" not in by_file[PENDING.name]
    assert "still image" in by_file[CONFIRMED.name]
    assert REJECTED.name not in by_file  # rejected: not a sighting of him
    assert f"Sightings\t{len(rows)}" in page["summary"] and "1 confirmed" in page["summary"]
    assert "match = est. FPIR <= 0.01" in page["notes"] and "rejected are not" in page["notes"]
    # every crop (the face's and its nearest reference's) is embedded and decodes, and
    # nothing was fetched
    assert page["fetched"] == [] and len(page["images"]) == 2 * len(rows)
    assert all(complete and width > 0 for complete, width in page["images"])


def test_report_of_everyone_has_video_rows_with_timecodes(
    exports: Exports, browser: WebDriver
) -> None:
    assert exports.all_run.returncode == 0, exports.all_run.stderr
    page = _open(browser, exports.out / "all.html")
    rows = _json_rows(exports.out / "all.json")
    assert page["title"] == "Sightings of everyone identified"
    assert page["people"] == ["Angelina Jolie", "Barack Obama", "Lin-Manuel Miranda"]
    assert len(page["rows"]) == len(rows)
    videos = [
        (row, text)
        for row, text in zip(rows, page["rows"], strict=True)
        if row["person"] == "Lin-Manuel Miranda"
    ]
    assert videos, "the performer is found in the clip"
    for row, text in videos:
        assert row["kind"] == "video" and row["timecode"] is not None
        assert HAMILTON.name in text and row["timecode"] in text and "machine match" in text
        assert row["start_s"] <= row["time_s"] <= row["end_s"]
    assert sum("alice" in text for text in page["rows"]) == 1
    assert all(complete and width > 0 for complete, width in page["images"])


@pytest.mark.parametrize("name", ["obama", "all"])
def test_csv_and_json_hold_the_rows_of_the_library(exports: Exports, name: str) -> None:
    rows = _json_rows(exports.out / f"{name}.json")
    expected = report_rows(exports.library, "Barack Obama" if name == "obama" else None)
    assert rows == rows_json(expected)
    with (exports.out / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        records = list(reader)
    assert len(records) == len(rows)
    for row, record in zip(rows, records, strict=True):
        for key in ("person", "path", "kind", "status", "timecode", "reviewer", "sha256"):
            assert record[key] == (row[key] or "")
        assert int(record["face_id"]) == row["face_id"]
        assert float(record["distance"]) == row["distance"]
    faces = {row["face_id"] for row in rows}
    assert exports.confirmed_face in faces and exports.rejected_face not in faces


def test_report_header_and_manifest_say_who_made_it_from_what(
    exports: Exports, browser: WebDriver
) -> None:
    document = json.loads((exports.out / "obama.json").read_text(encoding="utf-8"))
    library = exports.library
    assert document["schema"] == 2
    assert document["generated_by"] and document["generated_at"]
    assert document["library"] == str(library.path.resolve())
    assert document["detector"] == library.pipeline.detector_version
    assert document["embedder"] == library.pipeline.embedder_version
    assert "match = est. FPIR" in document["rule"]
    # the audit log's head as the report was made: a kept copy checks the log later
    assert len(document["audit_head"]) == 64
    verified = _cli(library.path, "audit", "verify", "--head", document["audit_head"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for row in document["rows"]:
        assert row["sha256"] and len(row["sha256"]) == 64 and row["reference"]
        assert row["category"] in ("machine match", "confirmed", "manual identification")
        assert row["embedder"] == library.pipeline.embedder_version
    page = _open(browser, exports.out / "obama.html")
    assert all(complete and width > 0 for complete, width in page["images"])
    assert len(page["images"]) == 2 * len(document["rows"])  # each face beside its reference
    manifest = json.loads((exports.out / "obama.manifest.json").read_text(encoding="utf-8"))
    assert [f["path"] for f in manifest["files"]] == ["obama.html", "obama.csv", "obama.json"]
    for entry in manifest["files"]:
        data = (exports.out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert manifest["generated_by"] == document["generated_by"]
    assert manifest["audit_head"] == document["audit_head"]


def test_search_face_gives_timecodes_for_video_faces(exports: Exports) -> None:
    miranda = PEOPLE / "Lin_Manuel_Miranda" / "face_recognition_lin-manuel-miranda.jpg"
    run = _cli(exports.library.path, "search-face", str(miranda), "--json")
    assert run.returncode == 0, run.stderr
    videos = [h for h in json.loads(run.stdout) if h["kind"] == "video"]
    assert videos, "the clip's faces are among the stored faces"
    for hit in videos:
        assert hit["timecode"] and hit["start"] and hit["end"]
        assert hit["start_s"] <= hit["time_s"] <= hit["end_s"]


# ---------------------------------------------------------------- XMP sidecars


def _read_xmp(exiftool: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Each sidecar in ``folder`` as ExifTool reads it, by file name."""
    paths = sorted(folder.glob("*.xmp"))
    infos = read_xmp(exiftool, *paths)
    return {path.name: info for path, info in zip(paths, infos, strict=True)}


def test_sidecars_name_the_people_of_each_photo(exports: Exports, exiftool: str) -> None:
    assert exports.xmp_run.returncode == 0, exports.xmp_run.stderr
    assert "wrote 4 sidecar(s) with 4 face region(s)" in exports.xmp_run.stderr
    assert "in videos not exported" in exports.xmp_run.stderr
    infos = _read_xmp(exiftool, exports.out / "xmp")
    photos = [CONFIRMED, PENDING, *JOLIE_SCANNED]
    assert sorted(infos) == sorted(f"{p.name}.xmp" for p in photos)
    rows = {Path(r["path"]).name: r for r in _json_rows(exports.out / "all.json")}
    for photo in photos:
        info = infos[f"{photo.name}.xmp"]
        row = rows[photo.name]
        assert exif_orientation(photo) == 1  # so stored pixels are the upright ones
        dims = info["RegionInfo"]["AppliedToDimensions"]
        assert dims == {"W": row["width_px"], "H": row["height_px"], "Unit": "pixel"}
        (region,) = info["RegionInfo"]["RegionList"]
        assert region["Name"] == row["person"] and region["Type"] == "Face"
        assert info["PersonInImage"] in (row["person"], [row["person"]])
        x1, y1, x2, y2 = row["xyxy"]
        w, h = row["width_px"], row["height_px"]
        area = region["Area"]
        assert area["X"] == pytest.approx((x1 + x2) / 2 / w, abs=1e-6)
        assert area["Y"] == pytest.approx((y1 + y2) / 2 / h, abs=1e-6)
        assert area["W"] == pytest.approx((x2 - x1) / w, abs=1e-6)
        assert area["H"] == pytest.approx((y2 - y1) / h, abs=1e-6)


def test_confirmed_only_sidecars_hold_only_reviewed_faces(exports: Exports, exiftool: str) -> None:
    assert exports.confirmed_xmp_run.returncode == 0, exports.confirmed_xmp_run.stderr
    infos = _read_xmp(exiftool, exports.out / "xmp-confirmed")
    assert list(infos) == [f"{CONFIRMED.name}.xmp"]
    (region,) = infos[f"{CONFIRMED.name}.xmp"]["RegionInfo"]["RegionList"]
    assert region["Name"] == "Barack Obama"


def test_every_export_is_audited_with_who_what_and_which_items(exports: Exports) -> None:
    records = exports.library.audit.records(action="export")
    assert [r.action for r in records] == [
        "export.xmp",
        "export.xmp",
        "export.report",
        "export.report",
    ]
    assert {r.actor for r in records} == {"alice"} and all(r.at for r in records)
    confirmed_xmp, xmp, everyone, person = records
    obama = [r["face_id"] for r in _json_rows(exports.out / "obama.json")]
    assert person.items["faces"] == obama and len(person.items["people"]) == 1
    assert person.items["paths"] == [
        str((exports.out / name).resolve())
        for name in ("obama.html", "obama.csv", "obama.json", "obama.manifest.json")
    ]
    assert len(everyone.items["faces"]) == len(_json_rows(exports.out / "all.json"))
    assert len(everyone.items["people"]) == 3
    assert sorted(xmp.items["paths"]) == sorted(
        str(p.resolve()) for p in (exports.out / "xmp").glob("*.xmp")
    )
    assert len(xmp.items["faces"]) == 4
    assert confirmed_xmp.items["faces"] == [exports.confirmed_face]
    assert "Obama" not in json.dumps([r.items for r in records])  # ids only, never names


# ---------------------------------------------------------------- refusals


def test_images_gone_or_changed_since_the_scan_get_no_sidecar(
    library: Library, tmp_path: Path
) -> None:
    library.enroll("Barack Obama", [OBAMA / "face_recognition_obama.jpg"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, source in (("gone", CONFIRMED), ("changed", PENDING), ("kept", REJECTED)):
        shutil.copyfile(source, photos / f"{name}.jpg")
    assert library.scan([photos]).faces_matched == 3
    (photos / "gone.jpg").unlink()
    shutil.copyfile(CONFIRMED, photos / "changed.jpg")  # another photo under the same name
    output = tmp_path / "xmp"
    output.mkdir()
    (output / "kept.jpg.xmp").write_text("<x:xmpmeta>edited in digiKam</x:xmpmeta>")

    result = export_xmp(library, output)
    assert result.written == [] and result.faces == 0
    assert {(Path(f.path).name, f.kind) for f in result.skipped} == {
        ("gone.jpg", "missing"),
        ("changed.jpg", "changed"),
        ("kept.jpg", "sidecar"),
    }
    assert (output / "kept.jpg.xmp").read_text() == "<x:xmpmeta>edited in digiKam</x:xmpmeta>"
    (record,) = library.audit.records(action="export.xmp")
    assert record.items == {}  # the export is recorded, with nothing written


def test_report_needs_one_subject_and_an_output(exports: Exports) -> None:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--library", str(exports.library.path), *args])

    both = invoke("report", "--all", "--person", "x", "--json", "x.json")
    assert both.exit_code == 2 and "either --person NAME or --all" in both.stderr
    no_output = invoke("report", "--all")
    assert no_output.exit_code == 2 and "at least one output" in no_output.stderr
    nobody = invoke("report", "--person", "Nobody", "--json", "x.json")
    assert nobody.exit_code == 1 and "nobody called 'Nobody' is enrolled" in nobody.stderr
    assert not Path("x.json").exists()
