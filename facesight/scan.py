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

import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.errors import MediaError, WorkerError
from facesight.media import DEFAULT_MAX_PIXELS, find_media
from facesight.pipeline import FacePipeline
from facesight.records import Candidate, MediaFailure, ScanSummary
from facesight.scan_workers import (
    AnalyzedFile,
    FileAnalyzer,
    PipelineSpec,
    analyze_in_worker,
    start_worker,
)
from facesight.store import FaceRow, MediaRow, Store

__all__ = ["Matcher", "ScanEvent", "ScanOptions", "default_workers", "scan_collection"]

Matcher = Callable[[NDArray[np.float32], NDArray[np.float64]], list[list[Candidate]]]
"""Ranks enrolled people for (n, d) descriptors of faces of (n,) qualities: the library's
calibrated ``match_faces``."""

IN_PROCESS_BELOW = 8
"""Scans of fewer files run in this process: starting workers costs about a second."""


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
        files_per_task: files a worker takes at once; their faces are described
            in one batch. Higher batches more, and holds more decoded images.
        tasks_per_worker: a worker is replaced by a fresh one after this many
            tasks, so whatever its libraries keep allocated (ONNX Runtime's
            arenas grow to the largest batch seen, the allocator fragments)
            cannot pile up over a long scan; a new worker loads its models in
            about a second.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    stop_on_error: bool = False
    workers: int = 0
    files_per_task: int = 4
    tasks_per_worker: int = 250


@dataclass(frozen=True)
class ScanEvent:
    """Progress of one file: ``status`` is scanned, skipped or failed."""

    path: str
    status: str
    faces: int = 0
    matched: int = 0
    failure: MediaFailure | None = None


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
    for item in find_media(roots):
        if isinstance(item, MediaError):
            _report(store, summary, item, options, on_event)
        else:
            paths.append(os.path.abspath(item))
    if on_start:
        on_start(len(paths))
    tasks = [
        paths[i : i + options.files_per_task] for i in range(0, len(paths), options.files_per_task)
    ]
    for results in _analyzed(tasks, len(paths), store, pipeline, spec, crops_dir, options):
        for result in results:
            summary.files_seen += 1
            if result.error is not None:
                _report(store, summary, result.error, options, on_event)
        for event in _store_batch(store, pipeline, match, [r for r in results if not r.error]):
            _count(summary, event)
            if on_event:
                on_event(event)
    summary.seconds = time.perf_counter() - started
    return summary


def _analyzed(
    tasks: list[list[str]],
    files: int,
    store: Store,
    pipeline: FacePipeline,
    spec: PipelineSpec,
    crops_dir: Path,
    options: ScanOptions,
) -> Iterator[list[AnalyzedFile]]:
    """Each task's results, in order: in this process for small scans, else in workers."""
    workers = min(options.workers or default_workers(), len(tasks))
    if files < IN_PROCESS_BELOW or workers < 1:
        analyzer = FileAnalyzer(pipeline, Path(store.path), crops_dir, options.max_pixels)
        try:
            yield from (analyzer.analyze(task) for task in tasks)
        finally:
            analyzer.close()
        return
    # spawn, not fork: the parent holds ONNX Runtime threads, which fork does not copy safely.
    context = multiprocessing.get_context("spawn")
    initargs = (spec, Path(store.path), crops_dir, options.max_pixels)
    with (
        _main_script_not_rerun(),
        ProcessPoolExecutor(
            workers, context, start_worker, initargs, max_tasks_per_child=options.tasks_per_worker
        ) as pool,
    ):
        pending: deque[tuple[list[str], Future[list[AnalyzedFile]]]] = deque()
        try:
            for task in tasks:
                pending.append((task, pool.submit(analyze_in_worker, task)))
                if len(pending) >= 2 * workers:
                    yield _result(*pending.popleft())
            while pending:
                yield _result(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()


@contextmanager
def _main_script_not_rerun() -> Iterator[None]:
    """Keep spawned workers from importing the caller's ``__main__`` script.

    multiprocessing's spawn re-imports the parent's main script in every
    worker, which runs a script's top-level code (a scan, again) unless it is
    guarded by ``if __name__ == "__main__"``. Our workers need nothing from it:
    their code lives in ``facesight.scan_workers``.
    """
    main = sys.modules.get("__main__")
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    for name in saved:
        setattr(main, name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def _result(task: list[str], future: Future[list[AnalyzedFile]]) -> list[AnalyzedFile]:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerError(
            f"a scan worker died (killed or out of memory) while analysing {task[0]} and "
            f"{len(task) - 1} other file(s); run the scan again to resume"
        ) from exc


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
        elif result.status == "analyzed":
            new[result.sha256] = result
            continue
        events.append(ScanEvent(result.path, "skipped"))
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
    ranked = match(embeddings, np.concatenate([r.quality for r in new]))
    batch, start = [], 0
    for result in new:
        rows = _face_rows(result, ranked[start : start + len(result)])
        start += len(result)
        batch.append((result.path, _media_row(result, pipeline, len(rows)), rows))
        matched = sum(1 for row in rows if row.candidates and row.candidates[0].is_match)
        events.append(ScanEvent(result.path, "scanned", faces=len(rows), matched=matched))
    store.save_media_batch(batch)
    return events


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
