"""The review queue and its evidence: real libraries scanned from ../shared/faces, real
SQLite files opened by two Library objects at once, real media decoded and encoded."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from facesight.errors import (
    DecisionConflictError,
    InvalidInputError,
    ManualIdentificationError,
    NotFoundError,
)
from facesight.exports.frames import BOX_RGB
from facesight.library.evidence import EVIDENCE_LONG_SIDE
from facesight.library.facade import Library
from facesight.library.review import DecisionRequest
from facesight.library.review_queue import QueueFilter, QueueSort, decision_state
from facesight.media.browser import media_type
from facesight.quality import quality_band
from facesight.records import Sighting
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import DISTRACTORS, GROUP, PEOPLE, REPO, SHARED_FACES

ENROLLED = {
    "Barack Obama": "Barack_Obama",
    "Angelina Jolie": "Angelina_Jolie",
    "George Clooney": "George_Clooney",
    "Andrew Morgan": "Andrew_Morgan",
    "Jack Dorsey": "Jack_Dorsey",
}
HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"


def _first(folder: str) -> Path:
    return sorted((PEOPLE / folder).glob("*"))[0]


@pytest.fixture(scope="module")
def scanned(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Path:
    """A library with five people enrolled from one photo each, their other photos, the
    group photos and the distractors scanned (closed: tests open it, or a copy)."""
    path = tmp_path_factory.mktemp("queue") / "lib"
    with Library(path, detector=detector, embedder=embedder, actor="alice") as lib:
        for name, folder in ENROLLED.items():
            lib.enroll(name, [_first(folder)], largest=True)
        summary = lib.scan([*(PEOPLE / f for f in ENROLLED.values()), GROUP, DISTRACTORS])
        assert summary.failures == [] and summary.faces_matched >= 15
    return path


@pytest.fixture
def copy(scanned: Path, tmp_path: Path) -> Path:
    """A copy of the scanned library this test may change."""
    return Path(shutil.copytree(scanned, tmp_path / "lib"))


def _open(path: Path, detector: FaceDetector, embedder: FaceEmbedder, actor: str) -> Library:
    return Library(path, detector=detector, embedder=embedder, actor=actor)


@pytest.fixture
def lib(copy: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Iterator[Library]:
    with _open(copy, detector, embedder, "bob") as opened:
        yield opened


def _all_pages(lib: Library, queue_filter: QueueFilter, sort: QueueSort, limit: int) -> list[int]:
    faces: list[int] = []
    after = None
    while True:
        page = lib.review_queue(queue_filter, sort=sort, after=after, limit=limit)
        assert len(page.items) <= limit
        faces += [item.sighting.face_id for item in page.items]
        if page.next_after is None:
            return faces
        after = page.next_after


def _fmr(s: Sighting) -> float:
    named = s.named
    return float("inf") if named is None or named.fmr != named.fmr else named.fmr


# ------------------------------------------------------------------ filters and sorts


@pytest.mark.parametrize("sort", list(QueueSort))
def test_paging_yields_every_pending_face_once_in_the_sort_order(
    lib: Library, sort: QueueSort
) -> None:
    pending = lib.pending()
    assert len(pending) >= 15
    paged = _all_pages(lib, QueueFilter(), sort, limit=4)
    assert sorted(paged) == sorted(s.face_id for s in pending)  # each once
    by_id = {s.face_id: s for s in pending}
    ordered = [by_id[i] for i in paged]
    if sort == QueueSort.FMR:
        keys: list[tuple[object, ...]] = [(_fmr(s), s.face_id) for s in ordered]
    elif sort == QueueSort.QUALITY:
        keys = [(-(s.quality if s.quality is not None else -1.0), s.face_id) for s in ordered]
    else:
        keys = [(s.captured_at is None, s.captured_at or "", s.face_id) for s in ordered]
    assert keys == sorted(keys)
    if sort == QueueSort.DATE:  # dated faces exist and come first
        assert ordered[0].captured_at is not None and ordered[-1].captured_at is None


def test_pages_stay_stable_when_faces_are_decided_between_them(lib: Library) -> None:
    everyone = _all_pages(lib, QueueFilter(), QueueSort.FMR, limit=50)
    first = lib.review_queue(limit=5)
    assert [i.sighting.face_id for i in first.items] == everyone[:5]
    # decide faces shown on the first page and ahead of the cursor
    lib.decide(everyone[0], "confirm")
    lib.decide(everyone[7], "reject")
    second = lib.review_queue(after=first.next_after, limit=5)
    assert [i.sighting.face_id for i in second.items] == [
        f for f in everyone[5:11] if f != everyone[7]
    ]
    assert second.total == len(everyone) - 2


def test_each_filter_keeps_exactly_the_faces_it_names(lib: Library) -> None:
    pending = lib.pending()

    def shown(**fields: str) -> set[int]:
        return set(_all_pages(lib, QueueFilter(**fields), QueueSort.FMR, limit=7))

    obama = shown(person="barack obama")  # names as typed: case does not matter
    assert obama == {s.face_id for s in pending if s.person == "Barack Obama"} and obama
    for band in ("good", "fair", "poor"):
        assert shown(quality=band) == {
            s.face_id for s in pending if s.quality is not None and quality_band(s.quality) == band
        }
    assert shown(quality="good")
    group = shown(path="/GROUP/")
    assert group == {s.face_id for s in pending if "/group/" in s.path} and group
    assert shown(kind="image") == {s.face_id for s in pending}
    assert shown(kind="video") == set()
    dated = {s.face_id: s.captured_at for s in pending if s.captured_at}
    assert dated, "the scanned photos include some with an EXIF capture time"
    day = min(dated.values())[:10]
    assert shown(since=day, until=day) == {f for f, at in dated.items() if at[:10] == day}
    assert shown(since=day) == set(dated)
    assert shown(until="1990-01-01") == set()
    assert shown(category="machine match") == {s.face_id for s in pending}
    unmatched = shown(category="unmatched")
    assert unmatched and not unmatched & {s.face_id for s in pending}
    face = next(iter(obama))
    lib.decide(face, "confirm")
    assert shown(category="confirmed") == {face}
    assert face not in shown()


def test_bad_filters_sorts_and_cursors_are_one_clear_error(lib: Library) -> None:
    with pytest.raises(InvalidInputError, match="quality band"):
        lib.review_queue(QueueFilter(quality="excellent"))
    with pytest.raises(InvalidInputError, match="decision category"):
        lib.review_queue(QueueFilter(category="maybe"))
    with pytest.raises(InvalidInputError, match="media kind"):
        lib.review_queue(QueueFilter(kind="audio"))
    with pytest.raises(InvalidInputError, match="ISO date"):
        lib.review_queue(QueueFilter(since="yesterday"))
    with pytest.raises(InvalidInputError, match="sort by"):
        lib.review_queue(sort="name")
    with pytest.raises(InvalidInputError, match="1 to 500"):
        lib.review_queue(limit=0)
    with pytest.raises(NotFoundError):
        lib.review_queue(QueueFilter(person="Nobody Enrolled"))
    cursor = lib.review_queue(limit=2).next_after
    assert cursor is not None
    with pytest.raises(InvalidInputError, match="sorted by date"):
        lib.review_queue(sort=QueueSort.DATE, after=cursor)
    with pytest.raises(InvalidInputError, match="cursor"):
        lib.review_queue(after="not-a-cursor!")


def test_each_item_shows_the_nearest_reference_of_the_person_named(lib: Library) -> None:
    items = lib.review_queue(limit=50).items
    assert items
    for item in items:
        named = item.sighting.named
        assert named is not None and item.reference_id == named.reference_id
        assert lib.reference_crop_file(item.reference_id).is_file()
        assert item.state == decision_state(item.sighting) == f"pending:{named.person_id}"
        assert item.band == quality_band(item.sighting.quality or 0.0)
    unmatched = lib.review_queue(QueueFilter(category="unmatched"), limit=5).items
    assert unmatched and all(item.reference_id is None for item in unmatched)
    # a reference whose crop is gone is not offered (its crop could not be served)
    gone = items[0].reference_id
    assert gone is not None
    lib.reference_crop_file(gone).unlink()
    again = lib.review_queue(limit=50).items
    assert {i.sighting.face_id for i in again if i.reference_id is None} == {
        i.sighting.face_id for i in items if i.reference_id == gone
    }
    with pytest.raises(NotFoundError, match="missing"):
        lib.reference_crop_file(gone)


# ------------------------------------------------------------------ decisions


def test_confirm_reject_and_assign_through_decide(lib: Library) -> None:
    obama, jolie, third = [
        next(s for s in lib.pending() if s.person == name)
        for name in ("Barack Obama", "Angelina Jolie", "George Clooney")
    ]
    confirmed = lib.decide(obama.face_id, "confirm", expected=decision_state(obama))
    assert (confirmed.category, confirmed.person) == ("confirmed", "Barack Obama")
    assert confirmed.review is not None and confirmed.review.reviewer == "bob"
    rejected = lib.decide(jolie.face_id, "reject", note="another woman")
    assert rejected.decision == "rejected" and decision_state(rejected).startswith("rejected:-@")
    with pytest.raises(ManualIdentificationError):
        lib.decide(third.face_id, "assign", person="Barack Obama")
    assert lib.sighting(third.face_id).decision == "pending"  # nothing written
    assigned = lib.decide(third.face_id, "assign", person="Barack Obama", force=True)
    assert (assigned.category, assigned.person) == ("manual identification", "Barack Obama")
    with pytest.raises(InvalidInputError, match="assign to whom"):
        lib.decide(obama.face_id, "assign")
    with pytest.raises(InvalidInputError, match="confirm, reject, assign"):
        lib.decide(obama.face_id, "approve")
    with pytest.raises(NotFoundError):
        lib.decide(10**9, "confirm")
    actions = [r.action for r in lib.audit.records(action="review", actor="bob")]
    assert actions == ["review.confirm", "review.reject", "review.reject", "review.confirm"]


def test_the_second_of_two_reviewers_gets_a_conflict_and_nothing_is_overwritten(
    copy: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with (
        _open(copy, detector, embedder, "alice") as alice,
        _open(copy, detector, embedder, "bob") as bob,
        _open(copy, detector, embedder, "carol") as carol,
    ):
        item = next(i for i in bob.review_queue().items if i.sighting.person == "Barack Obama")
        face, seen = item.sighting.face_id, item.state
        assert alice.review_queue().items[0].state  # both saw the same queue
        alice.decide(face, "confirm", expected=seen)
        with pytest.raises(DecisionConflictError) as conflict:
            bob.decide(face, "reject", expected=seen)
        current = conflict.value.current
        assert isinstance(current, Sighting) and current.face_id == face
        assert current.review is not None and current.review.reviewer == "alice"
        assert current.decision == "confirmed" and "alice" in str(conflict.value)
        # confirmed again by someone else: the state changes, so a third one's is stale
        again = alice.sighting(face)
        time.sleep(1.05)  # decisions are stamped to the second
        carol.decide(face, "confirm", expected=decision_state(again))
        with pytest.raises(DecisionConflictError):
            bob.decide(face, "confirm", expected=decision_state(again))
    db = sqlite3.connect(copy / Library.DB_NAME)
    rows = db.execute(
        "SELECT reviewer, decision FROM reviews WHERE face_id = ? ORDER BY id", (face,)
    ).fetchall()
    assert rows == [("alice", "confirmed"), ("carol", "confirmed")]


def test_simultaneous_decisions_are_checked_under_the_write_lock(
    library_location: str | Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    """Two server threads, each with its own Library on one database (SQLite file or
    PostgreSQL), decide the same faces at the same moment with the same ``expected``: one
    wins, the other gets the conflict, never two decisions."""

    def opened(actor: str) -> Library:
        return Library(library_location, detector=detector, embedder=embedder, actor=actor)

    with opened("setup") as lib:
        lib.enroll("Barack Obama", [_first("Barack_Obama")], largest=True)
        lib.enroll("Angelina Jolie", [_first("Angelina_Jolie")], largest=True)
        lib.scan([PEOPLE / "Barack_Obama", PEOPLE / "Angelina_Jolie"])
        items = lib.review_queue(limit=6).items
        assert len(items) >= 4
    results: dict[str, list[str]] = {"alice": [], "bob": []}

    def reviewer(name: str, barrier: threading.Barrier) -> None:
        with opened(name) as mine:
            for item in items:
                barrier.wait()
                try:
                    mine.decide(item.sighting.face_id, "confirm", expected=item.state)
                    results[name].append("ok")
                except DecisionConflictError:
                    results[name].append("conflict")

    # a thread that fails breaks the barrier (timeout) instead of leaving the other waiting
    barrier = threading.Barrier(2, timeout=60)
    threads = [threading.Thread(target=reviewer, args=(n, barrier), daemon=True) for n in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(len(r) == len(items) for r in results.values())
    for a, b in zip(results["alice"], results["bob"], strict=True):
        assert sorted((a, b)) == ["conflict", "ok"]
    with opened("auditor") as lib:
        for item in items:
            decisions = lib.audit.records(action="review")
            assert [r.items["faces"] for r in decisions].count([item.sighting.face_id]) == 1
        # crops and frames by id on either backend (PostgreSQL keeps crops in the database)
        first = items[0]
        assert first.reference_id is not None
        assert lib.crop_file(first.sighting.face_id).is_file()
        assert lib.reference_crop_file(first.reference_id).is_file()
        assert lib.evidence_frame(first.sighting.face_id).source == "media file"


def test_decide_many_reports_each_outcome_and_goes_on(lib: Library) -> None:
    items = lib.review_queue(limit=4).items
    a, b, c, d = items
    lib.decide(b.sighting.face_id, "reject")  # decided meanwhile
    outcomes = lib.decide_many(
        [
            DecisionRequest(a.sighting.face_id, "confirm", expected=a.state),
            DecisionRequest(b.sighting.face_id, "confirm", expected=b.state),
            DecisionRequest(10**9, "reject"),
            DecisionRequest(c.sighting.face_id, "assign", person="Jack Dorsey"),
            DecisionRequest(d.sighting.face_id, "reject", expected=d.state),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert [o.error_type for o in outcomes] == [
        "",
        "DecisionConflictError",
        "NotFoundError",
        "ManualIdentificationError",
        "",
    ]
    assert outcomes[0].sighting is not None and outcomes[0].sighting.decision == "confirmed"
    assert outcomes[1].sighting is not None and outcomes[1].sighting.decision == "rejected"
    assert outcomes[2].error and outcomes[2].sighting is None
    assert lib.sighting(c.sighting.face_id).decision == "pending"
    assert lib.sighting(d.sighting.face_id).decision == "rejected"


# ------------------------------------------------------------------ crops, frames, views


def test_crops_are_served_only_by_known_ids(lib: Library) -> None:
    item = lib.review_queue(limit=1).items[0]
    crop = lib.crop_file(item.sighting.face_id)
    assert crop.is_file() and crop.resolve().is_relative_to(lib.path.resolve())
    with Image.open(crop) as image:
        assert image.format == "JPEG"
    assert item.reference_id is not None
    assert lib.reference_crop_file(item.reference_id).name == f"ref_{item.reference_id}.jpg"
    with pytest.raises(NotFoundError, match="no stored face"):
        lib.crop_file(10**9)
    with pytest.raises(NotFoundError, match="no reference"):
        lib.reference_crop_file(10**9)


def _box_colour(jpeg: bytes, box: tuple[float, ...]) -> tuple[int, ...]:
    """The colour in the middle of the box's left edge (clear of the label above it)."""
    with Image.open(io.BytesIO(jpeg)) as image:
        x1, y1, _, y2 = box
        return tuple(int(v) for v in image.convert("RGB").getpixel((x1 + 1, (y1 + y2) / 2)))


def _near(colour: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(colour, wanted, strict=True))


def test_the_evidence_frame_is_the_whole_picture_with_the_box_drawn(lib: Library) -> None:
    sighting = lib.review_queue(limit=1).items[0].sighting
    evidence = lib.evidence_frame(sighting.face_id)
    assert evidence.source == "media file"
    with Image.open(io.BytesIO(evidence.jpeg)) as image:
        assert image.format == "JPEG"
        assert image.size == (sighting.width_px, sighting.height_px)
        assert (evidence.width_px, evidence.height_px) == image.size
    assert _near(_box_colour(evidence.jpeg, sighting.xyxy), BOX_RGB)
    # the same spot of the picture itself is another colour: the box was drawn there
    with Image.open(sighting.path) as original:
        x1, y1, _, y2 = sighting.xyxy
        plain = tuple(int(v) for v in original.convert("RGB").getpixel((x1 + 1, (y1 + y2) / 2)))
    assert not _near(plain, BOX_RGB)


def test_a_large_turned_photo_is_upright_shrunk_and_boxed(library: Library, tmp_path: Path) -> None:
    # a 2.5x enlargement of a portrait, stored on its side with EXIF orientation 6
    with Image.open(_first("Barack_Obama")) as source:
        upright = source.convert("RGB").resize((source.width * 5 // 2, source.height * 5 // 2))
    turned = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "turned.jpg"
    turned.save(photo, exif=exif, quality=92)
    library.scan([photo])
    sighting = library.sightings(include_unmatched=True)[0]
    assert (sighting.width_px, sighting.height_px) == upright.size
    evidence = library.evidence_frame(sighting.face_id)
    scale = EVIDENCE_LONG_SIDE / max(upright.size)
    assert max(upright.size) > EVIDENCE_LONG_SIDE
    assert (evidence.width_px, evidence.height_px) == (
        round(upright.width * scale),
        round(upright.height * scale),
    )
    assert _near(_box_colour(evidence.jpeg, tuple(v * scale for v in sighting.xyxy)), BOX_RGB)


def test_a_missing_media_file_falls_back_to_the_stored_crop(
    library: Library, tmp_path: Path
) -> None:
    photo = tmp_path / "gone.jpg"
    shutil.copyfile(_first("Angelina_Jolie"), photo)
    library.scan([photo])
    face = library.sightings(include_unmatched=True)[0].face_id
    photo.unlink()
    evidence = library.evidence_frame(face)
    assert evidence.source == "stored crop (media file missing)"
    with Image.open(io.BytesIO(evidence.jpeg)) as image, Image.open(library.crop_file(face)) as c:
        assert image.size == c.size
    with pytest.raises(NotFoundError, match="no longer at"):
        library.media_file(face)
    # another picture under the scanned name: its box would point elsewhere
    with Image.open(_first("George_Clooney")) as other:
        other.convert("RGB").resize((97, 131)).save(photo)
    assert library.evidence_frame(face).source.startswith("stored crop (media file changed")


def test_record_view_writes_one_record_with_the_faces_shown(lib: Library) -> None:
    shown = [i.sighting.face_id for i in lib.review_queue(limit=5).items]
    lib.record_view(shown, "review queue page")
    lib.record_view([], "an empty page")  # no face shown: nothing to record
    records = lib.audit.records(action="view")
    assert len(records) == 1
    assert records[0].action == "view.sightings" and records[0].actor == "bob"
    assert records[0].items["faces"] == shown and records[0].details == "review queue page"


def test_a_read_only_library_notes_the_view_it_cannot_record(copy: Path) -> None:
    with Library(copy, read_only=True) as lib:
        lib.record_view([1, 2], "review queue page")
        assert any("view.sightings" in notice for notice in lib.notices)


# ------------------------------------------------------------------ video and media files


@pytest.fixture(scope="module")
def video_library(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[Library]:
    """The Hamilton clip (MP4, H.264) and a copy of its opening as AVI (MPEG-4 Part 2),
    scanned with the performer enrolled."""
    folder = tmp_path_factory.mktemp("video")
    avi = folder / "opening.avi"
    _transcode(HAMILTON, avi, "avi", "mpeg4", seconds=2.0)
    with Library(folder / "lib", detector=detector, embedder=embedder, actor="dave") as lib:
        lib.enroll("Lin-Manuel Miranda", sorted((PEOPLE / "Lin_Manuel_Miranda").glob("*")))
        summary = lib.scan([HAMILTON, avi])
        assert summary.failures == [] and summary.videos_scanned == 2
        yield lib


def _transcode(source: Path, target: Path, container: str, codec: str, seconds: float) -> None:
    with av.open(str(source)) as inp, av.open(str(target), "w", format=container) as out:
        stream = out.add_stream(codec, rate=25)
        first = inp.streams.video[0]
        stream.width, stream.height = first.codec_context.width, first.codec_context.height
        stream.pix_fmt = "yuv420p"
        for index, frame in enumerate(inp.decode(video=0)):
            if index >= seconds * 25:
                break
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), "rgb24")
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_a_video_track_evidence_is_its_frame_at_the_best_time(video_library: Library) -> None:
    pending = _all_pages(video_library, QueueFilter(kind="video"), QueueSort.FMR, limit=50)
    named = [
        s
        for s in video_library.sightings("Lin-Manuel Miranda")
        if s.path == str(HAMILTON) and s.face_id in pending
    ]
    assert named
    sighting = named[0]
    assert sighting.time_s is not None
    evidence = video_library.evidence_frame(sighting.face_id)
    assert evidence.source.startswith("video frame at 00:00:0")
    assert (evidence.width_px, evidence.height_px) == (640, 360)
    assert _near(_box_colour(evidence.jpeg, sighting.xyxy), BOX_RGB)


def test_media_files_say_whether_a_browser_plays_them(video_library: Library) -> None:
    by_path = {}
    for s in video_library.sightings(include_unmatched=True):
        by_path.setdefault(Path(s.path).suffix, s.face_id)
    mp4 = video_library.media_file(by_path[".mp4"])
    assert (mp4.path, mp4.mime, mp4.kind, mp4.browser_playable) == (
        HAMILTON,
        "video/mp4",
        "video",
        True,
    )
    avi = video_library.media_file(by_path[".avi"])
    assert (avi.mime, avi.browser_playable) == ("video/x-msvideo", False)


@pytest.mark.parametrize(
    ("name", "container", "codec", "mime", "playable"),
    [
        ("clip.mpg", "mpeg", "mpeg1video", "video/mpeg", False),
        ("clip.mp4", "mp4", "libx265", "video/mp4", False),  # HEVC
        ("clip.mov", "mov", "libx264", "video/quicktime", True),
        ("clip.webm", "webm", "libvpx-vp9", "video/webm", True),
    ],
)
def test_video_formats_a_browser_plays_and_does_not(
    tmp_path: Path, name: str, container: str, codec: str, mime: str, playable: bool
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder")
    target = tmp_path / name
    _transcode(HAMILTON, target, container, codec, seconds=0.3)
    found = media_type(target, "video")
    assert (found.mime, found.browser_playable) == (mime, playable)


def test_still_formats_a_browser_shows_and_does_not(tmp_path: Path) -> None:
    pixels = np.full((8, 8, 3), 128, np.uint8)
    for name, mime, playable in [
        ("a.png", "image/png", True),
        ("a.webp", "image/webp", True),
        ("a.tif", "image/tiff", False),
    ]:
        Image.fromarray(pixels).save(tmp_path / name)
        found = media_type(tmp_path / name, "image")
        assert (found.mime, found.browser_playable) == (mime, playable)
    raw = tmp_path / "a.nef"
    Image.fromarray(pixels).save(raw, format="TIFF")  # a RAW file is a TIFF-like container
    assert (media_type(raw, "image").mime, media_type(raw, "image").browser_playable) == (
        "image/x-raw",
        False,
    )


def test_the_cost_of_a_page(lib: Library, capsys: pytest.CaptureFixture[str]) -> None:
    pending = len(lib.pending())
    start = time.perf_counter()
    for _ in range(5):
        lib.review_queue(limit=50)
    per_page = (time.perf_counter() - start) / 5
    with capsys.disabled():
        print(f"\nreview queue: {per_page * 1000:.1f} ms per page over {pending} pending faces")
    assert per_page < 5.0


# ------------------------------------------------------------------ the command line


def _cli(library: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def test_review_queue_pages_as_json_and_a_stale_state_is_refused(copy: Path) -> None:
    faces: list[int] = []
    states: dict[int, str] = {}
    after: list[str] = []
    while True:
        shown = _cli(copy, "--user", "erin", "review", "queue", "--limit", "9", "--json", *after)
        assert shown.returncode == 0, shown.stderr
        page = json.loads(shown.stdout)
        faces += [row["face_id"] for row in page["items"]]
        states |= {row["face_id"]: row["state"] for row in page["items"]}
        if page["next_after"] is None:
            break
        after = ["--after", page["next_after"]]
    with Library(copy, read_only=True) as lib:
        assert faces == [i.sighting.face_id for i in lib.review_queue(limit=500).items]
        views = lib.audit.records(action="view.sightings", actor="erin")
        assert sorted(f for r in views for f in r.items["faces"]) == sorted(faces)
    face = faces[0]
    assert _cli(copy, "review", "confirm", str(face), "--expected", states[face]).returncode == 0
    stale = _cli(copy, "review", "reject", str(face), "--expected", states[face])
    assert stale.returncode == 1 and "changed since it was shown" in stale.stderr


def test_a_face_named_by_an_imported_tag_waits_in_the_queue_as_unverified(
    lib: Library, tmp_path: Path
) -> None:
    stranger = next(
        s
        for s in lib.sightings(include_unmatched=True)
        if s.category == "unmatched" and s.path.startswith(str(DISTRACTORS))
    )
    x1, y1, x2, y2 = stranger.xyxy
    w, h = stranger.width_px, stranger.height_px
    rect = "".join(f"{round(v * 65535):04x}" for v in (x1 / w, y1 / h, x2 / w, y2 / h))
    sidecars = tmp_path / "sidecars"
    sidecars.mkdir()
    (sidecars / ".picasa.ini").write_text(
        f"[{Path(stranger.path).name}]\nfaces=rect64({rect}),7\n[Contacts2]\n7=Jack Dorsey;;\n",
        encoding="utf-8",
    )
    imported = lib.import_tags([stranger.path], sidecars=sidecars)
    assert [t.face_id for t in imported.imported] == [stranger.face_id]
    unverified = lib.review_queue(QueueFilter(category="imported (unverified)")).items
    assert [i.sighting.face_id for i in unverified] == [stranger.face_id]
    assert unverified[0].state.startswith("pending:") and unverified[0].sighting.person == (
        "Jack Dorsey"
    )
    assert stranger.face_id in _all_pages(lib, QueueFilter(), QueueSort.FMR, limit=50)
    confirmed = lib.decide(stranger.face_id, "confirm", expected=unverified[0].state)
    assert confirmed.category == "confirmed"  # the tag was the proposal: no force needed
