"""Sighting reports: real crops, the page as headless Chromium shows it, CSV and JSON rows."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from facesight.errors import InvalidInputError
from facesight.exports.report import MediaKind, ReportRow, ReportSummary
from facesight.exports.report_csv_json import CSV_COLUMNS, rows_json, write_csv, write_json
from facesight.exports.report_html import render_html, write_html
from facesight.media.images import load_image
from facesight.media.video import format_timecode, sample_frames
from facesight.vision.detect import FaceDetector
from facesight.vision.pipeline import save_crop

from .paths import PEOPLE, SHARED_FACES

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"
JOLIE = PEOPLE / "Angelina_Jolie" / "deepface_img1.jpg"
ODD_NAME = 'Zoë <O\'Brien> & "Co"'
RULE = "A candidate is a match at distance <= 0.52 (1 in 1,000 false identifications)."
GENERATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _largest_box(detector: FaceDetector, pixels: np.ndarray) -> tuple[float, float, float, float]:
    faces = detector.detect(pixels)
    assert len(faces) >= 1
    i = int(np.argmax(faces.width_px * faces.height_px))
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
    return x1, y1, x2, y2


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector) -> list[ReportRow]:
    """Five sightings of two people, with crops the real detector cut from real media."""
    crops = tmp_path_factory.mktemp("crops")
    obama, jolie = load_image(OBAMA), load_image(JOLIE)
    obama_box = _largest_box(detector, obama.pixels)
    jolie_box = _largest_box(detector, jolie.pixels)
    save_crop(obama.pixels, np.array(obama_box, np.float32), crops / "obama.jpg")
    save_crop(jolie.pixels, np.array(jolie_box, np.float32), crops / "jolie.jpg")
    frames = list(sample_frames(HAMILTON, rate_fps=2, start_s=1.5, end_s=3.6))
    first, last = frames[0], frames[-1]
    video_box = _largest_box(detector, first.pixels)
    save_crop(first.pixels, np.array(video_box, np.float32), crops / "hamilton.jpg")
    obama_still = {"width_px": obama.width_px, "height_px": obama.height_px}
    jolie_still = {"width_px": jolie.width_px, "height_px": jolie.height_px}
    image, video = MediaKind.IMAGE, MediaKind.VIDEO
    return [
        ReportRow(
            person="Barack Obama", media_path=str(OBAMA), media_kind=image, xyxy=obama_box,
            distance=0.41, fmr=1.2e-4, decision="confirmed", reviewer="alice",
            decided_at="2025-01-01T09:00:00", crop_path=str(crops / "obama.jpg"),
            captured_at="2019-05-01T10:00:00", gps=(48.85837, 2.294481), quality=0.91,
            face_id=1, **obama_still,
        ),
        ReportRow(
            person="Barack Obama", media_path=str(HAMILTON), media_kind=video,
            time_s=first.time_s, start_s=first.time_s, end_s=last.time_s, frame=first.index,
            xyxy=video_box, width_px=640, height_px=360, distance=0.5, fmr=3.4e-3,
            decision="pending", crop_path=str(crops / "hamilton.jpg"), quality=0.4,
            quality_reasons="blurred; small face", face_id=2,
        ),
        ReportRow(
            person="Barack Obama", media_path="/archive/2020/IMG_0001.jpg", media_kind=image,
            xyxy=obama_box, distance=0.55, decision="rejected", reviewer="bob",
            decided_at="2025-01-01T09:05:00", crop_path=str(crops / "gone.jpg"),
            captured_at="2020-07-04T18:30:00", **obama_still,
        ),
        ReportRow(
            person=ODD_NAME, media_path=str(JOLIE), media_kind=image, xyxy=jolie_box,
            distance=0.38, fmr=5e-6, decision="confirmed", reviewer="carol <c@x>",
            decided_at="2025-01-01T10:00:00", crop_path=str(crops / "jolie.jpg"),
            captured_at="2018-01-02T03:04:05", **jolie_still,
        ),
        ReportRow(
            person=ODD_NAME, media_path="/archive/odd & <name>.jpg", media_kind=image,
            xyxy=jolie_box, distance=0.47, decision="pending", **jolie_still,
        ),
    ]  # fmt: skip


# ---------------------------------------------------------------- the page in Chromium


@pytest.fixture(scope="module")
def page(
    browser: WebDriver, rows: list[ReportRow], tmp_path_factory: pytest.TempPathFactory
) -> WebDriver:
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html(
        render_html(rows, title="Sightings <report>", generated_at=GENERATED, rule=RULE), path
    )
    browser.get(path.as_uri())
    return browser


def _texts(page: WebDriver, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in page.find_elements(By.CSS_SELECTOR, selector)]


def test_page_shows_every_row_with_its_evidence(page: WebDriver, rows: list[ReportRow]) -> None:
    assert page.title == "Sightings <report>"
    assert _texts(page, "section.person > h2") == ["Barack Obama", ODD_NAME]
    table_rows = _texts(page, "tr.sighting")
    assert len(table_rows) == len(rows)
    for row, text in zip(rows, table_rows, strict=True):
        assert row.file_name in text
        assert row.category in text
    obama, video, rejected, jolie, pending = table_rows
    assert "1.2e-04" in obama and "48.858370, 2.294481" in obama and "0.410" in obama
    assert "alice" in obama and "2019-05-01T10:00:00" in obama and "0.91" in obama
    assert "00:00:01.502" in video and "frame 45" in video
    assert f"track 00:00:01.502 to {format_timecode(rows[1].end_s or 0)}" in video
    assert "3.4e-03" in video and "blurred; small face" in video
    assert "crop missing" in rejected and "unknown" in rejected
    assert "5.0e-06" in jolie and "carol <c@x>" in jolie
    assert "odd & <name>.jpg" in pending and "crop missing" in pending


def test_page_summary_counts_people_media_and_first_last_seen(page: WebDriver) -> None:
    first = _texts(page, "section.summary")[0]
    # a rejected face is no sighting: counted as rejected, and nowhere else
    assert "Sightings 4" in first
    assert "2 confirmed, 2 pending, 1 rejected" in first
    assert "Media files 4 (3 images, 1 video)" in first
    assert f"People 2: Barack Obama, {ODD_NAME}" in first
    assert "First seen 2018-01-02T03:04:05 — deepface_img1.jpg" in first
    assert "Last seen 2019-05-01T10:00:00 — face_recognition_obama.jpg" in first
    assert RULE in _texts(page, "section.notes")[0]


def test_page_images_are_embedded_and_load_offline(page: WebDriver) -> None:
    state = page.execute_script(
        "return {images: [...document.images].map(i => [i.src.slice(0, 23), i.complete,"
        " i.naturalWidth]), fetched: performance.getEntriesByType('resource').map(e => e.name)}"
    )
    assert state["fetched"] == []  # nothing was requested beyond the page itself
    assert len(state["images"]) == 3  # the two missing crops are text
    for src, complete, width in state["images"]:
        assert src == "data:image/jpeg;base64,"
        assert complete and width > 0


def test_page_escapes_names_instead_of_making_markup(page: WebDriver) -> None:
    # The odd name reached the page as text: no element was made of "<O'Brien>" or "<name>".
    assert (
        page.execute_script("return document.querySelectorAll('o\\\\\\'brien, name').length") == 0
    )


# ---------------------------------------------------------------- HTML without a browser


def test_render_html_is_self_contained(rows: list[ReportRow]) -> None:
    page = render_html(rows, title="t", generated_at=GENERATED, rule=RULE)
    assert "http://" not in page and "https://" not in page
    assert "Content-Security-Policy" in page and "<script" not in page
    assert page.count('src="data:image/jpeg;base64,') == 3


def test_render_html_without_rows_says_so() -> None:
    page = render_html([], title="Nobody", generated_at=GENERATED, rule=RULE)
    assert "No sightings to report." in page
    assert '<tr class="sighting">' not in page


def test_crop_that_is_not_an_image_is_shown_missing(tmp_path: Path, rows: list[ReportRow]) -> None:
    fake = tmp_path / "crop.jpg"
    fake.write_text("not a jpeg")
    row = ReportRow(**{**_fields(rows[0]), "crop_path": str(fake)})
    page = render_html([row], title="t", generated_at=GENERATED, rule=RULE)
    assert "crop missing" in page and "<img" not in page


def _fields(row: ReportRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


# ---------------------------------------------------------------- summary


def test_summary_first_and_last_seen_fall_back_to_scan_order(rows: list[ReportRow]) -> None:
    undated = [ReportRow(**{**_fields(r), "captured_at": None}) for r in rows]
    summary = ReportSummary.from_rows(undated)
    assert not summary.by_capture_time
    assert summary.first_seen is undated[0] and summary.last_seen is undated[-1]
    assert (summary.sightings, summary.media, summary.images, summary.videos) == (4, 4, 3, 1)


def test_summary_counts_unknown_decisions_as_other(rows: list[ReportRow]) -> None:
    odd = ReportRow(**{**_fields(rows[0]), "decision": "escalated"})
    summary = ReportSummary.from_rows([*rows, odd])
    assert (summary.confirmed, summary.pending, summary.rejected, summary.other) == (2, 2, 1, 1)
    assert summary.media == 4  # the same file twice is one medium; rejected rows are none
    assert ReportSummary.from_rows([]).first_seen is None


def test_row_takes_media_kind_as_text(rows: list[ReportRow]) -> None:
    row = ReportRow(**{**_fields(rows[1]), "media_kind": "video"})
    assert row.media_kind is MediaKind.VIDEO


def test_row_rejects_bad_kind_quality_and_gps(rows: list[ReportRow]) -> None:
    for change in ({"media_kind": "audio"}, {"quality": 1.5}, {"gps": (91.0, 0.0)}):
        with pytest.raises(InvalidInputError):
            ReportRow(**{**_fields(rows[0]), **change})


# ---------------------------------------------------------------- CSV and JSON


def test_json_rows_round_trip(rows: list[ReportRow], tmp_path: Path) -> None:
    path = tmp_path / "out" / "rows.json"
    write_json(rows, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == 2
    loaded = document["rows"]
    assert loaded == rows_json(rows)
    rebuilt = [_from_json(item) for item in loaded]
    for row, back in zip(rows, rebuilt, strict=True):
        expected = _fields(row)
        if math.isnan(row.fmr):
            assert math.isnan(back.fmr)
            expected["fmr"] = back.fmr
        assert _fields(back) == expected
    assert loaded[1]["timecode"] == "00:00:01.502" and loaded[2]["fmr"] is None
    assert [p.name for p in path.parent.iterdir()] == ["rows.json"]  # no temp file left


_SIGHTINGS_NAMES = {
    "path": "media_path",
    "kind": "media_kind",
    "crop": "crop_path",
    "status": "decision",
    "reviewed_at": "decided_at",
    "reference": "reference_path",
}
"""Report JSON keys named as ``sightings --json`` names them -> ``ReportRow`` fields."""


def _from_json(item: dict[str, object]) -> ReportRow:
    fields = {_SIGHTINGS_NAMES.get(k, k): v for k, v in item.items() if k != "timecode"}
    fields["xyxy"] = tuple(fields["xyxy"])  # type: ignore[arg-type]
    fields["gps"] = None if fields["gps"] is None else tuple(fields["gps"])  # type: ignore[arg-type]
    fields["fmr"] = float("nan") if fields["fmr"] is None else fields["fmr"]
    return ReportRow(**fields)  # type: ignore[arg-type]


def test_csv_rows_round_trip(rows: list[ReportRow], tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_csv(rows, path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        records = list(reader)
    assert len(records) == len(rows)
    for row, record in zip(rows, records, strict=True):
        assert record["person"] == row.person and record["path"] == row.media_path
        assert tuple(float(record[k]) for k in ("x1", "y1", "x2", "y2")) == row.xyxy
        assert float(record["distance"]) == row.distance
        assert record["fmr"] == ("" if math.isnan(row.fmr) else repr(row.fmr))
        gps = (
            (float(record["latitude"]), float(record["longitude"])) if record["latitude"] else None
        )
        assert gps == row.gps
        assert record["timecode"] == (row.timecode or "")
        assert record["reviewed_at"] == (row.decided_at or "")
    assert records[1]["time_s"] == repr(rows[1].time_s) and records[1]["kind"] == "video"
