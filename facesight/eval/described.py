"""Describing labelled images once: the subject's face per image, cached on disk.

Labelled data (LFW-style folders, pair lists) has one subject per image. The
subject is the face nearest the image centre (LFW crops are centred on it),
unless ``choose="largest"``. Descriptors are cached in a SQLite file keyed by
the image's absolute path, size, modification time and the pipeline's
versions and engines (``provider``), so a second evaluation of the same data
takes seconds and a changed model, engine or file is described again.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError, MediaError
from facesight.media.images import load_image
from facesight.quality import FaceQuality
from facesight.vision.pipeline import AnalyzedFaces, FacePipeline

__all__ = ["DescribedImage", "DescriptorCache", "describe_images"]


@dataclass(frozen=True)
class DescribedImage:
    """The subject's descriptor and quality, or None when no face was found.

    ``error`` names the problem when the file could not be read at all.
    """

    path: str
    descriptor: NDArray[np.float32] | None
    quality_score: float | None
    error: str | None = None

    @property
    def found(self) -> bool:
        return self.descriptor is not None


class DescriptorCache:
    """A SQLite file of subject descriptors (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS described (key TEXT PRIMARY KEY, "
            "descriptor BLOB, quality REAL, error TEXT)"
        )

    def close(self) -> None:
        self._conn.close()

    def get(self, key: str) -> DescribedImage | None:
        row = self._conn.execute(
            "SELECT descriptor, quality, error FROM described WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        vector = None if row[0] is None else np.frombuffer(row[0], "<f4").astype(np.float32)
        return DescribedImage(key.split("\t")[0], vector, row[1], row[2])

    def put(self, key: str, item: DescribedImage) -> None:
        blob = None if item.descriptor is None else item.descriptor.astype("<f4").tobytes()
        self._conn.execute(
            "INSERT OR REPLACE INTO described VALUES (?, ?, ?, ?)",
            (key, blob, item.quality_score, item.error),
        )

    def commit(self) -> None:
        self._conn.commit()


_FIRST_ENGINES = "onnxruntime:CPUExecutionProvider|onnxruntime:CPUExecutionProvider"


def _key(path: Path, versions: str) -> str:
    stat = path.stat()
    return f"{path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}\t{versions}"


def _subject(analyzed: AnalyzedFaces, shape: tuple[int, ...], choose: str) -> int:
    if choose == "largest":
        return analyzed.largest()
    xyxy = analyzed.faces.xyxy
    middle = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    centre = np.array([shape[1] / 2, shape[0] / 2])
    return int(np.argmin(((middle - centre) ** 2).sum(1)))


def _describe_one(pipeline: FacePipeline, path: Path, choose: str) -> DescribedImage:
    try:
        pixels = load_image(path).pixels
    except MediaError as error:
        return DescribedImage(str(path), None, None, error.problem)
    analyzed = pipeline.analyze(pixels)
    if len(analyzed) == 0:
        return DescribedImage(str(path), None, None)
    index = _subject(analyzed, pixels.shape, choose)
    quality: FaceQuality = analyzed.quality[index]
    return DescribedImage(str(path), analyzed.embedding[index], quality.score)


def describe_images(
    paths: Sequence[Path],
    pipeline: FacePipeline,
    *,
    cache: DescriptorCache | None = None,
    choose: str = "central",
    on_progress: Callable[[int], None] | None = None,
) -> list[DescribedImage]:
    """The subject of every image, in order, from the cache where it can be.

    Args:
        choose: ``central`` (the face nearest the image centre) or ``largest``.
        on_progress: called with 1 after each image.
    """
    if choose not in ("central", "largest"):
        raise InvalidInputError(f"choose must be 'central' or 'largest', got {choose!r}")
    # the engines too: OpenVINO's bfloat16 descriptors share float32's version (they are
    # comparable), but an evaluation must not mix them. ONNX Runtime on the CPU, the only
    # engine before, keeps the keys it had, so the caches it filled stay valid.
    versions = f"{pipeline.detector_version}|{pipeline.embedder_version}|{choose}"
    engines = f"{pipeline.detector.provider}|{pipeline.embedder.provider}"
    if engines != _FIRST_ENGINES:
        versions += f"|{engines}"
    results = []
    for count, path in enumerate(paths, 1):
        key = _key(path, versions) if cache is not None and path.exists() else None
        item = cache.get(key) if cache is not None and key is not None else None
        if item is None:
            item = _describe_one(pipeline, path, choose)
            if cache is not None and key is not None:
                cache.put(key, item)
                if count % 200 == 0:
                    cache.commit()
        results.append(
            DescribedImage(os.fspath(path), item.descriptor, item.quality_score, item.error)
        )
        if on_progress is not None:
            on_progress(1)
    if cache is not None:
        cache.commit()
    return results
