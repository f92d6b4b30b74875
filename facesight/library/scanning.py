"""Scanning and reindexing: media in, faces stored and matched, each run audited.

``ScanService`` takes its collaborators (the store, the pipeline, the crops folder, the
library folder the walk never enters, how descriptors are matched, how audit records are
made, and what to call when references changed); ``Library`` composes it and offers
``scan``, ``stale`` and ``reindex``. The walk itself is ``facesight.scan``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from facesight.defaults import DEFAULT_RATE_FPS
from facesight.errors import (
    EnrollmentError,
    InvalidInputError,
    MediaError,
    NoFaceError,
    NotFoundError,
)
from facesight.faces import box_iou
from facesight.identity.match import GalleryMatcher
from facesight.location import is_postgres_url
from facesight.media.images import load_image, sha256_of
from facesight.records import FailureKind, MediaFailure, ScanEvent, ScanStatus, ScanSummary
from facesight.scan.collection import Matcher, ScanOptions, scan_collection
from facesight.scan.ray_executor import RayOptions, scan_on_ray
from facesight.scan.workers import PipelineSpec
from facesight.store.audit import AuditAction
from facesight.store.backend import open_store
from facesight.store.protocol import LibraryStore
from facesight.store.sqlite import Store
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "RayOptions",
    "ReindexResult",
    "ScanService",
    "require_cluster_store",
    "store_opener",
]


def require_cluster_store(store: LibraryStore, ray: RayOptions) -> None:
    """Refuse a Ray scan into a library that other machines cannot write: SQLite.

    The one place this is decided. ``ray.sqlite_single_machine`` lets tests and
    benchmarks run actors on this one machine against a SQLite library (WAL and its
    lock wait make that work; a SQLite file on a network share does not).

    Raises:
        InvalidInputError: the library is SQLite.
    """
    if not is_postgres_url(store.path) and not ray.sqlite_single_machine:
        raise InvalidInputError(
            f"--executor ray needs a PostgreSQL library (actors on every node write to "
            f"it); {store.path} is SQLite: scan with the local executor, or copy the "
            "library to PostgreSQL (`facesight library copy`)"
        )


def store_opener(store: Store) -> Callable[[], LibraryStore]:
    """A picklable function that opens ``store``'s library again (in a Ray actor): the
    same URL, or the same SQLite file; crops go to the same local folder on every node."""
    if store.root is None:
        raise InvalidInputError("a Ray scan needs a library on disk or in PostgreSQL")
    where = store.path if is_postgres_url(store.path) else store.root
    return partial(open_store, where, files_dir=store.root, create=False)


@dataclass
class ReindexResult:
    """What :meth:`Library.reindex` did."""

    references_updated: int = 0
    failures: list[MediaFailure] = field(default_factory=list)
    media: ScanSummary = field(default_factory=ScanSummary)


class ScanService:
    """Scanning collections into the library, and describing stale content again.

    Args:
        store, pipeline: the library database and the models.
        crops_dir: where face crops are written.
        library_dir: the library's folder: never walked, never a root.
        max_pixels: larger images are refused.
        match: candidates for descriptors (``MatchService.match``).
        record_audit: make an audit record (or a notice on a read-only library).
        sweep_uncommitted: remove crops no committed row names (after a failed scan).
        references_changed: forget what was read of the references (the gallery cache).
        rematch: match every stored face again.
        matcher: ``match`` as a plain value (``MatchService.matcher``), for Ray scans.
    """

    def __init__(
        self,
        store: Store,
        pipeline: FacePipeline,
        crops_dir: Path,
        library_dir: Path,
        *,
        max_pixels: int,
        match: Matcher,
        record_audit: Callable[..., None],
        sweep_uncommitted: Callable[[], None],
        references_changed: Callable[[], None],
        rematch: Callable[[], int],
        matcher: Callable[[], GalleryMatcher] | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.crops_dir = crops_dir
        self.library_dir = library_dir
        self.max_pixels = max_pixels
        self.match = match
        self.record_audit = record_audit
        self.sweep_uncommitted = sweep_uncommitted
        self.references_changed = references_changed
        self.rematch = rematch
        self.matcher = matcher

    def scan(
        self,
        paths: Iterable[str | Path],
        *,
        stop_on_error: bool = False,
        workers: int = 0,
        video_fps: float = DEFAULT_RATE_FPS,
        follow_links: bool = True,
        ray: RayOptions | None = None,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ScanSummary:
        """Scan images and videos, files and folders recursively; known content is skipped.

        The library's own folder is never entered, however the walk reaches it
        (counted in ``library_skipped``).

        Args:
            workers: analysing processes (0: one per core); scans of a few
                images run in this process.
            video_fps: analysed frames per second of video (plus one after
                each scene cut); tracks bridge the frames in between.
            follow_links: follow symlinked files and folders met below the
                roots (never into the library; each real folder once).
            ray: scan on a Ray cluster instead of local processes
                (``scan.ray_executor``; needs a PostgreSQL library); ``workers`` is
                then unused.

        Raises:
            NotFoundError: a root does not exist (nothing is scanned).
            InvalidInputError: a root lies inside the library, or ``ray`` is asked of a
                SQLite library.
            MissingExtraError: ``ray`` is asked and Ray is not installed.
        """
        paths = list(paths)
        self._check_roots(paths)
        if ray is not None:
            require_cluster_store(self.store, ray)
        return self.run(
            paths, stop_on_error, workers, video_fps, follow_links, on_start, on_event, ray
        )

    def run(
        self,
        paths: Iterable[str | Path],
        stop_on_error: bool = False,
        workers: int = 0,
        video_fps: float = DEFAULT_RATE_FPS,
        follow_links: bool = True,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
        ray: RayOptions | None = None,
    ) -> ScanSummary:
        if workers < 0:
            raise InvalidInputError(f"workers must be 0 (one per core) or more, got {workers}")
        if not video_fps > 0:
            raise InvalidInputError(f"video_fps must be positive, got {video_fps}")
        options = ScanOptions(
            self.max_pixels,
            stop_on_error,
            workers,
            video_rate_fps=video_fps,
            skip_dir=self.library_dir,
            follow_links=follow_links,
        )
        paths = list(paths)
        seen = ScanSummary()  # counted from events, for a scan that stops half-way

        def count(event: ScanEvent) -> None:
            if event.status == ScanStatus.FAILED:
                seen.failures.append(
                    event.failure or MediaFailure(event.path, FailureKind.FAILED, "")
                )
            elif event.status == ScanStatus.SCANNED:
                seen.media_scanned += 1
                seen.faces_found += event.faces
            if on_event is not None:
                on_event(event)

        try:
            if ray is None:
                summary = scan_collection(
                    paths,
                    store=self.store,
                    pipeline=self.pipeline,
                    spec=PipelineSpec.of(self.pipeline),
                    match=self.match,
                    crops_dir=self.crops_dir,
                    options=options,
                    on_start=on_start,
                    on_event=count,
                )
            else:
                summary = self._scan_on_ray(paths, options, ray, on_start, count)
        except BaseException as error:
            # a failed commit (a full disk) leaves the crops its workers wrote
            self.sweep_uncommitted()
            # best effort: the failure that stopped the scan may stop this record too
            with contextlib.suppress(Exception):
                self._audit_scan(paths, seen, f"stopped: {error or type(error).__name__}")
            raise
        self._audit_scan(paths, summary)
        return summary

    def _scan_on_ray(
        self,
        paths: list[str | Path],
        options: ScanOptions,
        ray: RayOptions,
        on_start: Callable[[int], None] | None,
        on_event: Callable[[ScanEvent], None],
    ) -> ScanSummary:
        if self.matcher is None:
            raise InvalidInputError("this scan service was built without a matcher for Ray")
        return scan_on_ray(
            paths,
            store=self.store,
            open_store=store_opener(self.store),
            spec=PipelineSpec.of(self.pipeline),
            embedder=self.pipeline.embedder_version,
            match=self.matcher(),
            crops_dir=self.crops_dir,
            options=options,
            ray_options=ray,
            on_start=on_start,
            on_event=on_event,
        )

    def _audit_scan(self, roots: list[str | Path], summary: ScanSummary, details: str = "") -> None:
        self.record_audit(
            AuditAction.SCAN,
            paths=[os.path.abspath(p) for p in roots],
            counts={
                "media_scanned": summary.media_scanned,
                "faces_found": summary.faces_found,
                "failures": len(summary.failures),
            },
            details=details,
        )

    def _check_roots(self, roots: list[str | Path]) -> None:
        library = os.path.realpath(self.library_dir)
        for root in roots:
            if not os.path.exists(root):
                raise NotFoundError(f"{root}: no such file or folder; nothing was scanned")
            real = os.path.realpath(root)
            if os.path.commonpath([real, library]) == library:
                raise InvalidInputError(
                    f"{root} is inside the library {self.library_dir}: its crops are not media to "
                    "scan; nothing was scanned"
                )

    def stale(self) -> tuple[int, int]:
        """(references, media) described by another descriptor version than this one's.

        They are left out of matching until :meth:`reindex` describes them again.
        """
        version = self.pipeline.embedder_version
        return len(self.store.stale_references(version)), len(self.store.stale_media(version))

    def reindex(
        self,
        *,
        on_start: Callable[[int], None] | None = None,
        on_event: Callable[[ScanEvent], None] | None = None,
    ) -> ReindexResult:
        """Describe stale references and media again with the current models.

        A reference is re-described from its source image when the file is
        still there with the same content (the face overlapping the stored box
        most); otherwise it stays out of matching and is listed in
        ``failures``. Stale media are scanned again from their latest path.
        """
        version = self.pipeline.embedder_version
        result = ReindexResult()
        for row in self.store.stale_references(version):
            try:
                self._redescribe_reference(row)
                result.references_updated += 1
            except (MediaError, EnrollmentError) as error:
                result.failures.append(
                    MediaFailure(error.path, FailureKind.REFERENCE, error.problem)
                )
        self.references_changed()
        stale = self.store.stale_media(version)
        # stale media may have moved since: each missing one is a failure, not the end
        result.media = self.run(stale, on_start=on_start, on_event=on_event)
        self.rematch()
        return result

    def _redescribe_reference(self, row: Any) -> None:
        path = Path(row["source_path"])
        if not path.is_file() or sha256_of(path) != row["source_sha256"]:
            raise EnrollmentError(path, "the reference image is gone or has changed; enroll again")
        analyzed = self.pipeline.analyze(load_image(path, self.max_pixels).pixels)
        if len(analyzed) == 0:
            raise NoFaceError(path, "the current detector finds no face in this reference")
        box = np.array([row["x1"], row["y1"], row["x2"], row["y2"]], np.float32)
        index = int(np.argmax(box_iou(analyzed.faces.xyxy, box)))
        self.store.update_reference(
            int(row["id"]),
            analyzed.embedding[index],
            self.pipeline.embedder_version,
            analyzed.quality[index].score,
        )
