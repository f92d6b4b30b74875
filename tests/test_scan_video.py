"""Scanning video: real clips from ../shared/faces/video, bad video files, a kill mid-video."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from bench.clips import loop_video
from facesight.library.facade import Library
from facesight.media.video import DEFAULT_RATE_FPS, format_timecode
from facesight.scan.collection import ScanEvent
from facesight.scan.video import VideoAssembler, plan_segments
from facesight.scan.workers import AnalyzedSegment
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline, analyze_video

from .paths import GROUP, PEOPLE, REPO, SHARED_FACES
from .test_video import _audio_only as audio_only

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
AUDIENCE_SHOT_S = 7.2  # the clip cuts from the performer to the audience at 7.27 s


def test_the_performer_is_found_with_a_time_range_and_the_audience_is_nobody(
    library: Library,
) -> None:
    library.enroll("Lin-Manuel Miranda", sorted((PEOPLE / "Lin_Manuel_Miranda").glob("*")))
    summary = library.scan([HAMILTON], workers=2)
    assert (summary.videos_scanned, summary.media_scanned) == (1, 1)
    assert 9.1 < summary.footage_s < 9.3 and summary.failures == []
    tracks = library.sightings(include_unmatched=True)
    assert len(tracks) == summary.faces_found >= 8  # the performer and the audience
    found = library.sightings("Lin-Manuel Miranda")
    assert found, "the performer is found"
    for sighting in found:
        assert sighting.kind == "video" and sighting.start_s is not None
        assert sighting.end_s is not None and sighting.time_s is not None
        assert sighting.start_s <= sighting.time_s <= sighting.end_s
        # never the audience (after the cut) nor the pianist (left of the opening wide shot)
        assert sighting.end_s < AUDIENCE_SHOT_S and sighting.xyxy[0] > 150
    close_up = max(found, key=lambda s: (s.end_s or 0) - (s.start_s or 0))
    assert close_up.start_s is not None and close_up.end_s is not None
    assert close_up.start_s < 3.1 and close_up.end_s > 6.8 and (close_up.frames_seen or 0) >= 8
    audience = [t for t in tracks if (t.start_s or 0) > AUDIENCE_SHOT_S]
    assert len(audience) >= 3 and all(t.match is None for t in audience)


STREET = SHARED_FACES / "video" / "facenet-pytorch_video.mp4"


def test_a_blurred_audience_face_is_never_named_and_the_performer_still_is(
    library: Library,
) -> None:
    # issue 11: a 64-px audience face, sharpness 5, became a match for Barack Obama
    library.enroll("Lin-Manuel Miranda", sorted((PEOPLE / "Lin_Manuel_Miranda").glob("*")))
    library.enroll("Barack Obama", sorted((PEOPLE / "Barack_Obama").glob("*"))[:2])
    library.scan([HAMILTON])
    tracks = library.sightings(include_unmatched=True)
    audience = [t for t in tracks if (t.start_s or 0) > AUDIENCE_SHOT_S]
    assert len(audience) >= 3 and all(t.match is None for t in audience)
    assert library.sightings("Barack Obama") == []
    # too poor to be named, but their candidates stay for review, marked as such
    held = [t for t in audience if t.candidates and t.candidates[0].insufficient_quality]
    assert held and all(not c.is_match for t in held for c in t.candidates)
    stage = library.sightings("Lin-Manuel Miranda")
    assert any((s.start_s or 9) < 3.1 and (s.end_s or 0) > 6.8 for s in stage)
    assert all(not c.insufficient_quality for s in stage for c in s.candidates[:1])


def test_a_blurred_pedestrian_is_not_named_with_the_demo_gallery(library: Library) -> None:
    # issue 11: a 44-px blurred pedestrian (quality 0.083) became Alexander Gerst
    library.enroll_folders(PEOPLE, limit=2, largest=True)
    library.scan([STREET])
    named = [t for t in library.sightings(include_unmatched=True) if t.match is not None]
    small = [t for t in named if t.xyxy[2] - t.xyxy[0] < 50]
    assert small == [], [(t.match.person if t.match else None, t.xyxy) for t in small]
    assert library.sightings("Alexander Gerst") == []


def test_sightings_print_timecodes_and_write_evidence_frames(
    library: Library, tmp_path: Path
) -> None:
    library.enroll("Lin-Manuel Miranda", sorted((PEOPLE / "Lin_Manuel_Miranda").glob("*")))
    library.scan([HAMILTON])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "facesight", "--library", str(library.path), "sightings"]
    frames = tmp_path / "evidence"
    shown = subprocess.run(
        [*base, "--frames", str(frames)], env=env, capture_output=True, text=True, check=True
    )
    found = library.sightings("Lin-Manuel Miranda")
    for sighting in found:
        assert sighting.start_s is not None and sighting.end_s is not None
        assert format_timecode(sighting.start_s) in shown.stdout
    written = sorted(frames.glob("*.jpg"))
    assert len(written) == len(found) and "wrote" in shown.stderr
    with av.open(str(written[0])) as image:  # a real JPEG of the video's frame size
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (640, 360)


def test_segments_joined_equal_one_reading_of_the_whole_video(
    detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    pipeline = FacePipeline(detector, embedder)
    whole = analyze_video(HAMILTON, pipeline)
    segments = plan_segments(str(HAMILTON), "sha", whole.info.duration_s, 2, DEFAULT_RATE_FPS)
    step = segments[1].start_s * DEFAULT_RATE_FPS
    assert len(segments) == 2 and step == round(step)  # on the sampling grid
    assembler = VideoAssembler()
    assembled = None
    for segment in reversed(segments):  # arrival order does not matter
        part = analyze_video(HAMILTON, pipeline, start_s=segment.start_s, end_s=segment.end_s)
        tracks = [t.compact() for t in part.tracks]
        crops = [f"crop{segment.index}_{j}" for j in range(len(tracks))]
        done = AnalyzedSegment(segment, part.info, tracks, crops, part.cuts, part.frames_analyzed)
        assembled = assembler.add(done) or assembled
    assert assembled is not None
    want = [(t.start_s, t.end_s, t.frames_seen, t.best.frame) for t in whole.tracks]
    got = [(t.start_s, t.end_s, t.frames_seen, t.best.frame) for t in assembled.tracks]
    assert got == want
    assert (
        len(assembled.crop_paths) == len(got) and assembled.frames_analyzed == whole.frames_analyzed
    )


def _bad_videos(folder: Path) -> dict[str, str]:
    folder.mkdir()
    data = HAMILTON.read_bytes()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "cut_short.mp4").write_bytes(data[: len(data) // 2])  # index at the end: lost
    (folder / "notes.mov").write_text("not a video\n")
    audio_only(folder / "sound.mp4")
    streamable = folder / "streamable.mkv"
    with av.open(str(HAMILTON)) as inp, av.open(str(streamable), "w") as out:
        source = inp.streams.video[0]
        copy = out.add_stream_from_template(source)
        for packet in inp.demux(source):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    whole = streamable.read_bytes()
    (folder / "truncated.mkv").write_bytes(whole[: len(whole) // 2])
    streamable.unlink()
    return {
        "empty.mp4": "corrupt",
        "cut_short.mp4": "corrupt",
        "notes.mov": "unsupported",
        "sound.mp4": "unsupported",
        "truncated.mkv": "corrupt",
    }


def test_bad_videos_get_one_line_each_and_the_scan_goes_on(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "bad"
    expected = _bad_videos(folder)
    shutil.copy(GROUP / "face_recognition_two_people.jpg", folder / "good.jpg")
    summary = library.scan([folder])
    assert {Path(f.path).name: f.kind for f in summary.failures} == expected
    assert {Path(f.path).name: f.kind for f in library.failures()} == expected
    messages = {Path(f.path).name: f.message for f in summary.failures}
    assert "no video stream" in messages["sound.mp4"]
    assert "empty file" in messages["empty.mp4"]
    assert re.search(
        r"truncated: frames end at 00:00:0\d\.\d{3} of the 00:00:09\.\d{3} the container "
        r"announces; the faces before the damage are kept",
        messages["truncated.mkv"],
    ), messages["truncated.mkv"]
    moov = "truncated or damaged: an MP4/MOV file whose index (moov) cannot be read"
    assert moov in messages["cut_short.mp4"]
    # the good image and the readable half of the truncated video are stored
    kinds = [r["kind"] for r in library.store.query("SELECT kind FROM media ORDER BY kind")]
    assert kinds == ["image", "video"]
    half = [s for s in library.sightings(include_unmatched=True) if s.kind == "video"]
    assert half and max(s.end_s or 0 for s in half) < 5.0


def test_too_large_video_frames_are_refused(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", max_pixels=200_000, detector=detector, embedder=embedder) as lib:
        summary = lib.scan([HAMILTON])  # 640 x 360 = 230,400 pixels a frame
    assert [(f.kind, "pixel limit" in f.message) for f in summary.failures] == [("too_large", True)]


def _video_state(db: Path) -> list[tuple[str, int, float, float]]:
    with sqlite3.connect(db) as conn:
        return sorted(
            conn.execute(
                "SELECT m.sha256, f.face_index, ROUND(f.start_s, 3), ROUND(f.end_s, 3)"
                " FROM faces f JOIN media m ON m.id = f.media_id"
            ).fetchall()
        )


@pytest.mark.slow
def test_a_scan_killed_mid_video_redoes_that_video_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    loop_video(HAMILTON, folder / "long.mp4", 6)  # 55 s: several segments
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed, clean = tmp_path / "killed", tmp_path / "clean"

    def scan(library: Path) -> list[str]:
        return [sys.executable, "-m", "facesight", "--library", str(library), "scan", str(folder)]

    process = subprocess.Popen(scan(killed), env=env, stderr=subprocess.DEVNULL)
    crops = killed / "crops"
    deadline = time.monotonic() + 120
    while not any(crops.rglob("*_s*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(crops.rglob("*_s*.jpg")), "a segment finished before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _video_state(killed / "facesight.db") == []  # nothing half-stored
    subprocess.run(scan(killed), env=env, check=True, capture_output=True)
    subprocess.run(scan(clean), env=env, check=True, capture_output=True)
    resumed = _video_state(killed / "facesight.db")
    assert resumed and resumed == _video_state(clean / "facesight.db")


def test_a_long_video_reports_its_segments_as_it_goes(library: Library, tmp_path: Path) -> None:
    clip = loop_video(HAMILTON, tmp_path / "three_times.mp4", 3)  # 27.5 s: shared by workers
    events: list[ScanEvent] = []
    summary = library.scan([clip], workers=2, on_event=events.append)
    parts = [e.part for e in events if e.status == "segment"]
    assert parts and all(part is not None and part[0] < part[1] for part in parts)
    assert [e.status for e in events if e.status != "segment"] == ["scanned"]
    assert summary.videos_scanned == 1 and 27.0 < summary.footage_s < 28.0
