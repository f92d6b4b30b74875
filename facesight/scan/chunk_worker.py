"""One worker of a distributed scan: claim a chunk, analyse it, store it in one transaction.

A ``ChunkWorker`` loads its models once, opens its own connection to the library, and
then takes chunks of files (``store.scan_chunks``) one at a time under a lease that a
background thread renews every third of ``lease_s`` on a connection of its own. It
analyses the chunk with the local scan's code (``scan.workers.FileAnalyzer``: hash, skip
known content, decode, detect, align, quality, describe, crop; videos in their
segments), matches the faces against the gallery it was handed, and stores the new
media, the paths of known content, the failures and the chunk's completion in one
transaction (``Store.commit_scan_chunk``). So a worker killed at any point leaves its
chunk uncommitted and still leased; the driver (or, once the lease runs out, a later
run) hands it to another worker, and nothing is stored twice.

Every node must see the media and the library's crops folder at the same paths: a file
this node cannot read is that file's failure, naming the node.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS
from facesight.errors import FaceSightError, MediaError, UnreadableMediaError
from facesight.identity.carry import carry_reviews
from facesight.media.video import VIDEO_SUFFIXES
from facesight.records import MediaFailure, ScanEvent, ScanStatus
from facesight.scan.batch import Matcher, NewMedia, new_media_rows, video_failure, video_rows
from facesight.scan.video import VideoAssembler, plan_video
from facesight.scan.workers import (
    AnalyzedFile,
    AnalyzedSegment,
    FileAnalyzer,
    FileStatus,
    PipelineSpec,
)
from facesight.store.protocol import LibraryStore
from facesight.store.scan_chunks import LeaseLostError, ScanChunk

__all__ = ["ChunkOptions", "ChunkReport", "ChunkWorker"]


@dataclass(frozen=True)
class ChunkOptions:
    """How a worker takes and analyses chunks.

    Attributes:
        lease_s: how long a claim holds without renewal; renewed every third of it, so a
            dead worker's chunk is free again at most this long after (the driver frees
            it at once when it sees the worker die).
        max_attempts: claims of one chunk before it is left failed (a file that kills
            every worker that reads it); a rerun tries failed chunks again.
        files_per_batch: images described in one batch (as the local scan's tasks).
        max_pixels: larger images (and video frames) are refused.
        video_rate_fps: analysed video frames per second of footage, besides scene cuts.
    """

    lease_s: float = 60.0
    max_attempts: int = 3
    files_per_batch: int = 4
    max_pixels: int = DEFAULT_MAX_PIXELS
    video_rate_fps: float = DEFAULT_RATE_FPS


@dataclass
class ChunkReport:
    """What a worker did with one chunk: one event per file, in the chunk's order
    (``lost``: its lease ran out first and another worker's result counts instead)."""

    chunk_id: int
    node: str
    events: list[ScanEvent] = field(default_factory=list)
    lost: bool = False


class _StoreContent:
    """``ContentCheck`` over the worker's own store: is this content known?"""

    def __init__(self, store: LibraryStore) -> None:
        self.store = store

    def known(self, sha256: str, embedder: str) -> bool:
        return self.store.media_id(sha256, embedder) is not None

    def close(self) -> None:
        """The store is the worker's, closed with it."""


class ChunkWorker:
    """Claims and stores chunks of scans (see the module docstring).

    Args:
        open_store: opens a connection to the library (called twice: the work, the lease).
        spec: how to build the models (loaded here, once).
        match: ranks enrolled people (a ``GalleryMatcher`` of the driver's gallery).
        crops_dir: the library's crops folder, at the same path on every node.
        owner: this worker's name in the leases it holds.
    """

    def __init__(
        self,
        open_store: Callable[[], LibraryStore],
        spec: PipelineSpec,
        match: Matcher,
        crops_dir: Path,
        owner: str,
        options: ChunkOptions = ChunkOptions(),
    ) -> None:
        self.owner = owner
        self.options = options
        self.match = match
        self.node = socket.gethostname()
        self.store = open_store()
        self.pipeline = spec.build()
        self.pipeline.detector.load()
        self.pipeline.embedder.load()
        self.analyzer = FileAnalyzer(
            self.pipeline,
            _StoreContent(self.store),
            crops_dir,
            options.max_pixels,
            options.video_rate_fps,
        )
        self._lease = _LeaseKeeper(open_store, owner, options.lease_s)

    def close(self) -> None:
        self._lease.stop()
        self.store.close()

    def next_chunk(self, scan_id: str) -> ChunkReport | None:
        """Claim the next chunk of ``scan_id`` and store it; None when none is claimable.

        Raises:
            FaceSightError: the chunk could not be stored (its lease is given up as
                failed, with the reason).
        """
        opts = self.options
        chunk = self.store.claim_scan_chunk(
            scan_id, self.owner, time.time(), opts.lease_s, opts.max_attempts
        )
        if chunk is None:
            return None
        with self._lease.holding(chunk.id):
            try:
                return self._store_chunk(chunk)
            except LeaseLostError:
                return ChunkReport(chunk.id, self.node, lost=True)
            except FaceSightError as error:
                self.store.fail_scan_chunk(chunk.id, self.owner, str(error))
                raise

    def _store_chunk(self, chunk: ScanChunk) -> ChunkReport:
        work = _ChunkWrites()
        images = []
        for path in chunk.paths:
            error = self._unreadable(path)
            if error is not None:
                work.add(AnalyzedFile(path, FileStatus.FAILED, error=error))
            elif Path(path).suffix.lower() in VIDEO_SUFFIXES:
                self._video(path, work)
            else:
                images.append(path)
        step = self.options.files_per_batch
        for start in range(0, len(images), step):
            for result in self.analyzer.analyze(images[start : start + step]):
                work.add(result)
        if work.new:
            batch, events = new_media_rows(list(work.new.values()), self.pipeline, self.match)
            work.batch += batch
            work.events += events
        self.store.commit_scan_chunk(
            chunk.id, self.owner, work.batch, work.seen, work.failures, carry_reviews
        )
        for crop in work.unused_crops:
            Path(crop).unlink(missing_ok=True)
        order = {path: i for i, path in enumerate(chunk.paths)}
        events = sorted(work.events, key=lambda e: order.get(e.path, len(order)))
        return ChunkReport(chunk.id, self.node, events)

    def _unreadable(self, path: str) -> MediaError | None:
        """The failure of a file this node cannot see or read (its media mount)."""
        if os.path.isfile(path) and os.access(path, os.R_OK):
            return None
        why = "no such file" if not os.path.lexists(path) else "not a readable file"
        return UnreadableMediaError(
            path,
            f"{why} on node {self.node}: every node of the cluster must see the media "
            "at the same paths",
        )

    def _video(self, path: str, work: _ChunkWrites) -> None:
        """A whole video, its segments analysed here one after the other."""
        known = partial(_is_known, self.store, self.pipeline.embedder_version)
        planned = plan_video(path, known, self.options.max_pixels, 1, self.options.video_rate_fps)
        if isinstance(planned, AnalyzedFile):
            work.add(planned)
            return
        assembler, video = VideoAssembler(), None
        for segment in planned:
            part = self.analyzer.run(segment)
            assert isinstance(part, AnalyzedSegment)
            video = assembler.add(part)
        assert video is not None  # the last segment completes it
        error = video_failure(video)
        if error is not None:
            work.failures.append(MediaFailure.from_error(error))
        if not video.readable:
            assert error is not None
            work.events.append(
                ScanEvent(path, ScanStatus.FAILED, failure=MediaFailure.from_error(error))
            )
            return
        if video.sha256 in work.new or any(item[1].sha256 == video.sha256 for item in work.batch):
            work.seen.append((video.sha256, path))
            work.events.append(ScanEvent(path, ScanStatus.SKIPPED))
            return
        item, event = video_rows(video, self.pipeline, self.match)
        work.batch.append(item)
        work.events.append(event)
        work.unused_crops += video.unused_crops


def _is_known(store: LibraryStore, embedder: str, sha256: str) -> bool:
    return store.media_id(sha256, embedder) is not None


@dataclass
class _ChunkWrites:
    """What one chunk will store: new media, paths of known content ``(sha256, path)``,
    failures; the events to report, and crops to delete once committed."""

    new: dict[str, AnalyzedFile] = field(default_factory=dict)
    batch: list[NewMedia] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    failures: list[MediaFailure] = field(default_factory=list)
    events: list[ScanEvent] = field(default_factory=list)
    unused_crops: list[str] = field(default_factory=list)

    def add(self, result: AnalyzedFile) -> None:
        if result.status == FileStatus.FAILED:
            assert result.error is not None
            failure = MediaFailure.from_error(result.error)
            self.failures.append(failure)
            self.events.append(ScanEvent(result.path, ScanStatus.FAILED, failure=failure))
        elif result.status == FileStatus.ANALYZED and result.sha256 not in self.new:
            self.new[result.sha256] = result
        else:  # known content, or a copy of content met earlier in the chunk
            self.seen.append((result.sha256, result.path))
            self.events.append(ScanEvent(result.path, ScanStatus.SKIPPED))


class _LeaseKeeper:
    """Renews the lease of the chunk being worked on, from a thread with its own store."""

    def __init__(self, open_store: Callable[[], LibraryStore], owner: str, lease_s: float):
        self.open_store = open_store
        self.owner = owner
        self.lease_s = lease_s
        self._chunk: int | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, chunk_id: int) -> Iterator[None]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)
            self._thread.start()
        with self._lock:
            self._chunk = chunk_id
        try:
            yield
        finally:
            with self._lock:
                self._chunk = None

    def stop(self) -> None:
        self._stopped.set()

    def _renew(self) -> None:
        store = self.open_store()
        try:
            while not self._stopped.wait(self.lease_s / 3):
                with self._lock:
                    chunk = self._chunk
                if chunk is None:
                    continue
                # a lost lease shows at the commit, which then rolls back; a failed
                # renewal (the database busy) is tried again at the next tick
                try:
                    store.renew_scan_chunk(chunk, self.owner, time.time() + self.lease_s)
                except FaceSightError:
                    continue
        finally:
            store.close()
