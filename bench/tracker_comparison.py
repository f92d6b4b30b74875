"""Face tracking: facesight's ``FaceTracker`` against library trackers, same detections.

Each clip is decoded at every frame once; every frame's faces are detected,
aligned, judged and described once (and cached in ``--cache``). The 4 fps run
takes the frames ``facesight.media.video.sample_frames`` would pick (the first, one
each 1/4 s, every scene cut) out of the same list, so every tracker at every
rate sees exactly the same faces. Trackers:

* ``ours``: ``facesight.vision.track.FaceTracker()`` with its defaults (greedy on
  descriptor distance <= 0.55, gated by a centre shift <= 1.5 box widths, gap 1 s).
* ``ours+...``: bench-only variants of its position gate (``GateVariant``;
  facesight is not changed): ``+iou`` a box overlapping the last one (IoU >= 0.1)
  passes whatever its shift; ``+velocity`` the shift is also measured from the
  constant-velocity prediction of the last two faces; ``+wide`` a face within
  0.45 of the track's descriptor may move 4 widths; ``+size`` a box whose width
  differs from the last by more than 1.5x is gated out; ``+size+wide`` both.
* ``norfair``: ``norfair.Tracker`` on the box's two corners (its Kalman filter
  predicts where the box goes), with a custom distance: the descriptor distance
  to the mean of the track's last three descriptors, gated by position against
  the *predicted* box (IoU > 0 or centre shift <= 1.5 widths); threshold 0.55,
  ``hit_counter_max`` = 1 s of samples, ``initialization_delay=0`` (every face
  belongs to a track at once, as in ours). ``norfair-fast``: the same with a
  livelier Kalman filter (Q=10, velocity variance 1e4) for fast movers.
* ``norfair-iou``: norfair's stock ``"iou"`` distance (1 - IoU with the predicted
  box), threshold 0.7 (IoU >= 0.3), no descriptor.
* ``bytetrack``: ``supervision.ByteTrack`` (IoU + Kalman, no descriptor),
  ``lost_track_buffer`` = 1 s. Faces it leaves without an id (a new track's
  first frame) count as not covered.

A scene cut starts a fresh library tracker (ours closes its tracks itself).

Measures, with no hand labels, against two sets of pseudo identities built from
the every-frame run. Descriptor labels: every face clustered by descriptor
(average-linkage agglomerative, cut at 0.5: same person < ~0.5, different
> ~0.6; average linkage does not chain two
people through one blurred face as single linkage does, nor split one person
over a noisy frame as complete linkage does). A check of the pseudo labels
comes with them: at every frame, a box and the next frame's box overlapping by
IoU >= 0.5 (mutual best) are almost surely the same person; the share of such
pairs given one pseudo identity is printed. On poor faces (the facenet clip's
median quality is 0.05) one person's descriptors spread over several
clusters and poor faces of different people fall into one, so tracklet labels
come with them (``tracklet_identities``): every-frame IoU tracklets, merged by
descriptor centroid (<= 0.5) when they never share a frame. Their own
weakness: a face that turns or shrinks quickly breaks its IoU chain, and a
wrong merge glues two people, so a "switch" can be a label error; the report
names the ones checked by eye. At every frame the tracklet labels favour the
IoU trackers (the 4 fps runs see one frame in 6-7 and are not circular). Per
tracker:

* tracks (and single-face tracks), coverage (faces given a track);
* fragmentation: tracks per pseudo identity, averaged over identities, next to
  the least possible ("segments": the identity's faces cut at scene cuts and
  at gaps over 1 s, which every tracker here must split);
* purity: share of multi-face tracks whose faces have one pseudo identity;
  ``far``: share of multi-face tracks with two faces > 0.6 apart in descriptor;
  switches: consecutive faces of a track with different pseudo identities;
* tracking time (the trackers only, not the models).

A synthetic check follows (``crossing``): real descriptors of two different
people from the clips, on boxes that (a) cross each other (one hidden by the
other at the crossing frame), (b) swap places between two samples, (c) keep
one smooth path while the person in it changes (descriptor drift). Wanted: no
track holds both people.

Library trackers are optional imports; install them where they do not fight
the project's pins (norfair 2.3.0 pins ``numpy<2`` and ``rich<15``), e.g.
``pip install --no-deps --target /tmp/trk norfair==2.3.0 filterpy==1.4.5
supervision==0.30.9 pydeprecate defusedxml pyyaml requests certifi
charset-normalizer idna urllib3`` and run with ``PYTHONPATH=/tmp/trk``.

Usage: python bench/tracker_comparison.py [--cache DIR] [--models DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from facesight.vision.track import FaceTracker, Track, TrackedFace

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "faces" / "video"
CLIPS = {
    "hamilton": VIDEOS / "face_recognition_short_hamilton_clip.mp4",
    "facenet": VIDEOS / "facenet-pytorch_video.mp4",
}
RATE_FPS = 4.0
MAX_GAP_S = 1.0
MAX_DISTANCE = 0.55
MAX_SHIFT = 1.5
CLUSTER_CUT = 0.5
FAR = 0.6
TRACKLET_GAP = 3
NORFAIR_FAST_Q = 10.0
NORFAIR_FAST_VEL = 1e4

Key = tuple[int, int]  # (frame index, face index within the frame)


@dataclass
class Frame:
    index: int
    time_s: float
    scene_cut: bool
    faces: list[TrackedFace]


# --------------------------------------------------------------------------- faces


def describe_clip(path: Path, cache: Path, models: Path) -> list[Frame]:
    """Every frame's faces, from the cache or from the models (then cached)."""
    cached = cache / f"{path.stem}.npz"
    if not cached.exists():
        from facesight.media.video import sample_frames
        from facesight.vision.detect import FaceDetector
        from facesight.vision.embed import FaceEmbedder
        from facesight.vision.pipeline import FacePipeline, tracked_faces

        pipeline = FacePipeline(FaceDetector(), FaceEmbedder(cache_dir=models))
        frames: list[Frame] = []
        batch: list[Any] = []
        started = time.perf_counter()

        def flush() -> None:
            for video_frame, found in zip(
                batch, pipeline.analyze_batch([f.pixels for f in batch]), strict=True
            ):
                frames.append(
                    Frame(
                        video_frame.index,
                        video_frame.time_s,
                        video_frame.scene_cut,
                        tracked_faces(video_frame, found),
                    )
                )
            batch.clear()

        for video_frame in sample_frames(path, every_frame=True):
            batch.append(video_frame)
            if len(batch) == 8:
                flush()
        if batch:
            flush()
        print(
            f"  {path.name}: {len(frames)} frames described "
            f"in {time.perf_counter() - started:.1f} s"
        )
        faces = [(f, i, face) for f in frames for i, face in enumerate(f.faces)]
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(
            cached,
            frame_index=np.array([f.index for f in frames]),
            frame_time=np.array([f.time_s for f in frames]),
            frame_cut=np.array([f.scene_cut for f in frames]),
            face_frame=np.array([f.index for f, _, _ in faces], dtype=np.int64),
            xyxy=np.array([x.xyxy for _, _, x in faces], dtype=np.float32).reshape(-1, 4),
            kps5=np.array([x.kps5 for _, _, x in faces], dtype=np.float32).reshape(-1, 5, 2),
            score=np.array([x.score for _, _, x in faces], dtype=np.float32),
            quality=np.array([x.quality for _, _, x in faces], dtype=np.float32),
            embedding=np.array([x.embedding for _, _, x in faces], dtype=np.float32).reshape(
                -1, 128
            ),
        )
    data = np.load(cached)
    by_frame: dict[int, list[TrackedFace]] = defaultdict(list)
    times = dict(zip(data["frame_index"].tolist(), data["frame_time"].tolist(), strict=True))
    for j, index in enumerate(data["face_frame"].tolist()):
        by_frame[index].append(
            TrackedFace(
                frame=index,
                time_s=times[index],
                xyxy=data["xyxy"][j],
                kps5=data["kps5"][j],
                score=float(data["score"][j]),
                quality=float(data["quality"][j]),
                embedding=data["embedding"][j],
            )
        )
    return [
        Frame(int(i), float(t), bool(c), by_frame.get(int(i), []))
        for i, t, c in zip(data["frame_index"], data["frame_time"], data["frame_cut"], strict=True)
    ]


def sampled(frames: list[Frame], rate_fps: float = RATE_FPS) -> list[Frame]:
    """The frames ``sample_frames(rate_fps=...)`` returns (its rule, applied to every frame)."""
    kept, next_time = [], 0.0
    for frame in frames:
        if frame.scene_cut or frame.time_s >= next_time:
            if frame.time_s >= next_time:
                next_time = frame.time_s + 1.0 / rate_fps
            kept.append(frame)
    return kept


def iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    w = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = w * h
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


# ------------------------------------------------------------------------ trackers


class GateVariant(FaceTracker):
    """``FaceTracker`` with a wider position gate (bench only; facesight is unchanged).

    ``min_iou``: a face whose box overlaps the track's last box by at least this
    passes the gate whatever its centre shift (ties on descriptor distance go to
    the larger overlap). ``velocity``: the shift is also measured from where the
    track's last two faces say it is now (constant velocity), and the smaller
    shift counts, so a face walking across the frame stays gated in.
    ``wide_shift``: a face within ``wide_distance`` of the track's descriptor
    (surely the same person) may move up to this many box widths.
    ``max_scale``: a face whose box width differs from the track's last by more
    than this factor is gated out (one face changes size by at most 1.28x
    between 4 fps samples on these clips; a performer's 167 px profile followed
    by a 58 px audience face is 2.9x).
    """

    def __init__(
        self,
        *,
        min_iou: float = 0.0,
        velocity: bool = False,
        wide_shift: float = 0.0,
        wide_distance: float = 0.45,
        max_scale: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_scale = max_scale
        self.min_iou = min_iou
        self.velocity = velocity
        self.wide_shift = wide_shift
        self.wide_distance = wide_distance

    def _shift(self, track: Track, face: TrackedFace) -> float:
        last = track.faces[-1]
        width = max(last.width_px, 1.0)
        shift = float(np.linalg.norm(face.centre - last.centre)) / width
        if self.velocity and len(track.faces) > 1:
            prev = track.faces[-2]
            dt = last.time_s - prev.time_s
            if dt > 0:
                ahead = last.centre + (last.centre - prev.centre) * (face.time_s - last.time_s) / dt
                shift = min(shift, float(np.linalg.norm(face.centre - ahead)) / width)
        return shift

    def update(self, faces: list[TrackedFace], *, scene_cut: bool = False) -> None:
        if scene_cut:
            self._close_all()
        if faces:
            now = faces[0].time_s
            stale = [t for t in self._open if now - t.end_s > self.max_gap_s]
            self._done.extend(stale)
            self._open = [t for t in self._open if t not in stale]
        pairs = []
        for ti, track in enumerate(self._open):
            last = track.faces[-1]
            recent = track.recent()
            for fi, face in enumerate(faces):
                overlap = iou(face.xyxy, last.xyxy) if self.min_iou > 0 else 0.0
                shift = self._shift(track, face)
                distance = float(np.linalg.norm(face.embedding - recent))
                gated_in = (
                    shift <= self.max_shift
                    or (self.min_iou > 0 and overlap >= self.min_iou)
                    or (shift <= self.wide_shift and distance <= self.wide_distance)
                )
                if self.max_scale > 0:
                    scale = max(face.width_px, last.width_px) / max(
                        min(face.width_px, last.width_px), 1.0
                    )
                    gated_in = gated_in and scale <= self.max_scale
                if gated_in and distance <= self.max_distance:
                    pairs.append((distance - 0.05 * overlap, ti, fi))
        taken_tracks: set[int] = set()
        taken_faces: set[int] = set()
        for _, ti, fi in sorted(pairs):
            if ti in taken_tracks or fi in taken_faces:
                continue
            self._open[ti].faces.append(faces[fi])
            taken_tracks.add(ti)
            taken_faces.add(fi)
        for fi, face in enumerate(faces):
            if fi not in taken_faces:
                self._open.append(Track([face]))


def run_ours(frames: list[Frame], rate: float, **variant: Any) -> list[list[Key]]:
    common: dict[str, Any] = {
        "max_distance": MAX_DISTANCE,
        "max_shift": MAX_SHIFT,
        "max_gap_s": MAX_GAP_S,
    }
    tracker = GateVariant(**variant, **common) if variant else FaceTracker(**common)
    keys = {id(face): (frame.index, i) for frame in frames for i, face in enumerate(frame.faces)}
    for frame in frames:
        tracker.update(frame.faces, scene_cut=frame.scene_cut)
    return [[keys[id(f)] for f in t.faces] for t in tracker.finish()]


def run_ours_iou(frames: list[Frame], rate: float) -> list[list[Key]]:
    return run_ours(frames, rate, min_iou=0.1)


def run_ours_velocity(frames: list[Frame], rate: float) -> list[list[Key]]:
    return run_ours(frames, rate, velocity=True)


def run_ours_wide(frames: list[Frame], rate: float) -> list[list[Key]]:
    return run_ours(frames, rate, wide_shift=4.0, wide_distance=0.45)


def run_ours_size(frames: list[Frame], rate: float) -> list[list[Key]]:
    return run_ours(frames, rate, max_scale=1.5)


def run_ours_size_wide(frames: list[Frame], rate: float) -> list[list[Key]]:
    return run_ours(frames, rate, max_scale=1.5, wide_shift=4.0, wide_distance=0.45)


def _norfair_run(
    frames: list[Frame], rate: float, *, descriptor: bool, fast: bool = False
) -> list[list[Key]]:
    from norfair import Detection, Tracker
    from norfair.distances import iou as nf_iou
    from norfair.filter import OptimizedKalmanFilterFactory

    recent: dict[int, list[NDArray[np.float32]]] = {}
    hit_max = max(1, round(MAX_GAP_S * rate))

    def combined(detection: Any, obj: Any) -> float:
        box = detection.points.reshape(4)
        predicted = obj.estimate.reshape(4)
        overlap = 1.0 - float(nf_iou(box[None], predicted[None])[0, 0])
        width = max(float(predicted[2] - predicted[0]), 1.0)
        shift = (
            float(np.linalg.norm((box[:2] + box[2:]) / 2 - (predicted[:2] + predicted[2:]) / 2))
            / width
        )
        if overlap <= 0.0 and shift > MAX_SHIFT:
            return 10.0
        mean = np.mean(recent[id(obj)][-3:], axis=0)
        return float(np.linalg.norm(detection.embedding - mean))

    def make() -> Any:
        logging.disable(logging.WARNING)  # norfair logs a speed hint for Python distances
        try:
            if descriptor:
                return Tracker(
                    distance_function=combined,
                    filter_factory=(
                        OptimizedKalmanFilterFactory(
                            Q=NORFAIR_FAST_Q, vel_variance=NORFAIR_FAST_VEL
                        )
                        if fast
                        else OptimizedKalmanFilterFactory()
                    ),
                    distance_threshold=MAX_DISTANCE,
                    hit_counter_max=hit_max,
                    initialization_delay=0,
                    past_detections_length=0,
                )
            return Tracker(
                distance_function="iou",
                distance_threshold=0.7,
                hit_counter_max=hit_max,
                initialization_delay=0,
                past_detections_length=0,
            )
        finally:
            logging.disable(logging.NOTSET)

    tracker = make()
    tracks: dict[int, list[Key]] = {}
    alive: dict[int, Any] = {}  # keeps objects alive so id() stays unique
    for frame in frames:
        if frame.scene_cut:
            tracker = make()
        detections = [
            Detection(
                points=face.xyxy.reshape(2, 2).astype(np.float64),
                data=(frame.index, i),
                embedding=face.embedding,
            )
            for i, face in enumerate(frame.faces)
        ]
        tracker.update(detections)
        for obj in tracker.tracked_objects:
            key = obj.last_detection.data
            if key[0] != frame.index:
                continue
            track = tracks.setdefault(id(obj), [])
            alive[id(obj)] = obj
            if not track or track[-1] != key:
                track.append(key)
                recent.setdefault(id(obj), []).append(obj.last_detection.embedding)
    return list(tracks.values())


def run_norfair(frames: list[Frame], rate: float) -> list[list[Key]]:
    return _norfair_run(frames, rate, descriptor=True)


def run_norfair_fast(frames: list[Frame], rate: float) -> list[list[Key]]:
    return _norfair_run(frames, rate, descriptor=True, fast=True)


def run_norfair_iou(frames: list[Frame], rate: float) -> list[list[Key]]:
    return _norfair_run(frames, rate, descriptor=False)


def run_bytetrack(frames: list[Frame], rate: float) -> list[list[Key]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import supervision as sv

    def make() -> Any:
        return sv.ByteTrack(
            lost_track_buffer=round(30 * MAX_GAP_S), frame_rate=rate, minimum_consecutive_frames=1
        )

    tracker = make()
    generation = 0
    tracks: dict[tuple[int, int], list[Key]] = defaultdict(list)
    for frame in frames:
        if frame.scene_cut:
            tracker, generation = make(), generation + 1
        n = len(frame.faces)
        detections = sv.Detections(
            xyxy=np.array([f.xyxy for f in frame.faces], dtype=np.float32).reshape(n, 4),
            confidence=np.array([f.score for f in frame.faces], dtype=np.float32),
            class_id=np.zeros(n, dtype=int),
            data={"face": np.arange(n)},
        )
        out = tracker.update_with_detections(detections)
        for tid, fi in zip(out.tracker_id, out.data.get("face", []), strict=True):
            tracks[(generation, int(tid))].append((frame.index, int(fi)))
    return list(tracks.values())


def available() -> dict[str, Any]:
    runners = {
        "ours": run_ours,
        "ours+iou": run_ours_iou,
        "ours+velocity": run_ours_velocity,
        "ours+wide": run_ours_wide,
        "ours+size": run_ours_size,
        "ours+size+wide": run_ours_size_wide,
    }
    try:
        import norfair  # noqa: F401

        runners.update(
            {
                "norfair": run_norfair,
                "norfair-fast": run_norfair_fast,
                "norfair-iou": run_norfair_iou,
            }
        )
    except ImportError:
        print("norfair not importable: skipped")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import supervision  # noqa: F401
        runners["bytetrack"] = run_bytetrack
    except ImportError:
        print("supervision not importable: skipped")
    return runners


# ------------------------------------------------------------------------- metrics


def pseudo_identities(frames: list[Frame]) -> dict[Key, int]:
    keys = [(f.index, i) for f in frames for i in range(len(f.faces))]
    vectors = np.stack([face.embedding for f in frames for face in f.faces])
    labels = fcluster(linkage(pdist(vectors), method="average"), CLUSTER_CUT, criterion="distance")
    return dict(zip(keys, labels.tolist(), strict=True))


def tracklet_identities(frames: list[Frame]) -> dict[Key, int]:
    """Every-frame IoU tracklets, then tracklets merged by descriptor.

    Between frames up to ``TRACKLET_GAP`` apart (never over a scene cut), a box
    overlapping a tracklet's last box by IoU >= 0.5 continues it (greedy,
    largest overlap first): at 25-30 fps a face moves a few pixels a frame, so
    this is near certain. Tracklets are then merged, closest descriptor
    centroids first, while the centroids are <= ``CLUSTER_CUT`` apart and the
    two never share a frame (nobody is in a frame twice).
    """
    members: list[list[Key]] = []
    last: list[tuple[int, NDArray[np.float32]]] = []  # (frame position, box) per tracklet
    open_: list[int] = []
    for n, frame in enumerate(frames):
        if frame.scene_cut:
            open_ = []
        open_ = [t for t in open_ if n - last[t][0] <= TRACKLET_GAP]
        pairs = sorted(
            (
                (iou(face.xyxy, last[t][1]), t, i)
                for t in open_
                for i, face in enumerate(frame.faces)
            ),
            key=lambda p: -p[0],
        )
        used_t: set[int] = set()
        used_f: set[int] = set()
        for overlap, t, i in pairs:
            if overlap < 0.5 or t in used_t or i in used_f:
                continue
            members[t].append((frame.index, i))
            last[t] = (n, frame.faces[i].xyxy)
            used_t.add(t)
            used_f.add(i)
        for i, face in enumerate(frame.faces):
            if i not in used_f:
                members.append([(frame.index, i)])
                last.append((n, face.xyxy))
                open_.append(len(members) - 1)
    emb = {(f.index, i): face.embedding for f in frames for i, face in enumerate(f.faces)}
    keys = [list(m) for m in members]
    seen = [{k[0] for k in m} for m in members]
    sums = [np.sum([emb[k] for k in m], axis=0) for m in members]
    while True:
        best: tuple[float, int, int] | None = None
        for a in range(len(keys)):
            ca = sums[a] / len(keys[a])
            for b in range(a + 1, len(keys)):
                if seen[a] & seen[b]:
                    continue
                d = float(np.linalg.norm(ca - sums[b] / len(keys[b])))
                if d <= CLUSTER_CUT and (best is None or d < best[0]):
                    best = (d, a, b)
        if best is None:
            break
        _, a, b = best
        keys[a] += keys.pop(b)
        seen[a] |= seen.pop(b)
        sums[a] = sums[a] + sums.pop(b)
    return {k: n for n, group in enumerate(keys) for k in group}


def label_check(frames: list[Frame], ids: dict[Key, int]) -> tuple[int, float]:
    """Mutual-best IoU >= 0.5 links between consecutive frames, and the share with one label."""
    links = same = 0
    for prev, cur in itertools.pairwise(frames):
        if cur.scene_cut or not prev.faces or not cur.faces:
            continue
        m = np.array([[iou(a.xyxy, b.xyxy) for b in cur.faces] for a in prev.faces])
        for i in range(m.shape[0]):
            j = int(np.argmax(m[i]))
            if m[i, j] >= 0.5 and int(np.argmax(m[:, j])) == i:
                links += 1
                same += ids[(prev.index, i)] == ids[(cur.index, j)]
    return links, same / max(links, 1)


def segments(frames: list[Frame], ids: dict[Key, int]) -> dict[int, int]:
    """Least tracks per identity: its faces cut at scene cuts and gaps over ``MAX_GAP_S``."""
    last: dict[int, float] = {}
    count: dict[int, int] = defaultdict(int)
    cut_since: set[int] = set()
    for frame in frames:
        if frame.scene_cut:
            cut_since = set(last)
        for i in range(len(frame.faces)):
            who = ids[(frame.index, i)]
            if who not in last or frame.time_s - last[who] > MAX_GAP_S or who in cut_since:
                count[who] += 1
                cut_since.discard(who)
            last[who] = frame.time_s
    return count


def measure(
    frames: list[Frame], tracks: list[list[Key]], ids: dict[Key, int], seconds: float
) -> dict[str, Any]:
    emb = {(f.index, i): face.embedding for f in frames for i, face in enumerate(f.faces)}
    total = len(emb)
    covered = sum(len(t) for t in tracks)
    per_id: dict[int, set[int]] = defaultdict(set)
    for n, track in enumerate(tracks):
        for key in track:
            per_id[ids[key]].add(n)
    least = segments(frames, ids)
    multi = [t for t in tracks if len(t) > 1]
    pure = sum(len({ids[k] for k in t}) == 1 for t in multi)
    far = sum(float(pdist(np.stack([emb[k] for k in t])).max()) > FAR for t in multi)
    switches = sum(ids[a] != ids[b] for t in multi for a, b in itertools.pairwise(t))
    return {
        "tracks": len(tracks),
        "single_face_tracks": len(tracks) - len(multi),
        "coverage": covered / max(total, 1),
        "fragmentation": float(np.mean([len(v) for v in per_id.values()])) if per_id else 0.0,
        "least_fragmentation": float(np.mean([least[k] for k in per_id])) if per_id else 0.0,
        "purity": pure / max(len(multi), 1),
        "far_tracks": far / max(len(multi), 1),
        "switches": switches,
        "ms_per_frame": 1000 * seconds / max(len(frames), 1),
        "seconds": seconds,
    }


# ----------------------------------------------------------------------- synthetic


def synthetic(
    frames_by_clip: dict[str, list[Frame]], ids_by_clip: dict[str, dict[Key, int]]
) -> tuple[dict[str, list[Frame]], dict[str, dict[Key, str]], float]:
    """Two real people on made-up box paths (see the module docstring).

    The two are the descriptor-label identities, among those with 12 or more
    faces of quality >= 0.3, whose centroids are farthest apart.
    """
    pool: list[list[NDArray[np.float32]]] = []
    for clip, frames in frames_by_clip.items():
        by_id: dict[int, list[NDArray[np.float32]]] = defaultdict(list)
        for f in frames:
            for i, face in enumerate(f.faces):
                if face.quality >= 0.3:
                    by_id[ids_by_clip[clip][(f.index, i)]].append(face.embedding)
        pool += [v for v in by_id.values() if len(v) >= 12]
    pool.sort(key=len, reverse=True)
    centres = [np.mean(p, axis=0) for p in pool]
    _, ia, ib = max(
        (float(np.linalg.norm(centres[i] - centres[j])), i, j)
        for i in range(len(pool))
        for j in range(i + 1, len(pool))
    )
    a, b = pool[ia], pool[ib]
    step = len(a) // 12, len(b) // 12
    desc_a = [a[k * step[0]] for k in range(12)]
    desc_b = [b[k * step[1]] for k in range(12)]
    w = 60.0

    def made(x: float, y: float, vec: NDArray[np.float32], t: int) -> TrackedFace:
        box = np.array([x, y, x + w, y + w], dtype=np.float32)
        return TrackedFace(t, t / RATE_FPS, box, np.zeros((5, 2), np.float32), 0.99, 0.8, vec)

    def frame(t: int, people: list[tuple[float, str]]) -> Frame:
        vec = {"A": desc_a[t], "B": desc_b[t]}
        return Frame(t, t / RATE_FPS, False, [made(x, 150, vec[p], t) for x, p in people])

    scenarios: dict[str, list[Frame]] = {}
    labels: dict[str, dict[Key, str]] = {}
    # (a) cross: A left->right, B right->left, 40 px a sample on one row; at t=6 they
    # coincide and only the front one (A) is detected.
    scenarios["cross"] = [
        frame(t, [(100 + 40 * t, "A")] if t == 6 else [(100 + 40 * t, "A"), (580 - 40 * t, "B")])
        for t in range(12)
    ]
    # (b) swap: two people 70 px apart, still; between t=5 and t=6 they swap places.
    scenarios["swap"] = [
        frame(t, [(100.0, "A"), (170.0, "B")] if t < 6 else [(100.0, "B"), (170.0, "A")])
        for t in range(12)
    ]
    # (c) drift: one smooth path (20 px a sample); A until t=5, B from t=6.
    scenarios["drift"] = [frame(t, [(100 + 20 * t, "A" if t < 6 else "B")]) for t in range(12)]
    for name, frames in scenarios.items():
        labels[name] = {
            (f.index, i): ("A" if any(x.embedding is v for v in desc_a) else "B")
            for f in frames
            for i, x in enumerate(f.faces)
        }
    return scenarios, labels, float(np.linalg.norm(np.mean(a, 0) - np.mean(b, 0)))


# ---------------------------------------------------------------------------- main


def fmt_row(name: str, m: dict[str, Any], t: dict[str, Any]) -> str:
    """One table row: identity measures as ``descriptor labels / tracklet labels``."""
    return (
        f"| {name} | {m['tracks']} ({m['single_face_tracks']}) | {m['coverage']:.2f} | "
        f"{m['fragmentation']:.2f} / {t['fragmentation']:.2f} | "
        f"{m['least_fragmentation']:.2f} / {t['least_fragmentation']:.2f} | "
        f"{m['purity']:.2f} / {t['purity']:.2f} | {m['switches']} / {t['switches']} | "
        f"{m['far_tracks']:.2f} | {m['ms_per_frame']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facesight-tracker-bench"))
    parser.add_argument("--models", type=Path, default=Path("/tmp/fsmodels"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runners = available()
    results: dict[str, Any] = {}
    frames_by_clip: dict[str, list[Frame]] = {}
    ids_by_clip: dict[str, dict[Key, int]] = {}
    for clip, path in CLIPS.items():
        every = describe_clip(path, args.cache, args.models)
        ids = pseudo_identities(every)
        tids = tracklet_identities(every)
        frames_by_clip[clip], ids_by_clip[clip] = every, ids
        links, agree = label_check(every, ids)
        n_faces = sum(len(f.faces) for f in every)
        quality = np.array([face.quality for f in every for face in f.faces])
        width = np.array([face.width_px for f in every for face in f.faces])
        sizes, tsizes = np.bincount(list(ids.values())), np.bincount(list(tids.values()))
        print(
            f"\n## {clip}: {len(every)} frames, {n_faces} faces "
            f"(median width {np.median(width):.0f} px, median quality {np.median(quality):.2f}); "
            "descriptor labels: "
            f"{len(set(ids.values()))} identities ({int((sizes >= 10).sum())} with >= 10 faces), "
            f"{links} sure IoU links of which {agree:.3f} inside one identity; tracklet labels: "
            f"{len(set(tids.values()))} identities ({int((tsizes >= 10).sum())} with >= 10 faces)"
        )
        results[clip] = {
            "frames": len(every),
            "faces": n_faces,
            "median_quality": float(np.median(quality)),
            "descriptor_identities": len(set(ids.values())),
            "tracklet_identities": len(set(tids.values())),
            "label_links": links,
            "label_agreement": agree,
        }
        for label, frames, rate in (
            ("4 fps", sampled(every), RATE_FPS),
            ("every frame", every, round(len(every) / (every[-1].time_s - every[0].time_s + 1e-9))),
        ):
            print(
                f"\n### {clip}, {label}: {len(frames)} frames, "
                f"{sum(len(f.faces) for f in frames)} faces (descriptor / tracklet labels)\n"
            )
            print(
                "| tracker | tracks (single) | coverage | tracks per identity | least | purity | "
                "switches | far > 0.6 | ms/frame |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for name, run in runners.items():
                best = float("inf")
                for _ in range(3):
                    started = time.perf_counter()
                    tracks = run(frames, rate)
                    best = min(best, time.perf_counter() - started)
                m = measure(frames, tracks, ids, best)
                t = measure(frames, tracks, tids, best)
                results[clip].setdefault(label, {})[name] = {
                    "descriptor_labels": m,
                    "tracklet_labels": t,
                }
                print(fmt_row(name, m, t))
    scenarios, labels, apart = synthetic(frames_by_clip, ids_by_clip)
    print(f"\n## synthetic (two real people, centroids {apart:.2f} apart; wanted: 0 mixed)\n")
    print("| scenario | " + " | ".join(runners) + " |")
    print("|---|" + "---|" * len(runners))
    results["synthetic"] = {}
    for name, frames in scenarios.items():
        cells = []
        for tname, run in runners.items():
            tracks = run(frames, RATE_FPS)
            covered = sum(len(t) for t in tracks)
            mixed = sum(len({labels[name][k] for k in t}) > 1 for t in tracks)
            cells.append(
                f"{len(tracks)} tracks, {mixed} mixed"
                + (f", {covered}/{len(labels[name])} faces" if covered < len(labels[name]) else "")
            )
            results["synthetic"].setdefault(name, {})[tname] = {
                "tracks": len(tracks),
                "mixed": mixed,
                "covered": covered,
            }
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
