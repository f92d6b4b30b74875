"""Following faces through a shot: sampled frames' faces -> tracks, one identity each.

Association is greedy on descriptor distance, gated by position and size: a
face joins an open track when it is within ``max_distance`` of the track's
recent faces (the mean of its last three descriptors), its centre has moved
at most ``max_shift`` box widths since the track's last face, and its box is
at most ``max_scale`` times larger or smaller. Two people crossing therefore
stay two tracks (their descriptors are far apart), and a track whose
descriptor drifts past ``max_distance`` is ended and a new one begun. Tracks
end at scene cuts and after ``max_gap_s`` without a face; the same person in a
later shot is a new track, identified on its own.

Why not a tracking library: measured with ``bench/tracker_comparison.py`` on
the shared clips, norfair with our descriptor distance made no fewer or purer
tracks at 4 samples/s and split people more when every frame is read (it
drops a track after two missed detections), pins ``numpy<2``, and box
overlap, what ByteTrack-style trackers rely on, fails at 4 samples/s (a
person's boxes overlap by a median IoU of 0.39 between samples). The size
gate comes from the same bench: the same person's box never changed more than
1.28x between samples, and without it the performer's profile was continued
by an audience face.

A track is identified from its best faces (:meth:`Track.descriptor`: the
centroid of its ``best`` highest-quality faces, as ``match.fuse`` makes
templates), so a blurred or turned frame does not decide who it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import FUSED_FACES, fuse

__all__ = ["FUSED_FACES", "FaceTracker", "Track", "TrackedFace"]


@dataclass(frozen=True, eq=False)
class TrackedFace:
    """One face of one sampled frame."""

    frame: int
    time_s: float
    xyxy: NDArray[np.float32]
    kps5: NDArray[np.float32]
    score: float
    quality: float
    embedding: NDArray[np.float32]
    quality_reasons: str = ""

    @property
    def width_px(self) -> float:
        return float(self.xyxy[2] - self.xyxy[0])

    @property
    def centre(self) -> NDArray[np.float32]:
        centre: NDArray[np.float32] = ((self.xyxy[:2] + self.xyxy[2:]) / 2).astype(np.float32)
        return centre


@dataclass(eq=False)
class Track:
    """A face followed through consecutive sampled frames of one shot.

    Attributes:
        faces: the faces kept, in time order (all of them until :meth:`compact`).
        dropped: faces seen but no longer kept (``compact``).
    """

    faces: list[TrackedFace] = field(default_factory=list)
    dropped: int = 0

    @property
    def frames_seen(self) -> int:
        """Sampled frames the face was found in."""
        return len(self.faces) + self.dropped

    def compact(self, best: int = FUSED_FACES) -> Track:
        """The same track keeping only what identifying and joining it needs.

        Kept: the first face, the last three (``recent``) and the ``best``
        highest-quality ones (``descriptor``, ``best``), so a long track costs
        the same memory as a short one.
        """
        ranked = sorted(self.faces, key=_rank, reverse=True)[:best]
        keep = {id(f) for f in [self.faces[0], *self.faces[-3:], *ranked]}
        kept = [f for f in self.faces if id(f) in keep]
        return Track(kept, self.dropped + len(self.faces) - len(kept))

    @property
    def start_s(self) -> float:
        return self.faces[0].time_s

    @property
    def end_s(self) -> float:
        return self.faces[-1].time_s

    @property
    def best(self) -> TrackedFace:
        """The highest-quality face (the larger one on a tie)."""
        return max(self.faces, key=_rank)

    def descriptor(self, best: int = FUSED_FACES) -> NDArray[np.float32]:
        """The centroid of the ``best`` highest-quality faces' descriptors."""
        ranked = sorted(self.faces, key=_rank, reverse=True)
        return fuse(np.stack([f.embedding for f in ranked[:best]]))

    def recent(self) -> NDArray[np.float32]:
        vectors = np.stack([f.embedding for f in self.faces[-3:]])
        recent: NDArray[np.float32] = vectors.mean(axis=0)
        return recent


def _rank(face: TrackedFace) -> tuple[float, float]:
    return (face.quality, face.width_px)


def _start(track: Track) -> tuple[float, float]:
    return (track.start_s, float(track.faces[0].xyxy[0]))


class FaceTracker:
    """Builds tracks frame by frame (see the module docstring).

    Args:
        max_distance: largest descriptor distance for a face to continue a track.
        max_shift: largest centre movement between samples, in box widths.
        max_scale: largest change of box width between samples (a ratio >= 1).
        max_gap_s: a track with no face for longer than this ends.
    """

    def __init__(
        self,
        *,
        max_distance: float = 0.55,
        max_shift: float = 1.5,
        max_scale: float = 1.5,
        max_gap_s: float = 1.0,
    ) -> None:
        self.max_distance = max_distance
        self.max_shift = max_shift
        self.max_scale = max_scale
        self.max_gap_s = max_gap_s
        self._open: list[Track] = []
        self._done: list[Track] = []

    def update(self, faces: list[TrackedFace], *, scene_cut: bool = False) -> None:
        """Add one sampled frame's faces (all with the same time)."""
        if scene_cut:
            self._close_all()
        if faces:
            now = faces[0].time_s
            stale = [t for t in self._open if now - t.end_s > self.max_gap_s]
            self._done.extend(stale)
            self._open = [t for t in self._open if t not in stale]
        taken_faces: set[int] = set()
        for ti, fi in self._associate(self._open, faces):
            self._open[ti].faces.append(faces[fi])
            taken_faces.add(fi)
        for fi, face in enumerate(faces):
            if fi not in taken_faces:
                self._open.append(Track([face]))

    def _associate(
        self,
        tracks: list[Track],
        faces: list[TrackedFace],
        allow: Callable[[int, int], bool] | None = None,
    ) -> list[tuple[int, int]]:
        """(track, face) pairs: greedy on descriptor distance, within the gates."""
        pairs = []
        for ti, track in enumerate(tracks):
            last, recent = track.faces[-1], track.recent()
            for fi, face in enumerate(faces):
                if allow is not None and not allow(ti, fi):
                    continue
                shift = float(np.linalg.norm(face.centre - last.centre)) / max(last.width_px, 1.0)
                widths = sorted((max(face.width_px, 1.0), max(last.width_px, 1.0)))
                if shift > self.max_shift or widths[1] > self.max_scale * widths[0]:
                    continue
                distance = float(np.linalg.norm(face.embedding - recent))
                if distance <= self.max_distance:
                    pairs.append((distance, ti, fi))
        taken_tracks: set[int] = set()
        taken_faces: set[int] = set()
        joined = []
        for _, ti, fi in sorted(pairs):
            if ti in taken_tracks or fi in taken_faces:
                continue
            joined.append((ti, fi))
            taken_tracks.add(ti)
            taken_faces.add(fi)
        return joined

    def join(
        self, earlier: list[Track], later: list[Track], cuts: Sequence[float] = ()
    ) -> list[Track]:
        """Tracks of two consecutive segments of a video, continued across their boundary.

        A later track continues an earlier one under the same rule as a face
        continues a track (its first face against the earlier track's last
        faces), when it starts within ``max_gap_s`` of the earlier one's end and
        no scene cut (``cuts``, times in seconds) lies between them. The result is
        what one tracker reading both segments in one go would have made.
        """

        def allow(ti: int, fi: int) -> bool:
            end, start = earlier[ti].end_s, later[fi].start_s
            return 0 < start - end <= self.max_gap_s and not any(end < c <= start for c in cuts)

        pairs = self._associate(earlier, [t.faces[0] for t in later], allow)
        joined = {fi: ti for ti, fi in pairs}
        merged = {
            ti: Track(earlier[ti].faces + later[fi].faces, earlier[ti].dropped + later[fi].dropped)
            for fi, ti in joined.items()
        }
        tracks = [merged.get(ti, t) for ti, t in enumerate(earlier)]
        tracks += [t for fi, t in enumerate(later) if fi not in joined]
        return sorted(tracks, key=_start)

    @property
    def open_tracks(self) -> list[Track]:
        """The tracks that may still continue."""
        return list(self._open)

    def _close_all(self) -> None:
        self._done.extend(self._open)
        self._open = []

    def finish(self) -> list[Track]:
        """Every track, ordered by start time."""
        self._close_all()
        return sorted(self._done, key=_start)
