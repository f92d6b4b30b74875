"""Reading video files: upright frames with presentation timestamps, sampled for analysis.

Decoding is PyAV (FFmpeg), with FFmpeg's own frame threads. A frame's time is
its presentation timestamp (``pts x time_base``) from the stream's first frame, as
a player shows it, not its index over a nominal rate, so variable-frame-rate
phone footage gets true timecodes. Frames are
turned upright from the stream's display matrix (phones record sideways and say
so there).

Sampling (:func:`sample_frames`): every frame is decoded (H.264 and friends
cannot skip), but only some are converted and returned: the first, then one
each ``1 / rate_fps`` seconds, plus the first frame of every scene cut, found
on a 64x36 grey thumbnail of each frame (the mean absolute difference from the
previous thumbnail, in grey levels, over ``cut_threshold``). Tracks bridge the
gaps between samples.

PyAV is the optional ``facesight[video]`` extra, imported on first use: without
it each video file fails on its own (``UnsupportedMediaError`` naming the extra)
and photos scan as before.

Bad input raises the media errors of ``facesight.errors`` naming the file: not a
video or no video stream (``UnsupportedMediaError``), truncated or undecodable
(``CorruptMediaError``), frames over the pixel limit (``ImageTooLargeError``).
A video that breaks part-way returns the frames decoded before the damage and
then raises, so the caller can keep what it has seen or redo the file.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS
from facesight.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    InvalidInputError,
    UnsupportedMediaError,
)
from facesight.timecode import format_timecode

if TYPE_CHECKING:
    import av

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_RATE_FPS",
    "VIDEO_SUFFIXES",
    "VideoFrame",
    "VideoInfo",
    "format_timecode",
    "probe_video",
    "read_frame_at",
    "sample_frames",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg"})
"""File name endings scanned as video (PyAV decodes many more when asked directly)."""


DEFAULT_CUT_THRESHOLD = 30.0
"""Mean absolute grey-level change between thumbnails that counts as a scene cut."""

_THUMB = (64, 36)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about its first video stream."""

    path: str
    width_px: int
    height_px: int
    duration_s: float
    frame_rate: float
    frames: int
    codec: str
    captured_at: str | None = None
    gps: tuple[float, float] | None = None
    container: str = ""  # FFmpeg's demuxer names: "mov,mp4,m4a,3gp,3g2,mj2", "avi", "mpeg"


@dataclass(frozen=True)
class VideoFrame:
    """One decoded, upright RGB frame and when it is shown.

    Attributes:
        index: position in decoding order (0-based).
        time_s: presentation time in seconds from the start of the stream.
        pixels: (H, W, 3) uint8 RGB, rotated upright.
        scene_cut: True when it starts a new shot.
    """

    index: int
    time_s: float
    pixels: NDArray[np.uint8]
    scene_cut: bool


def _require_pyav(path: Path) -> None:
    """Without PyAV (the ``facesight[video]`` extra), ``path`` fails naming the extra."""
    if importlib.util.find_spec("av") is None:
        raise UnsupportedMediaError(
            path, "reading video needs PyAV, which is not installed: install facesight[video]"
        )


def _open(path: Path) -> av.container.InputContainer:
    if path.stat().st_size == 0:
        raise CorruptMediaError(path, "empty file (0 bytes)")
    _require_pyav(path)
    import av

    try:
        # metadata that is not UTF-8 (damaged or foreign tags) is read with U+FFFD in
        # place of bad bytes, not a UnicodeDecodeError (tests/test_fuzz_found.py)
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except av.error.InvalidDataError as exc:
        with path.open("rb") as handle:
            head = handle.read(12)
        if head[4:8] == b"ftyp":  # an MP4/MOV whose index is missing: cut short
            raise CorruptMediaError(
                path, "truncated or damaged: an MP4/MOV file whose index (moov) cannot be read"
            ) from exc
        raise UnsupportedMediaError(path, f"not a video FFmpeg can read ({exc})") from exc
    except av.error.FFmpegError as exc:
        raise CorruptMediaError(path, f"cannot be opened as a video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise UnsupportedMediaError(path, "has no video stream")
    if container.streams.video[0].codec_context is None:
        # a damaged codec tag: FFmpeg opens the file but has no decoder (tests/test_fuzz.py)
        container.close()
        raise UnsupportedMediaError(path, "its video stream is in a codec FFmpeg cannot decode")
    return container


def probe_video(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoInfo:
    """The first video stream's size, duration, rate and frame count (container figures)."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise ImageTooLargeError(path, f"{width}x{height} frames are over the pixel limit")
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = ((container.duration or 0) - (container.start_time or 0)) / 1_000_000
            duration = max(duration, 0.0)
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        tags = {k.lower(): v for k, v in {**stream.metadata, **container.metadata}.items()}
        return VideoInfo(
            str(path),
            width,
            height,
            duration,
            rate,
            int(stream.frames or 0),
            stream.codec.name,
            _capture_time(tags.get("creation_time")),
            _location(tags.get("com.apple.quicktime.location.iso6709") or tags.get("location")),
            container.format.name,
        )
    finally:
        container.close()


def _capture_time(value: str | None) -> str | None:
    """The container's creation time as ISO 8601 seconds (``2019-05-01T12:00:00``), if any."""
    if not value:
        return None
    text = value.strip().rstrip("Z").replace(" ", "T")
    return text.split(".")[0] if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", text) else None


def _location(value: str | None) -> tuple[float, float] | None:
    """(latitude, longitude) from an ISO 6709 tag (``+48.8577+002.2950+035.000/``), if any."""
    found = re.match(r"([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)", value or "")
    if not found:
        return None
    lat, lon = float(found.group(1)), float(found.group(2))
    return (lat, lon) if abs(lat) <= 90 and abs(lon) <= 180 else None


def _upright(frame: av.VideoFrame) -> NDArray[np.uint8]:
    pixels = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    # The display matrix's angle is counter-clockwise; np.rot90 turns counter-clockwise.
    turns = (-round(frame.rotation / 90)) % 4 if frame.rotation else 0
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def sample_frames(
    path: str | Path,
    *,
    rate_fps: float = DEFAULT_RATE_FPS,
    cut_threshold: float = DEFAULT_CUT_THRESHOLD,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    every_frame: bool = False,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Iterator[VideoFrame]:
    """The frames to analyse, in order (see the module docstring).

    Args:
        rate_fps: regular samples per second of footage; higher follows faces
            more closely and costs proportionally more.
        cut_threshold: thumbnail change that marks a scene cut (0-255 grey levels).
        every_frame: return every frame (for measuring what sampling misses).
        start_s, end_s: only frames shown in ``[start_s, end_s)`` (a segment:
            decoding starts at the keyframe before ``start_s``). Samples fall on
            the same ``start_s + k / rate_fps`` grid whatever the segment.

    A frame's ``index`` is its number counted at the stream's nominal rate
    from its presentation time (``round(time_s x rate)``, kept increasing), so
    it is the same whether the video is read whole or in segments.

    Raises:
        MediaError: see the module docstring; frames before the damage were yielded.
    """
    if rate_fps <= 0:
        raise InvalidInputError(f"rate_fps must be positive, got {rate_fps}")
    path = Path(path)
    info = probe_video(path, max_pixels)
    container = _open(path)
    import av

    decoded = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        start = float(stream.start_time * base) if stream.start_time and base else 0.0
        if start_s > 0 and base:
            container.seek(int((start + start_s) / base), stream=stream, backward=True)
        rate = info.frame_rate or 30.0
        previous: NDArray[np.float32] | None = None
        next_time = start_s
        index = -1
        try:
            for frame in container.decode(stream):
                decoded += 1
                time_s = float(frame.time) - start if frame.time is not None else decoded / rate
                if end_s is not None and time_s >= end_s - 1e-6:
                    break
                thumb = frame.reformat(
                    width=_THUMB[0], height=_THUMB[1], format="gray", interpolation="AREA"
                )
                grey = thumb.to_ndarray().astype(np.float32)
                cut = previous is not None and float(np.abs(grey - previous).mean()) > cut_threshold
                previous = grey
                if time_s < start_s - 1e-6:
                    continue  # decoded from the keyframe before the segment: context only
                index = max(index + 1, round(time_s * rate))
                if every_frame or cut or time_s >= next_time - 1e-6:
                    if time_s >= next_time - 1e-6:
                        step = np.floor((time_s - start_s) * rate_fps) + 1
                        next_time = start_s + float(step) / rate_fps
                    yield VideoFrame(index, time_s, _upright(frame), cut)
        except av.error.FFmpegError as exc:
            raise CorruptMediaError(
                path,
                f"undecodable after {format_timecode(max(index, 0) / rate)}"
                f" (truncated or damaged): {exc}",
            ) from exc
        if decoded == 0:
            raise CorruptMediaError(path, "no frame could be decoded")
        shown = max(index, 0) / rate
        if end_s is None and info.duration_s - shown > max(1.0, 2.0 / rate):
            raise CorruptMediaError(
                path,
                f"truncated: frames end at {format_timecode(shown)} of the"
                f" {format_timecode(info.duration_s)} the container announces",
            )
    finally:
        container.close()


def read_frame_at(
    path: str | Path, time_s: float, max_pixels: int = DEFAULT_MAX_PIXELS
) -> NDArray[np.uint8]:
    """The upright frame shown at ``time_s`` (the first frame at or after it).

    Raises:
        MediaError: the video cannot be read, or has no frame that late.
    """
    frames = sample_frames(
        path, max_pixels=max_pixels, every_frame=True, start_s=time_s, end_s=time_s + 10.0
    )
    for frame in frames:
        return frame.pixels
    raise CorruptMediaError(Path(path), f"has no frame at {format_timecode(time_s)}")
