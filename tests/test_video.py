"""Reading video: real clips from ../shared/faces/video, and every kind of bad video file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from facesight.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    MediaError,
    UnsupportedMediaError,
)
from facesight.media.video import format_timecode, probe_video, read_frame_at, sample_frames

from .paths import SHARED_FACES

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
FULL_HD = SHARED_FACES / "video" / "facenet-pytorch_video.mp4"


def test_probe_reads_the_container() -> None:
    info = probe_video(HAMILTON)
    assert (info.width_px, info.height_px, info.codec) == (640, 360, "h264")
    assert info.frames == 275 and abs(info.frame_rate - 29.97) < 0.01
    assert 9.0 < info.duration_s < 9.3


def test_every_frame_has_its_presentation_time() -> None:
    frames = list(sample_frames(HAMILTON, every_frame=True))
    assert len(frames) == 275 and frames[0].time_s == 0.0
    steps = np.diff([f.time_s for f in frames])
    assert np.all(steps > 0) and abs(float(np.median(steps)) - 1 / 29.97) < 1e-4
    assert frames[0].pixels.shape == (360, 640, 3) and frames[0].pixels.dtype == np.uint8


def test_sampling_keeps_the_rate_and_the_scene_cuts() -> None:
    sampled = list(sample_frames(HAMILTON, rate_fps=4.0))
    every = list(sample_frames(HAMILTON, every_frame=True))
    regular = [f for f in sampled if not f.scene_cut]
    assert 35 <= len(regular) <= 38  # 9.2 s at 4 per second
    # each regular sample is the first frame at or after a step of the 0.25 s grid
    steps = [int(f.time_s * 4.0 + 1e-6) for f in regular]
    assert steps == sorted(set(steps))
    late = [f.time_s - step / 4.0 for f, step in zip(regular, steps, strict=True)]
    assert max(late) < 1 / 29.97 + 1e-6
    cuts = [f.index for f in every if f.scene_cut]
    assert cuts and {f.index for f in sampled if f.scene_cut} == set(cuts)
    assert len(list(sample_frames(FULL_HD, rate_fps=2.0))) == 9  # 4.2 s of 1080p


def test_segments_read_the_same_frames_as_the_whole_video() -> None:
    whole = [(f.index, f.time_s, f.scene_cut) for f in sample_frames(HAMILTON, rate_fps=4.0)]
    parts = [
        (f.index, f.time_s, f.scene_cut)
        for start, end in [(0.0, 3.0), (3.0, 6.5), (6.5, None)]  # on the 0.25 s grid
        for f in sample_frames(HAMILTON, rate_fps=4.0, start_s=start, end_s=end)
    ]
    assert parts == whole and any(cut for _, _, cut in whole)


def test_a_frame_is_read_at_its_timecode() -> None:
    every = list(sample_frames(HAMILTON, every_frame=True))
    wanted = every[150]
    assert np.array_equal(read_frame_at(HAMILTON, wanted.time_s), wanted.pixels)
    with pytest.raises(CorruptMediaError, match=r"no frame at 00:01:00\.000"):
        read_frame_at(HAMILTON, 60.0)


def test_timecodes_read_like_a_player() -> None:
    assert format_timecode(83.4) == "00:01:23.400"
    assert format_timecode(3600 + 0.0004) == "01:00:00.000"
    assert format_timecode(-1) == "00:00:00.000"


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        frame.pts = 0
        frame.time_base = Fraction(1, 8000)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize(
    ("name", "make", "error", "says"),
    [
        ("empty.mp4", lambda p: p.write_bytes(b""), CorruptMediaError, "empty file"),
        ("notes.mp4", lambda p: p.write_text("no video\n"), UnsupportedMediaError, "not a video"),
        (
            "truncated.mp4",
            lambda p: p.write_bytes(HAMILTON.read_bytes()[:200_000]),
            CorruptMediaError,
            "truncated or damaged: an MP4/MOV file whose index (moov) cannot be read",
        ),
        ("sound.m4a", _audio_only, UnsupportedMediaError, "has no video stream"),
    ],
)
def test_bad_video_files_raise_a_media_error_naming_the_file(
    tmp_path: Path, name: str, make: object, error: type[MediaError], says: str
) -> None:
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    with pytest.raises(error) as raised:
        list(sample_frames(path))
    assert type(raised.value) is error
    assert raised.value.path == str(path) and says in raised.value.problem


def test_frames_over_the_pixel_limit_are_refused() -> None:
    with pytest.raises(ImageTooLargeError, match="640x360 frames are over the pixel limit"):
        probe_video(HAMILTON, max_pixels=100_000)
