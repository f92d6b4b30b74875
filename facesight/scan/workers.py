"""The analysing side of a scan: hash, decode, detect, align, describe, crop.

It runs in worker processes (one model session of one thread each: on 2
cores, two single-threaded processes analyse ~1.7x the images/s of one
process using both cores, which loses time to ONNX Runtime's thread
synchronisation; ``docs/speed.md``), or in the calling process for small
scans. A worker gets a few files at a time, hashes each, skips content the
library already holds (it reads the database, never writes it), decodes the
rest and describes all their faces in one batch, writes the crops, and
returns plain arrays: no pixels travel back, so the parent's memory does not
grow with image sizes.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_RATE_FPS
from facesight.errors import MediaError
from facesight.face_models import ModelSpec
from facesight.media.images import LoadedImage, load_image, sha256_of
from facesight.media.video import VideoInfo
from facesight.store.known_content import KnownContent
from facesight.vision.detect import FaceDetector
from facesight.vision.embedders import make_embedder
from facesight.vision.models.dlib_resnet import load_dlib_resnet_onnx
from facesight.vision.pipeline import AnalyzedFaces, FacePipeline, analyze_video, save_crop
from facesight.vision.track import Track

__all__ = [
    "AnalyzedFile",
    "AnalyzedSegment",
    "ContentCheck",
    "FileAnalyzer",
    "FileStatus",
    "PipelineSpec",
    "Task",
    "VideoSegment",
    "analyze_in_worker",
    "start_worker",
]


@dataclass(frozen=True)
class PipelineSpec:
    """How to build the same pipeline in another process (picklable).

    ``detector`` and ``embedder`` are keyword arguments of ``FaceDetector`` and
    ``make_embedder``; ``model`` the registered model (None: dlib's); workers always
    run their models on one thread.
    """

    detector: dict[str, Any]
    embedder: dict[str, Any]
    model: ModelSpec | None = None

    @classmethod
    def of(cls, pipeline: FacePipeline) -> PipelineSpec:
        """The spec that rebuilds ``pipeline``'s models with the same settings."""
        detector, embedder = pipeline.detector, pipeline.embedder
        return cls(
            detector={
                "min_score": detector.min_score,
                "nms_iou": detector.nms_iou,
                "max_side_px": detector.max_side_px,
                "min_face_px": detector.min_face_px,
                "device": detector.device,
            },
            embedder={
                "cache_dir": embedder.cache_dir,
                "batch_size": embedder.batch_size,
                "device": embedder.device,
            },
            model=embedder.spec,
        )

    def prepare(self) -> None:
        """Convert the descriptor network into the model cache here, once, when the cache
        holds none (a fresh library): the scanning process no longer opens the models,
        so otherwise every worker would convert it at the same time."""
        cache = self.embedder.get("cache_dir")
        if (
            self.model is None
            and cache is not None
            and not any(Path(cache).glob("dlib_resnet_*.onnx"))
        ):
            load_dlib_resnet_onnx(Path(cache))

    def build(self) -> FacePipeline:
        detector = FaceDetector(**(self.detector | {"intra_op_threads": 1}))
        embedder = make_embedder(self.model, **(self.embedder | {"intra_op_threads": 1}))
        return FacePipeline(detector, embedder)


class FileStatus(StrEnum):
    """What a worker made of one file (``AnalyzedFile.status``)."""

    KNOWN = "known"  # content already in the library, described by the current model
    ANALYZED = "analyzed"
    FAILED = "failed"  # ``error`` says why


@dataclass
class AnalyzedFile:
    """What a worker learnt about one file (everything but pixels).

    ``status`` is ``known`` (content already in the library, described by the
    current model), ``analyzed`` or ``failed`` (``error`` says why).
    """

    path: str
    status: FileStatus
    sha256: str = ""
    error: MediaError | None = None
    width_px: int = 0
    height_px: int = 0
    captured_at: str | None = None
    gps: tuple[float, float] | None = None
    xyxy: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    kps5: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))
    score: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    embedding: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 128), np.float32))
    quality: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    quality_reasons: list[str] = field(default_factory=list)
    crop_paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.score)


@dataclass(frozen=True)
class VideoSegment:
    """One stretch ``[start_s, end_s)`` of a video: a worker task.

    A long video is cut into segments so that several workers analyse it at
    once; ``index`` of ``count`` says which part this is.
    """

    path: str
    sha256: str
    index: int
    count: int
    start_s: float
    end_s: float | None


@dataclass
class AnalyzedSegment:
    """The face tracks of one video segment (no pixels: crops are on disk).

    ``crop_paths`` is parallel to ``tracks`` (each track's best face);
    ``error`` is damage that ended the segment early (its tracks are kept).
    """

    segment: VideoSegment
    info: VideoInfo
    tracks: list[Track]
    crop_paths: list[str]
    cuts: list[float]
    frames_analyzed: int
    error: MediaError | None = None


class ContentCheck(Protocol):
    """Whether content is already in the library (``store.known_content.KnownContent``)."""

    def known(self, sha256: str, embedder: str) -> bool: ...
    def close(self) -> None: ...


Task = list[str] | VideoSegment
"""What a worker is given: a few image files, or one video segment."""


class FileAnalyzer:
    """Analyses batches of files for one library (see the module docstring).

    Args:
        pipeline: the models.
        database: the library's SQLite file or PostgreSQL URL, read to skip known content;
            or anything that answers ``known(sha256, embedder)`` and ``close()`` (a
            distributed scan's worker asks its own store); None (the ``embed`` export)
            skips nothing.
        crops_dir: where face crops are written (``<sha[:2]>/<sha>_<i>.jpg``);
            None writes none.
        max_pixels: images (and video frames) with more pixels are refused.
        rate_fps: analysed video frames per second of footage, besides scene cuts.
    """

    def __init__(
        self,
        pipeline: FacePipeline,
        database: Path | str | ContentCheck | None,
        crops_dir: Path | None,
        max_pixels: int,
        rate_fps: float = DEFAULT_RATE_FPS,
    ) -> None:
        self.pipeline = pipeline
        self.crops_dir = crops_dir
        self.max_pixels = max_pixels
        self.rate_fps = rate_fps
        self._known_content: ContentCheck | None = (
            KnownContent(database) if isinstance(database, Path | str) else database
        )

    def close(self) -> None:
        if self._known_content is not None:
            self._known_content.close()

    def _known(self, sha: str) -> bool:
        if self._known_content is None:
            return False
        return self._known_content.known(sha, self.pipeline.embedder_version)

    def analyze(self, paths: list[str]) -> list[AnalyzedFile]:
        """Every file of ``paths``, in order; bad files come back ``failed``."""
        results: list[AnalyzedFile] = []
        loaded: list[tuple[AnalyzedFile, LoadedImage]] = []
        for path in paths:
            try:
                sha = sha256_of(Path(path))
                if self._known(sha):
                    results.append(AnalyzedFile(path, FileStatus.KNOWN, sha))
                    continue
                image = load_image(Path(path), self.max_pixels)
            except MediaError as error:
                results.append(AnalyzedFile(path, FileStatus.FAILED, error=error))
                continue
            result = AnalyzedFile(path, FileStatus.ANALYZED, sha)
            results.append(result)
            loaded.append((result, image))
        described = self.pipeline.analyze_batch([image.pixels for _, image in loaded])
        for (result, image), analyzed in zip(loaded, described, strict=True):
            self._fill(result, image, analyzed)
        return results

    def analyze_segment(self, segment: VideoSegment) -> AnalyzedSegment:
        """Track the faces of one video segment and write each track's best crop.

        Raises:
            MediaError: the segment cannot be read at all.
        """
        video = analyze_video(
            segment.path,
            self.pipeline,
            rate_fps=self.rate_fps,
            max_pixels=self.max_pixels,
            start_s=segment.start_s,
            end_s=segment.end_s,
        )
        paths = []
        assert self.crops_dir is not None, "video segments come from scans, which keep crops"
        for j, crop in enumerate(video.crops):
            name = f"{segment.sha256}_s{segment.index}_{j}.jpg"
            path = self.crops_dir / segment.sha256[:2] / name
            save_crop(crop, np.array([0, 0, crop.shape[1], crop.shape[0]], np.float32), path)
            paths.append(os.fspath(path))
        return AnalyzedSegment(
            segment,
            video.info,
            [t.compact() for t in video.tracks],
            paths,
            video.cuts,
            video.frames_analyzed,
            video.error,
        )

    def run(self, task: Task) -> list[AnalyzedFile] | AnalyzedSegment:
        """One task: a few image files, or one video segment (a failed segment comes back
        with no tracks and its ``error``)."""
        if isinstance(task, list):
            return self.analyze(task)
        try:
            return self.analyze_segment(task)
        except MediaError as error:
            return AnalyzedSegment(task, _no_info(task.path), [], [], [], 0, error)

    def _fill(self, result: AnalyzedFile, image: LoadedImage, analyzed: AnalyzedFaces) -> None:
        faces = analyzed.faces
        result.width_px, result.height_px = image.width_px, image.height_px
        result.captured_at, result.gps = image.captured_at, image.gps
        result.xyxy, result.kps5, result.score = faces.xyxy, faces.kps5, faces.score
        result.embedding = analyzed.embedding
        result.quality = np.array([q.score for q in analyzed.quality], np.float64)
        result.quality_reasons = ["; ".join(q.reasons) for q in analyzed.quality]
        if self.crops_dir is None:
            return
        for i in range(len(faces)):
            crop = self.crops_dir / result.sha256[:2] / f"{result.sha256}_{i}.jpg"
            save_crop(image.pixels, faces.xyxy[i], crop)
            result.crop_paths.append(os.fspath(crop))


_WORKER: FileAnalyzer | None = None


def _no_info(path: str) -> VideoInfo:
    return VideoInfo(path, 0, 0, 0.0, 0.0, 0, "")


def start_worker(
    spec: PipelineSpec,
    database: Path | str | None,
    crops_dir: Path | None,
    max_pixels: int,
    rate_fps: float,
) -> None:
    """Process-pool initializer: build this worker's models and database reader."""
    global _WORKER
    _exit_with_parent()
    pipeline = spec.build()
    pipeline.detector.load()
    pipeline.embedder.load()
    _WORKER = FileAnalyzer(pipeline, database, crops_dir, max_pixels, rate_fps)


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """End this worker when the scanning process dies, even by ``kill -9``.

    A pool worker waits on a queue whose other end it also holds, so it would
    never see its parent go; it would linger, holding a core, until the machine
    restarts. A daemon thread notices the re-parenting instead.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="facesight-parent-watch", daemon=True).start()


def analyze_in_worker(task: Task) -> list[AnalyzedFile] | AnalyzedSegment:
    """Process-pool task: a few image files or a video segment, with this worker's models."""
    assert _WORKER is not None, "start_worker() runs first in every worker"
    return _WORKER.run(task)
