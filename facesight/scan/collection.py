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

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS
from facesight.errors import MediaError
from facesight.identity.carry import carry_reviews
from facesight.media.images import find_media, still_extensions
from facesight.media.video import VIDEO_SUFFIXES, probe_video
from facesight.records import MediaFailure, ScanEvent, ScanStatus, ScanSummary
from facesight.scan.batch import Matcher, new_media_rows, video_failure, video_rows
from facesight.scan.pool import IN_PROCESS_BELOW, Analysis, analyzed, file_size, task_full
from facesight.scan.video import AssembledVideo, VideoAssembler, plan_video, remove_unused_crops
from facesight.scan.workers import AnalyzedFile, AnalyzedSegment, FileStatus, PipelineSpec, Task
from facesight.store.protocol import LibraryStore
from facesight.store.sqlite import Store
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "Matcher",
    "ScanEvent",
    "ScanOptions",
    "count_event",
    "default_workers",
    "scan_collection",
    "walk_media",
]


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
    paths = walk_media(roots, store, summary, options, on_event)
    if on_start:
        on_start(len(paths))
    workers = options.workers or default_workers()
    in_process = _small(paths, options.max_pixels)
    tasks = _tasks(paths, store, pipeline.embedder_version, options, workers)
    assembler = VideoAssembler()
    analysis = Analysis(
        pipeline,
        spec,
        store.database,
        crops_dir,
        options.max_pixels,
        workers,
        in_process,
        options.tasks_per_worker,
        options.video_rate_fps,
    )
    # closed at once when a callback raises (a cancelled job): the workers stop before the
    # caller sweeps the crops of uncommitted files, not when the traceback is freed
    with contextlib.closing(analyzed(tasks, analysis)) as results:
        for result in results:
            if isinstance(result, AnalyzedSegment):
                video = assembler.add(result)
                if video is None and on_event:
                    part = (result.segment.index + 1, result.segment.count)
                    on_event(ScanEvent(result.segment.path, ScanStatus.SEGMENT, part=part))
                if video is not None:
                    summary.files_seen += 1
                    for event in _store_video(store, pipeline, match, video, summary, options):
                        count_event(summary, event)
                        if on_event:
                            on_event(event)
                continue
            for file in result:
                summary.files_seen += 1
                if file.error is not None:
                    _report(store, summary, file.error, options, on_event)
            for event in _store_batch(store, pipeline, match, [r for r in result if not r.error]):
                count_event(summary, event)
                if on_event:
                    on_event(event)
    summary.seconds = time.perf_counter() - started
    return summary


def walk_media(
    roots: Iterable[str | Path],
    store: LibraryStore,
    summary: ScanSummary,
    options: ScanOptions,
    on_event: Callable[[ScanEvent], None] | None,
) -> list[str]:
    """The absolute paths of the media files under ``roots``; what cannot be walked is
    recorded as failed, what is left out counted in ``summary``."""
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
    return paths


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
        known = partial(_known, store, embedder)
        planned = plan_video(path, known, options.max_pixels, workers, options.video_rate_fps)
        if isinstance(planned, AnalyzedFile):
            yield planned
        else:
            yield from planned
    if images:
        yield images


def _known(store: Store, embedder: str, sha256: str) -> bool:
    return store.media_id(sha256, embedder) is not None


def _report(
    store: LibraryStore,
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


def count_event(summary: ScanSummary, event: ScanEvent) -> None:
    """Add a stored or skipped file's event to the scan's counts."""
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
    batch, events = new_media_rows(new, pipeline, match)
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
    error = video_failure(video)
    if not video.readable:
        assert error is not None  # an unreadable video always has its damage
        _report(store, summary, error, options, None)
        return [ScanEvent(video.path, ScanStatus.FAILED, failure=MediaFailure.from_error(error))]
    item, event = video_rows(video, pipeline, match)
    store.save_media_batch([item], carry_reviews)
    remove_unused_crops(video)
    if error is not None:
        _report(store, summary, error, options, None)
    return [event]
