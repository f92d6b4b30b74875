"""Scanning a collection into the store: resumable by media sha256.

Each media file is committed in one transaction with all its faces and
candidates, so a scan killed at any point (even ``kill -9``) resumes with no
lost and no duplicated faces: content already in the store is skipped (a
renamed or copied file only gains a path), anything not committed is redone.
Hashing and decoding run one or two files ahead in a thread, overlapping
with inference. Bad files are recorded and reported, never fatal.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.errors import MediaError
from facesight.media import DEFAULT_MAX_PIXELS, LoadedImage, find_media, load_image, sha256_of
from facesight.pipeline import AnalyzedFaces, FacePipeline, save_crop
from facesight.records import Candidate, MediaFailure, ScanSummary
from facesight.store import FaceRow, MediaRow, Store

__all__ = ["Matcher", "ScanEvent", "ScanOptions", "scan_collection"]

_LOOKAHEAD = 3

Matcher = Callable[[NDArray[np.float32], NDArray[np.float64]], list[list[Candidate]]]
"""Ranks enrolled people for (n, d) descriptors of faces of (n,) qualities: the library's
calibrated ``match_faces``."""


@dataclass(frozen=True)
class ScanOptions:
    """Knobs of a scan.

    Attributes:
        max_pixels: images with more pixels are refused (decompression bombs).
        stop_on_error: raise at the first bad file instead of recording it and going on.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    stop_on_error: bool = False


@dataclass(frozen=True)
class ScanEvent:
    """Progress of one file: ``status`` is scanned, skipped or failed."""

    path: str
    status: str
    faces: int = 0
    matched: int = 0
    failure: MediaFailure | None = None


@dataclass(frozen=True)
class _Prepared:
    path: Path
    sha256: str
    image: LoadedImage | None  # None when the content is already in the store


def _prepare(path: Path, known: frozenset[str], max_pixels: int) -> _Prepared:
    sha = sha256_of(path)
    image = None if sha in known else load_image(path, max_pixels)
    return _Prepared(path, sha, image)


def _prepared_stream(
    paths: list[Path], known: frozenset[str], max_pixels: int
) -> Iterator[_Prepared | MediaError]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="facesight-decode") as pool:
        pending: deque[Future[_Prepared]] = deque()
        for path in paths:
            pending.append(pool.submit(_prepare, path, known, max_pixels))
            if len(pending) > _LOOKAHEAD:
                yield _resolve(pending.popleft())
        while pending:
            yield _resolve(pending.popleft())


def _resolve(future: Future[_Prepared]) -> _Prepared | MediaError:
    try:
        return future.result()
    except MediaError as error:
        return error


def scan_collection(
    roots: Iterable[str | Path],
    *,
    store: Store,
    pipeline: FacePipeline,
    match: Matcher,
    crops_dir: Path,
    options: ScanOptions = ScanOptions(),
    on_start: Callable[[int], None] | None = None,
    on_event: Callable[[ScanEvent], None] | None = None,
) -> ScanSummary:
    """Scan files and folders (recursively) into ``store``; return the counts."""
    started = time.perf_counter()
    summary = ScanSummary()
    paths: list[Path] = []
    for item in find_media(roots):
        if isinstance(item, MediaError):
            _report(store, summary, item, options, on_event)
        else:
            paths.append(item)
    if on_start:
        on_start(len(paths))
    # Content described by an older model is analysed again (and replaced).
    known = frozenset(
        r["sha256"]
        for r in store.query(
            "SELECT sha256 FROM media WHERE embedder = ?", (pipeline.embedder_version,)
        )
    )
    for prepared in _prepared_stream(paths, known, options.max_pixels):
        summary.files_seen += 1
        if isinstance(prepared, MediaError):
            _report(store, summary, prepared, options, on_event)
            continue
        event = _store_one(store, pipeline, match, crops_dir, prepared, options)
        _count(summary, event)
        if on_event:
            on_event(event)
    summary.seconds = time.perf_counter() - started
    return summary


def _report(
    store: Store,
    summary: ScanSummary,
    error: MediaError,
    options: ScanOptions,
    on_event: Callable[[ScanEvent], None] | None,
) -> None:
    failure = MediaFailure.from_error(error)
    store.record_failure(failure)
    summary.failures.append(failure)
    if on_event:
        on_event(ScanEvent(failure.path, "failed", failure=failure))
    if options.stop_on_error:
        raise error


def _count(summary: ScanSummary, event: ScanEvent) -> None:
    if event.status == "skipped":
        summary.media_skipped += 1
        return
    summary.media_scanned += 1
    summary.faces_found += event.faces
    summary.faces_matched += event.matched
    if event.faces == 0:
        summary.media_without_faces += 1


def _store_one(
    store: Store,
    pipeline: FacePipeline,
    match: Matcher,
    crops_dir: Path,
    prepared: _Prepared,
    options: ScanOptions,
) -> ScanEvent:
    path = os.path.abspath(prepared.path)
    existing = store.media_id(prepared.sha256, pipeline.embedder_version)
    if existing is not None:  # known before the scan, or a copy met earlier in this scan
        store.add_media_path(existing, path)
        return ScanEvent(path, "skipped")
    if prepared.image is None:  # known at start but erased meanwhile: decode after all
        prepared = _Prepared(prepared.path, prepared.sha256, load_image(path, options.max_pixels))
    assert prepared.image is not None
    analyzed = pipeline.analyze(prepared.image.pixels)
    rows = _face_rows(analyzed, prepared, match, crops_dir)
    store.save_media(path, _media_row(prepared, pipeline, len(rows)), rows)
    matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
    return ScanEvent(path, "scanned", faces=len(rows), matched=matched)


def _media_row(prepared: _Prepared, pipeline: FacePipeline, face_count: int) -> MediaRow:
    image = prepared.image
    assert image is not None
    return MediaRow(
        sha256=prepared.sha256,
        kind="image",
        width_px=image.width_px,
        height_px=image.height_px,
        captured_at=image.captured_at,
        gps=image.gps,
        face_count=face_count,
        detector=pipeline.detector_version,
        embedder=pipeline.embedder_version,
    )


def _face_rows(
    analyzed: AnalyzedFaces,
    prepared: _Prepared,
    match: Matcher,
    crops_dir: Path,
) -> list[FaceRow]:
    faces = analyzed.faces
    assert faces.embedding is not None and prepared.image is not None
    candidates = match(faces.embedding, np.array([q.score for q in analyzed.quality]))
    rows = []
    for i in range(len(faces)):
        crop = crops_dir / prepared.sha256[:2] / f"{prepared.sha256}_{i}.jpg"
        save_crop(prepared.image.pixels, faces.xyxy[i], crop)
        rows.append(
            FaceRow(
                frame=None,
                face_index=i,
                xyxy=faces.xyxy[i],
                kps5=faces.kps5[i],
                score=float(faces.score[i]),
                embedding=faces.embedding[i],
                crop_path=str(crop),
                candidates=candidates[i],
                quality=analyzed.quality[i].score,
                quality_reasons="; ".join(analyzed.quality[i].reasons),
            )
        )
    return rows
