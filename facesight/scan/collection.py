"""Scanning a collection into the store: parallel, batched, resumable by media sha256.

Worker processes (``scan_workers``) hash, decode and describe a few files at a
time; this process, the only writer, matches their faces against the gallery
and commits each batch of files with all their faces and candidates in one
transaction. So a scan killed at any point (even ``kill -9``) resumes with no
lost and no duplicated faces: content already in the store is skipped (a
renamed or copied file only gains a path), anything not committed is redone.
At most ``2 x workers`` batches are in flight, so memory stays flat however
large the collection. Bad files are recorded and reported, never fatal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS
from facesight.errors import MediaError
from facesight.identity.carry import carry_reviews
from facesight.media.images import find_media, sha256_of, still_extensions
from facesight.media.video import VIDEO_SUFFIXES, probe_video
from facesight.records import Candidate, MediaFailure, ScanEvent, ScanStatus, ScanSummary
from facesight.scan.pool import IN_PROCESS_BELOW, Analysis, analyzed, file_size, task_full
from facesight.scan.video import (
    AssembledVideo,
    VideoAssembler,
    media_row,
    plan_segments,
    remove_unused_crops,
    track_descriptors,
    track_rows,
)
from facesight.scan.workers import AnalyzedFile, AnalyzedSegment, FileStatus, PipelineSpec, Task
from facesight.store.sqlite import FaceRow, MediaRow, Store
from facesight.vision.pipeline import FacePipeline

__all__ = ["Matcher", "ScanEvent", "ScanOptions", "default_workers", "scan_collection"]


class Matcher(Protocol):
    """Ranks enrolled people for (n, d) descriptors of faces of (n,) qualities, (n,) box
    widths in pixels, and (n,) numbers of faces fused into each descriptor (a video
    track's): the library's calibrated ``Library.match``."""

    def __call__(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]: ...


IN_PROCESS_VIDEO_S = 20.0
"""... unless they hold more than this much video (workers share a video's segments)."""


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class ScanOptions:
    """Knobs of a scan.

    Attributes:
        max_pixels: images with more pixels are refused (decompression bombs).
        stop_on_error: raise at the first bad file instead of recording it and going on.
        workers: analysing processes (0: one per core). Each runs its models
            on one thread.
        files_per_task: files a worker takes at once (up to four times as many
            small ones: ``scan.pool.task_full``); their faces are described in one
            batch. Higher batches more, and holds more decoded images.
        tasks_per_worker: a worker is replaced by a fresh one after this many
            tasks, so whatever its libraries keep allocated (ONNX Runtime's
            arenas grow to the largest batch seen, the allocator fragments)
            cannot pile up over a long scan; a new worker loads its models in
            about a second.
        video_rate_fps: analysed frames per second of video, besides scene cuts.
        skip_dir: a folder never entered (the library's own: its crops are not media).
        follow_links: follow symlinks met below the roots (see ``media.find_media``).
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    stop_on_error: bool = False
    workers: int = 0
    files_per_task: int = 4
    tasks_per_worker: int = 250
    video_rate_fps: float = DEFAULT_RATE_FPS
    skip_dir: Path | None = None
    follow_links: bool = True


def scan_collection(
    roots: Iterable[str | Path],
    *,
    store: Store,
    pipeline: FacePipeline,
    spec: PipelineSpec,
    match: Matcher,
    crops_dir: Path,
    options: ScanOptions = ScanOptions(),
    on_start: Callable[[int], None] | None = None,
    on_event: Callable[[ScanEvent], None] | None = None,
) -> ScanSummary:
    """Scan files and folders (recursively) into ``store``; return the counts.

    Args:
        pipeline: the models, used in this process for small scans.
        spec: how workers build the same models.
        match: ranks enrolled people for the faces found.
    """
    started = time.perf_counter()
    summary = ScanSummary()
    paths: list[str] = []
    found = find_media(
        roots,
        still_extensions() | VIDEO_SUFFIXES,
        walked_past=summary.walked_past,
        skip_dir=options.skip_dir,
        follow_links=options.follow_links,
        on_skip=lambda _: _count_library(summary),
    )
    for item in found:
        if isinstance(item, MediaError):
            _report(store, summary, item, options, on_event)
        else:
            paths.append(os.path.abspath(item))
    if on_start:
        on_start(len(paths))
    workers = options.workers or default_workers()
    in_process = _small(paths, options.max_pixels)
    tasks = _tasks(paths, store, pipeline.embedder_version, options, workers)
    assembler = VideoAssembler()
    analysis = Analysis(
        pipeline,
        spec,
        Path(store.path),
        crops_dir,
        options.max_pixels,
        workers,
        in_process,
        options.tasks_per_worker,
        options.video_rate_fps,
    )
    for result in analyzed(tasks, analysis):
        if isinstance(result, AnalyzedSegment):
            video = assembler.add(result)
            if video is None and on_event:
                part = (result.segment.index + 1, result.segment.count)
                on_event(ScanEvent(result.segment.path, ScanStatus.SEGMENT, part=part))
            if video is not None:
                summary.files_seen += 1
                for event in _store_video(store, pipeline, match, video, summary, options):
                    _count(summary, event)
                    if on_event:
                        on_event(event)
            continue
        for file in result:
            summary.files_seen += 1
            if file.error is not None:
                _report(store, summary, file.error, options, on_event)
        for event in _store_batch(store, pipeline, match, [r for r in result if not r.error]):
            _count(summary, event)
            if on_event:
                on_event(event)
    summary.seconds = time.perf_counter() - started
    return summary


def _count_library(summary: ScanSummary) -> None:
    summary.library_skipped += 1


def _small(paths: list[str], max_pixels: int) -> bool:
    """True for a scan cheaper in this process than starting workers: a few images
    and at most ``IN_PROCESS_VIDEO_S`` of video."""
    if len(paths) >= IN_PROCESS_BELOW:
        return False
    footage = 0.0
    for path in filter(_is_video, paths):
        try:
            footage += probe_video(path, max_pixels).duration_s
        except MediaError:
            continue  # reported when its task comes
    return footage <= IN_PROCESS_VIDEO_S


def _is_video(path: str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _tasks(
    paths: list[str], store: Store, embedder: str, options: ScanOptions, workers: int
) -> Iterator[Task | AnalyzedFile]:
    """The work, in order: images a few at a time, each video as its segments.

    A video is hashed and probed here (cheap next to analysing it) so that
    known content is skipped and an unreadable file fails at once; those come
    out as finished ``AnalyzedFile`` results instead of tasks.
    """
    images: list[str] = []
    images_bytes = 0
    for path in paths:
        if not _is_video(path):
            images.append(path)
            images_bytes += file_size(path)
            if task_full(len(images), images_bytes, options.files_per_task):
                yield images
                images, images_bytes = [], 0
            continue
        try:
            sha = sha256_of(Path(path))
            if store.media_id(sha, embedder) is not None:
                yield AnalyzedFile(path, FileStatus.KNOWN, sha)
                continue
            info = probe_video(path, options.max_pixels)
        except MediaError as error:
            yield AnalyzedFile(path, FileStatus.FAILED, error=error)
            continue
        yield from plan_segments(path, sha, info.duration_s, workers, options.video_rate_fps)
    if images:
        yield images


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
        on_event(ScanEvent(failure.path, ScanStatus.FAILED, failure=failure))
    if options.stop_on_error:
        raise error


def _count(summary: ScanSummary, event: ScanEvent) -> None:
    if event.status == ScanStatus.SKIPPED:
        summary.media_skipped += 1
        return
    summary.media_scanned += 1
    if event.footage_s > 0:
        summary.videos_scanned += 1
        summary.footage_s += event.footage_s
    summary.faces_found += event.faces
    summary.faces_matched += event.matched
    if event.faces == 0:
        summary.media_without_faces += 1


def _store_batch(
    store: Store, pipeline: FacePipeline, match: Matcher, results: list[AnalyzedFile]
) -> list[ScanEvent]:
    """Match the batch's faces in one call and commit its new media in one transaction."""
    events: list[ScanEvent] = []
    new: dict[str, AnalyzedFile] = {}
    copies: list[AnalyzedFile] = []  # of content met earlier in this batch
    for result in results:
        existing = store.media_id(result.sha256, pipeline.embedder_version)
        if existing is not None:
            store.add_media_path(existing, result.path)
        elif result.sha256 in new:
            copies.append(result)
        elif result.status == FileStatus.ANALYZED:
            new[result.sha256] = result
            continue
        events.append(ScanEvent(result.path, ScanStatus.SKIPPED))
    if new:
        events.extend(_store_new(store, pipeline, match, list(new.values())))
    for copy in copies:
        media_id = store.media_id(copy.sha256)
        assert media_id is not None  # stored just above
        store.add_media_path(media_id, copy.path)
    return events


def _store_new(
    store: Store, pipeline: FacePipeline, match: Matcher, new: list[AnalyzedFile]
) -> list[ScanEvent]:
    events = []
    embeddings = np.concatenate([r.embedding for r in new])
    widths = np.concatenate([r.xyxy[:, 2] - r.xyxy[:, 0] for r in new]).astype(np.float64)
    ranked = match(embeddings, np.concatenate([r.quality for r in new]), widths=widths)
    batch, start = [], 0
    for result in new:
        rows = _face_rows(result, ranked[start : start + len(result)])
        start += len(result)
        batch.append((result.path, _media_row(result, pipeline, len(rows)), rows))
        matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
        events.append(ScanEvent(result.path, ScanStatus.SCANNED, faces=len(rows), matched=matched))
    store.save_media_batch(batch, carry_reviews)
    return events


def _store_video(
    store: Store,
    pipeline: FacePipeline,
    match: Matcher,
    video: AssembledVideo,
    summary: ScanSummary,
    options: ScanOptions,
) -> list[ScanEvent]:
    """Store a whole video (its tracks, one face each) in one transaction."""
    existing = store.media_id(video.sha256, pipeline.embedder_version)
    if existing is not None:  # the same content twice in this scan
        store.add_media_path(existing, video.path)
        return [ScanEvent(video.path, ScanStatus.SKIPPED)]
    failure = None
    if video.error is not None:
        kept = "; the faces before the damage are kept" if video.readable else ""
        error = type(video.error)(video.error.path, video.error.problem + kept)
        failure = MediaFailure.from_error(error)
    if not video.readable:
        _report(store, summary, error, options, None)
        return [ScanEvent(video.path, ScanStatus.FAILED, failure=failure)]
    descriptors, qualities, widths, fused = track_descriptors(video)
    ranked = match(descriptors, qualities, widths=widths, fused=fused) if len(fused) else []
    rows = track_rows(video, descriptors, ranked)
    media = media_row(video, pipeline.detector_version, pipeline.embedder_version)
    store.save_media_batch([(video.path, media, rows)], carry_reviews)
    remove_unused_crops(video)
    if video.error is not None:
        _report(store, summary, error, options, None)
    matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
    footage = video.info.duration_s or (video.tracks[-1].end_s if video.tracks else 0.0)
    return [
        ScanEvent(video.path, ScanStatus.SCANNED, len(rows), matched, failure, footage_s=footage)
    ]


def _media_row(result: AnalyzedFile, pipeline: FacePipeline, face_count: int) -> MediaRow:
    return MediaRow(
        sha256=result.sha256,
        kind="image",
        width_px=result.width_px,
        height_px=result.height_px,
        captured_at=result.captured_at,
        gps=result.gps,
        face_count=face_count,
        detector=pipeline.detector_version,
        embedder=pipeline.embedder_version,
    )


def _face_rows(result: AnalyzedFile, candidates: list[list[Candidate]]) -> list[FaceRow]:
    return [
        FaceRow(
            frame=None,
            face_index=i,
            xyxy=result.xyxy[i],
            kps5=result.kps5[i],
            score=float(result.score[i]),
            embedding=result.embedding[i],
            crop_path=result.crop_paths[i],
            candidates=candidates[i],
            quality=float(result.quality[i]),
            quality_reasons=result.quality_reasons[i],
        )
        for i in range(len(result))
    ]
