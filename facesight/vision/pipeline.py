"""``FacePipeline``: detect -> align -> quality -> embed for one image. Owns no maths."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS
from facesight.errors import InvalidInputError, MediaError
from facesight.faces import Faces
from facesight.files import atomic_file
from facesight.media.video import VideoFrame, VideoInfo, probe_video, sample_frames
from facesight.quality import FaceQuality, assess_quality
from facesight.vision.align import BOX_KPS5, align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.embedders import DescriptorModel
from facesight.vision.track import FaceTracker, Track, TrackedFace

__all__ = [
    "VIDEO_MIN_FACE_PX",
    "AnalyzedFaces",
    "FacePipeline",
    "VideoAnalysis",
    "analyze_video",
    "crop_face",
    "save_crop",
    "tracked_faces",
]

CROP_MARGIN = 0.25

VIDEO_MIN_FACE_PX = 48.0
"""Smallest face looked for in video frames, in frame pixels.

A 1280x720 frame is then searched in one 640 px pass, without the
full-resolution tiles photos get for 40 px faces: half the detection cost
per frame (``bench/video_throughput.py``), for faces too small to identify
reliably anyway (``docs/video.md``). Smaller frames are searched whole at
full resolution, so faces down to the detector's limit are still found there.
"""
CROP_MAX_SIDE_PX = 256


@dataclass(frozen=True)
class AnalyzedFaces:
    """Every face of one image, left to right, with chips, quality and descriptors.

    Attributes:
        faces: ``Faces`` with ``embedding`` set, ordered by box centre x.
        chips: (n, 150, 150, 3) uint8 aligned chips.
        quality: n quality judgements, parallel to ``faces``.
        embedding: (n, d) float32 descriptors, ``faces.embedding``: never None here,
            since the pipeline describes every face it returns.
    """

    faces: Faces
    chips: NDArray[np.uint8]
    quality: list[FaceQuality]
    embedding: NDArray[np.float32] = field(init=False)

    def __post_init__(self) -> None:
        if self.faces.embedding is None:
            raise InvalidInputError("AnalyzedFaces needs described faces (Faces.embedding set)")
        object.__setattr__(self, "embedding", self.faces.embedding)

    def __len__(self) -> int:
        return len(self.faces)

    def largest(self) -> int:
        """Index of the face with the largest box."""
        return int(np.argmax(self.faces.width_px * self.faces.height_px))


class FacePipeline:
    """Composes the stages that turn pixels into described faces.

    Args:
        detector: finds faces and landmarks.
        embedder: turns aligned chips into descriptors (dlib's, or a registered model's
            cut to its own geometry: ``DescriptorModel.chips_for``).
    """

    def __init__(self, detector: FaceDetector, embedder: DescriptorModel) -> None:
        self.detector = detector
        self.embedder = embedder

    def twin(self) -> FacePipeline:
        """The same models with sessions of their own (opened on first use): a pipeline for
        another thread (``LazyModel.unloaded_copy``)."""
        return FacePipeline(self.detector.unloaded_copy(), self.embedder.unloaded_copy())

    @property
    def detector_version(self) -> str:
        return self.detector.model_version

    @property
    def embedder_version(self) -> str:
        """Names the stored descriptor: the model plus flip-averaging and length."""
        return self.embedder.descriptor_version

    def analyze(self, pixels: NDArray[np.uint8]) -> AnalyzedFaces:
        """Find, align, judge and describe every face in an (H, W, 3) RGB image."""
        return self.analyze_batch([pixels])[0]

    def describe_region(
        self, pixels: NDArray[np.uint8], xyxy: tuple[float, float, float, float]
    ) -> AnalyzedFaces:
        """Describe one box of an (H, W, 3) RGB image as a face, no detector asked.

        For a region a person tagged where the detector found no face: the landmarks are
        the mean layout of detected faces in their boxes (``align.BOX_KPS5``), so the chip
        is as good as the region is tight and upright; its quality is judged as any
        face's (but its pose cannot be judged from placed landmarks), with the detector's
        confidence taken as 1 (nobody detected it) and a warning that says so.
        Raises InvalidInputError for an empty box.
        """
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        if not (x2 > x1 and y2 > y1):
            raise InvalidInputError(f"a face region needs x2 > x1 and y2 > y1, got {xyxy}")
        kps5 = BOX_KPS5 * np.array([x2 - x1, y2 - y1], np.float32) + np.array([x1, y1], np.float32)
        faces = Faces(
            xyxy=np.array([[x1, y1, x2, y2]], np.float32),
            score=np.ones(1, np.float32),
            kps5=kps5[None].astype(np.float32),
        )
        chips = align_faces(pixels, faces.kps5)
        quality = assess_quality(chips[0], x2 - x1, faces.kps5[0], 1.0)
        quality = replace(
            quality,
            warnings=(*quality.warnings, "described from a tagged region: no face detected there"),
        )
        embedding = self.embedder.describe(chips)
        return AnalyzedFaces(faces.with_embedding(embedding), chips, [quality])

    def analyze_batch(
        self, images: list[NDArray[np.uint8]], min_face_px: float | None = None
    ) -> list[AnalyzedFaces]:
        """``analyze`` for several images, describing all their faces in one batch.

        The descriptor network runs on every chip of every image together
        (fuller batches: fewer, larger calls); results are the same as one by one.
        ``min_face_px`` overrides the detector's smallest face for these images.
        """
        found = self.detector.detect_batch(images, min_face_px)
        per_image = []
        model_chips: list[NDArray[np.uint8]] = []
        for pixels, faces in zip(images, found, strict=True):
            centre_x = (faces.xyxy[:, 0] + faces.xyxy[:, 2]) / 2
            faces = faces[np.argsort(centre_x, kind="stable")]
            dlib_chips = align_faces(pixels, faces.kps5)
            per_image.append((faces, dlib_chips))
            # the quality rule reads dlib's chips; the model reads its own (dlib's: the same)
            model_chips.append(self.embedder.chips_for(pixels, faces.kps5, dlib_chips))
        described = self.embedder.describe(np.concatenate(model_chips)) if model_chips else None
        results, start = [], 0
        for faces, image_chips in per_image:
            n = len(faces)
            assert described is not None
            quality = [
                assess_quality(
                    image_chips[i], float(faces.width_px[i]), faces.kps5[i], float(faces.score[i])
                )
                for i in range(n)
            ]
            embedding = described[start : start + n]
            results.append(AnalyzedFaces(faces.with_embedding(embedding), image_chips, quality))
            start += n
        return results


def save_crop(pixels: NDArray[np.uint8], xyxy: NDArray[np.float32], path: Path) -> None:
    """Write a JPEG of the face box with a margin (``crop_face``), atomically.

    Not fsynced: on lfw-dev portraits the fsync took 7 of a crop's 9 ms, a sixth of
    a scan worker's time (``bench/scan_stages.py``, issue 18). A crop is a thumbnail
    cut from its photo; one a power failure loses or empties is named by ``facesight
    doctor`` (crops that rows name but that are missing or empty).
    """
    crop = Image.fromarray(crop_face(pixels, xyxy))
    crop.thumbnail((CROP_MAX_SIDE_PX, CROP_MAX_SIDE_PX))
    with atomic_file(path, durable=False) as handle:
        crop.save(handle, format="JPEG", quality=90)


@dataclass(frozen=True)
class VideoAnalysis:
    """The face tracks of one video (or one segment of it), with each track's best crop.

    Attributes:
        info: the container's figures.
        tracks: every track, by start time.
        crops: (h, w, 3) uint8 crop of each track's best face, parallel to ``tracks``.
        best_frames: the full frame of each track's best face, parallel to ``tracks``,
            only when asked for (``keep_frames``); else empty.
        frames_analyzed: sampled frames that went through the models.
        cuts: times (s) of the scene cuts met.
        error: the damage that ended decoding early, if any: the tracks are
            those of the frames before it.
    """

    info: VideoInfo
    tracks: list[Track]
    crops: list[NDArray[np.uint8]]
    best_frames: list[NDArray[np.uint8]]
    frames_analyzed: int
    cuts: list[float] = field(default_factory=list)
    error: MediaError | None = None


def crop_face(pixels: NDArray[np.uint8], xyxy: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The face box with ``CROP_MARGIN`` around it, clipped to the image."""
    height, width = pixels.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    crop: NDArray[np.uint8] = pixels[
        max(0, int(y1 - my)) : min(height, int(np.ceil(y2 + my))),
        max(0, int(x1 - mx)) : min(width, int(np.ceil(x2 + mx))),
    ].copy()
    return crop


def analyze_video(
    path: str | Path,
    pipeline: FacePipeline,
    *,
    rate_fps: float = DEFAULT_RATE_FPS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    every_frame: bool = False,
    frames_per_batch: int = 16,
    keep_frames: bool = False,
    start_s: float = 0.0,
    end_s: float | None = None,
    tracker: FaceTracker | None = None,
) -> VideoAnalysis:
    """Sample a video (or its ``[start_s, end_s)`` segment), describe its faces, track them.

    Memory holds one batch of frames plus one crop per track, whatever the
    video's length (``keep_frames`` adds one frame per track).

    Raises:
        MediaError: the video cannot be read at all (see ``facesight.media.video``).
            Damage after the first frames ends the analysis early instead,
            with ``error`` set.
    """
    info = probe_video(path, max_pixels)
    tracker = tracker or FaceTracker()
    best: dict[int, tuple[NDArray[np.uint8], NDArray[np.uint8] | None]] = {}
    analyzed = 0
    cuts: list[float] = []
    batch: list[VideoFrame] = []

    def flush() -> None:
        nonlocal analyzed
        results = pipeline.analyze_batch([f.pixels for f in batch], VIDEO_MIN_FACE_PX)
        for frame, faces in zip(batch, results, strict=True):
            if frame.scene_cut:
                cuts.append(frame.time_s)
            tracker.update(tracked_faces(frame, faces), scene_cut=frame.scene_cut)
            for track in tracker.open_tracks:
                face = track.faces[-1]
                if face.frame == frame.index and face is track.best:
                    kept = frame.pixels if keep_frames else None
                    best[id(track)] = (crop_face(frame.pixels, face.xyxy), kept)
        analyzed += len(batch)
        batch.clear()

    error: MediaError | None = None
    frames = sample_frames(
        path,
        rate_fps=rate_fps,
        max_pixels=max_pixels,
        every_frame=every_frame,
        start_s=start_s,
        end_s=end_s,
    )
    try:
        for frame in frames:
            batch.append(frame)
            if len(batch) == frames_per_batch:
                flush()
    except MediaError as exc:
        if analyzed == 0 and not batch:
            raise
        error = exc
    if batch:
        flush()
    tracks = tracker.finish()
    crops = [best[id(t)][0] for t in tracks]
    kept = [f for t in tracks if (f := best[id(t)][1]) is not None]
    return VideoAnalysis(info, tracks, crops, kept, analyzed, cuts, error)


def tracked_faces(frame: VideoFrame, analyzed: AnalyzedFaces) -> list[TrackedFace]:
    """The faces of one analysed video frame, as the tracker takes them."""
    faces = analyzed.faces
    return [
        TrackedFace(
            frame=frame.index,
            time_s=frame.time_s,
            xyxy=faces.xyxy[i],
            kps5=faces.kps5[i],
            score=float(faces.score[i]),
            quality=analyzed.quality[i].score,
            embedding=analyzed.embedding[i],
            quality_reasons="; ".join(analyzed.quality[i].reasons),
        )
        for i in range(len(faces))
    ]
