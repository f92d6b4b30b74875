"""Videos in a scan: cut into segments for the workers, then put back together.

A video is analysed in segments of at most ``SEGMENT_S`` seconds, so several
workers share a long video and a short one is still split among them (down to
``MIN_SEGMENT_S``). Segment boundaries fall on the sampling grid, so the
frames analysed are the same as if one worker had read the whole file.

The segments' tracks are joined across each boundary by the same rule that
continues a track from frame to frame (``FaceTracker.join``), then the whole
video is stored in one transaction: a scan killed part-way through a video
redoes that video from the start and never stores half of it (the resume is
per video, not per segment: the simpler guarantee, at the cost of redoing at
most one video per worker).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import FUSED_FACES
from facesight.errors import MediaError
from facesight.media.images import sha256_of
from facesight.media.video import VideoInfo, probe_video
from facesight.records import Candidate
from facesight.scan.workers import AnalyzedFile, AnalyzedSegment, FileStatus, VideoSegment
from facesight.store.sqlite import FaceRow, MediaRow
from facesight.vision.track import FaceTracker, Track

__all__ = [
    "MIN_SEGMENT_S",
    "SEGMENT_S",
    "AssembledVideo",
    "VideoAssembler",
    "media_row",
    "plan_segments",
    "plan_video",
    "remove_unused_crops",
    "track_descriptors",
    "track_rows",
]

SEGMENT_S = 15.0
"""Longest stretch of video one worker takes at a time. Shorter balances the
workers better at the end of a video; each segment costs a seek and the
decoding from the keyframe before it."""

MIN_SEGMENT_S = 4.0
"""Shortest segment a short video is split into (each costs a seek and some decoding)."""


def plan_video(
    path: str, known: Callable[[str], bool], max_pixels: int, workers: int, rate_fps: float
) -> AnalyzedFile | list[VideoSegment]:
    """A video's segments (``plan_segments``), or the finished result of one whose content
    is ``known`` (by sha256) or that cannot be probed. Hashing and probing are cheap next
    to analysing, so an unreadable video fails at once."""
    try:
        sha = sha256_of(Path(path))
        if known(sha):
            return AnalyzedFile(path, FileStatus.KNOWN, sha)
        info = probe_video(path, max_pixels)
    except MediaError as error:
        return AnalyzedFile(path, FileStatus.FAILED, error=error)
    return plan_segments(path, sha, info.duration_s, workers, rate_fps)


def plan_segments(
    path: str, sha256: str, duration_s: float, workers: int, rate_fps: float
) -> list[VideoSegment]:
    """The segments of one video, in order, covering all of it.

    A multiple of ``workers`` segments of at most ``SEGMENT_S`` (none shorter
    than ``MIN_SEGMENT_S``), so every worker helps to the end; boundaries on the
    ``1 / rate_fps`` sampling grid.
    A video of unknown duration is one segment.
    """
    if not duration_s > 0:
        return [VideoSegment(path, sha256, 0, 1, 0.0, None)]
    workers = max(workers, 1)
    # a multiple of the workers, so none waits idle while another ends the video
    rounds = math.ceil(duration_s / (SEGMENT_S * workers))
    count = max(min(rounds * workers, math.floor(duration_s / MIN_SEGMENT_S)), 1)
    bounds = [round(k * duration_s / count * rate_fps) / rate_fps for k in range(count)]
    ends: list[float | None] = [*bounds[1:], None]
    return [
        VideoSegment(path, sha256, k, count, start, end)
        for k, (start, end) in enumerate(zip(bounds, ends, strict=True))
    ]


@dataclass(frozen=True)
class AssembledVideo:
    """A whole video's tracks, joined across its segments.

    Attributes:
        crop_paths: the crop of each track's best face, parallel to ``tracks``.
        unused_crops: crops of track parts that another part's best face replaced.
        error: the first damage met (the tracks are those of what could be read).
    """

    path: str
    sha256: str
    info: VideoInfo
    tracks: list[Track]
    crop_paths: list[str]
    unused_crops: list[str]
    frames_analyzed: int
    error: MediaError | None

    @property
    def readable(self) -> bool:
        """True when at least one frame was analysed."""
        return self.frames_analyzed > 0


class VideoAssembler:
    """Collects the segments of each video as they arrive; returns a video when whole.

    Args:
        tracker: the tracking rule whose ``join`` continues tracks across boundaries.
    """

    def __init__(self, tracker: FaceTracker | None = None) -> None:
        self.tracker = tracker or FaceTracker()
        self._parts: dict[tuple[str, str], list[AnalyzedSegment]] = {}

    def add(self, part: AnalyzedSegment) -> AssembledVideo | None:
        """Keep ``part``; the assembled video once its last segment is in, else None."""
        key = (part.segment.path, part.segment.sha256)
        parts = self._parts.setdefault(key, [])
        parts.append(part)
        if len(parts) < part.segment.count:
            return None
        del self._parts[key]
        return self._assemble(sorted(parts, key=lambda p: p.segment.index))

    def _assemble(self, parts: list[AnalyzedSegment]) -> AssembledVideo:
        crop_of: dict[int, str] = {}
        for part in parts:
            pairs = zip(part.tracks, part.crop_paths, strict=True)
            crop_of.update({id(track.best): crop for track, crop in pairs})
        cuts = [c for part in parts for c in part.cuts]
        tracks: list[Track] = []
        for part in parts:
            tracks = self.tracker.join(tracks, part.tracks, cuts) if tracks else list(part.tracks)
        crops = [crop_of[id(t.best)] for t in tracks]
        used = set(crops)
        readable = [p for p in parts if p.frames_analyzed > 0]
        first = parts[0].segment
        return AssembledVideo(
            path=first.path,
            sha256=first.sha256,
            info=(readable or parts)[0].info,
            tracks=tracks,
            crop_paths=crops,
            unused_crops=[c for c in crop_of.values() if c not in used],
            frames_analyzed=sum(p.frames_analyzed for p in parts),
            error=next((p.error for p in parts if p.error is not None), None),
        )


def track_descriptors(
    video: AssembledVideo,
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """What identifies each track: (n, d) descriptors (``Track.descriptor``: its best
    faces fused), (n,) qualities and (n,) widths of its best face, (n,) faces fused."""
    tracks = video.tracks
    if not tracks:
        empty = np.zeros(0)
        return np.zeros((0, 128), np.float32), empty, empty, np.zeros(0, np.int64)
    return (
        np.stack([t.descriptor() for t in tracks]).astype(np.float32),
        np.array([t.best.quality for t in tracks], np.float64),
        np.array([t.best.width_px for t in tracks], np.float64),
        np.array([min(t.frames_seen, FUSED_FACES) for t in tracks], np.int64),
    )


def track_rows(
    video: AssembledVideo, descriptors: NDArray[np.float32], candidates: list[list[Candidate]]
) -> list[FaceRow]:
    """One stored face per track: its best frame's face, the track's descriptor and range."""
    rows = []
    for i, (track, crop) in enumerate(zip(video.tracks, video.crop_paths, strict=True)):
        best = track.best
        rows.append(
            FaceRow(
                frame=best.frame,
                face_index=i,
                xyxy=best.xyxy,
                kps5=best.kps5,
                score=best.score,
                embedding=descriptors[i],
                crop_path=crop,
                candidates=candidates[i],
                quality=best.quality,
                quality_reasons=best.quality_reasons,
                time_s=best.time_s,
                start_s=track.start_s,
                end_s=track.end_s,
                frames_seen=track.frames_seen,
            )
        )
    return rows


def media_row(video: AssembledVideo, detector: str, embedder: str) -> MediaRow:
    """The stored record of a scanned video."""
    info = video.info
    return MediaRow(
        sha256=video.sha256,
        kind="video",
        width_px=info.width_px,
        height_px=info.height_px,
        captured_at=info.captured_at,
        gps=info.gps,
        face_count=len(video.tracks),
        detector=detector,
        embedder=embedder,
        duration_s=info.duration_s or None,
    )


def remove_unused_crops(video: AssembledVideo) -> None:
    """Delete the crops no stored track points to (after the video is committed)."""
    for path in video.unused_crops:
        Path(path).unlink(missing_ok=True)
