"""A scan on a Ray cluster: the files in chunks in the library, Ray actors storing each.

The driver (this process) walks the roots, records the files in chunks of the library's
``scan_chunks`` table (``store.scan_chunks``; a rerun of the same roots finds the chunks
of an unfinished scan and goes on with them), starts Ray actors, each a
``scan.chunk_worker.ChunkWorker`` with its models loaded once and its own connection to
the library, and keeps every actor asking for the next chunk. Each actor stores its chunk
in one transaction and sends back one event per file, which the driver shows as progress
across the cluster. An actor that dies (killed, out of memory, its node lost) has its
chunk released at once and a new actor takes its place; a chunk that kills
``max_attempts`` actors is left failed (a rerun tries it again). If the driver dies, its
actors go with it and the leases of their chunks run out: the next run takes them.

Ray is an optional extra (``facesight[ray]``), imported only here and only when a scan
asks for it. Ray has no authentication worth the name: run the cluster on a private
network only. Every node must see the media and the library folder at the same paths and
have facesight installed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from facesight.errors import MediaError, MissingExtraError, WorkerError
from facesight.records import FailureKind, MediaFailure, ScanEvent, ScanStatus, ScanSummary
from facesight.scan.batch import Matcher
from facesight.scan.chunk_worker import ChunkOptions, ChunkReport, ChunkWorker
from facesight.scan.collection import ScanOptions, count_event, walk_media
from facesight.scan.workers import PipelineSpec
from facesight.store.protocol import LibraryStore

__all__ = ["RayOptions", "import_ray", "scan_id_of", "scan_on_ray"]


@dataclass(frozen=True)
class RayOptions:
    """Where and how a Ray scan runs.

    Attributes:
        address: the cluster: ``auto`` (the one this machine joined with ``ray start``),
            ``HOST:PORT`` of its head, or None for a Ray of this machine alone, started
            for the scan (or the one this process already started).
        actors: scanning actors (0: one per CPU the cluster has, at most one per chunk).
        cpus_per_actor, gpus_per_actor: what each actor reserves; a GPU actor runs the
            models on its GPU when the scan's device allows.
        chunk_files: files per chunk (one claim, one transaction). Smaller loses less
            work to a dead actor and balances the end of a scan; larger claims less often.
        lease_s, max_attempts: see ``ChunkOptions``.
        poll_s: how often an idle actor looks for a chunk freed by another's death.
        sqlite_single_machine: for tests and benchmarks only: actors on this one machine
            share a SQLite library (a cluster needs PostgreSQL; the library refuses
            SQLite unless this is set).
    """

    address: str | None = None
    actors: int = 0
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    chunk_files: int = 16
    lease_s: float = 60.0
    max_attempts: int = 3
    poll_s: float = 1.0
    sqlite_single_machine: bool = False


def import_ray() -> ModuleType:
    """The ``ray`` module.

    Raises:
        MissingExtraError: Ray is not installed ("... install facesight[ray]").
    """
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingExtraError("a scan with --executor ray", "Ray", "ray") from exc


def scan_id_of(roots: Iterable[str | Path], embedder: str) -> str:
    """The name of a scan in ``scan_chunks``: its roots and descriptor version, so a rerun
    of the same roots goes on with the same chunks."""
    key = json.dumps([sorted(os.path.abspath(r) for r in roots), embedder])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class _ChunkActor:
    """The Ray actor: a ``ChunkWorker`` in a Ray worker process."""

    def __init__(self, *args: Any) -> None:
        self.worker = ChunkWorker(*args)

    def next_chunk(self, scan_id: str) -> ChunkReport | None:
        return self.worker.next_chunk(scan_id)

    def pid(self) -> int:
        """This actor's process id (tests kill it)."""
        return os.getpid()


@dataclass
class _Scan:
    """The driver's view of one scan in progress."""

    scan_id: str
    store: LibraryStore
    options: RayOptions
    summary: ScanSummary
    on_event: Callable[[ScanEvent], None] | None
    stop_on_error: bool = False


def scan_on_ray(
    roots: Iterable[str | Path],
    *,
    store: LibraryStore,
    open_store: Callable[[], LibraryStore],
    spec: PipelineSpec,
    embedder: str,
    match: Matcher,
    crops_dir: Path,
    options: ScanOptions,
    ray_options: RayOptions,
    on_start: Callable[[int], None] | None = None,
    on_event: Callable[[ScanEvent], None] | None = None,
) -> ScanSummary:
    """Scan files and folders into the library on a Ray cluster; return the counts.

    Args:
        store: the library, in this process.
        open_store: opens the same library in an actor (picklable, for every node).
        spec: how actors build the models; ``embedder`` their descriptor version.
        match: ranks enrolled people (a picklable ``GalleryMatcher``).
        crops_dir: the library's crops folder (the same path on every node).

    Raises:
        MissingExtraError: Ray is not installed.
        WorkerError: actors keep dying before they store anything, or one failed.
        MediaError: a file could not be used and ``options.stop_on_error`` is set (its
            chunk is stored; running the scan again goes on with the others).
    """
    ray = import_ray()
    started = time.perf_counter()
    roots = list(roots)
    summary = ScanSummary()
    paths = walk_media(roots, store, summary, options, on_event)
    scan_id = scan_id_of(roots, embedder)
    scan = _Scan(scan_id, store, ray_options, summary, on_event, options.stop_on_error)
    waiting = _plan_chunks(scan, paths)
    if on_start:
        on_start(waiting)
    chunk_options = ChunkOptions(
        ray_options.lease_s,
        ray_options.max_attempts,
        options.files_per_task,
        options.max_pixels,
        options.video_rate_fps,
    )
    owned = not ray.is_initialized()
    if owned:
        # "local": a new Ray of this machine, never one a `ray start` left running
        address = ray_options.address or "local"
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(_ChunkActor)

        def start(name: str) -> Any:
            actor = remote.options(
                name=name,
                num_cpus=ray_options.cpus_per_actor,
                num_gpus=ray_options.gpus_per_actor,
                max_restarts=0,
            )
            return actor.remote(open_store, spec, match, crops_dir, name, chunk_options)

        count = ray_options.actors or max(
            int(ray.cluster_resources().get("CPU", 1) // ray_options.cpus_per_actor), 1
        )
        chunks = store.scan_chunk_counts(scan.scan_id, time.time())
        _drive(ray, scan, start, max(min(count, chunks.pending + chunks.running), 1))
    finally:
        if owned:
            ray.shutdown()
    _finish(scan)
    summary.seconds = time.perf_counter() - started
    return summary


def _plan_chunks(scan: _Scan, paths: list[str]) -> int:
    """Record the files not yet in a chunk of this scan (all of them for a new scan) and
    free the chunks a dead run left; the number of files waiting to be stored."""
    store, size = scan.store, max(scan.options.chunk_files, 1)
    existing = store.scan_chunks(scan.scan_id)
    if existing:
        store.reopen_scan_chunks(scan.scan_id, time.time())
    chunked = {p for chunk in existing for p in chunk.paths}
    new = [p for p in paths if p not in chunked]
    store.add_scan_chunks(scan.scan_id, [new[i : i + size] for i in range(0, len(new), size)])
    return sum(len(c.paths) for c in store.scan_chunks(scan.scan_id) if c.state != "done")


def _drive(ray: ModuleType, scan: _Scan, start: Callable[[str], Any], count: int) -> None:
    """Keep ``count`` actors asking for chunks until none is left to claim or leased."""
    run = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    names = [f"{run}/actor-{i}" for i in range(count)]
    actors = [start(name) for name in names]
    in_flight = {actors[i].next_chunk.remote(scan.scan_id): i for i in range(count)}
    idle: dict[int, float] = {}  # actor -> when to ask again
    deaths, stored = 0, False
    try:
        while in_flight or idle:
            now = time.monotonic()
            for i in [i for i, at in idle.items() if at <= now]:
                del idle[i]
                in_flight[actors[i].next_chunk.remote(scan.scan_id)] = i
            if not in_flight:
                time.sleep(max(min(idle.values()) - now, 0.0))
                continue
            timeout = max(min(idle.values()) - now, 0.0) if idle else scan.options.poll_s
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
            for ref in ready:
                i = in_flight.pop(ref)
                try:
                    report = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    deaths += 1
                    _replace_dead(scan, names, actors, i, deaths, stored, exc, start)
                    in_flight[actors[i].next_chunk.remote(scan.scan_id)] = i
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise WorkerError(
                        f"a scan actor failed: {exc.cause if exc.cause else exc}; "
                        "run the scan again to resume"
                    ) from exc
                if report is not None:
                    stored = True
                    _record(scan, report)
                    in_flight[actors[i].next_chunk.remote(scan.scan_id)] = i
                elif _work_left(scan):
                    idle[i] = time.monotonic() + scan.options.poll_s
    finally:
        for actor in actors:
            ray.kill(actor)


def _replace_dead(
    scan: _Scan,
    names: list[str],
    actors: list[Any],
    i: int,
    deaths: int,
    stored: bool,
    error: Exception,
    start: Callable[[str], Any],
) -> None:
    """Release a dead actor's chunk at once and start another in its place (unless
    actors die before anything was stored: a setup that cannot work)."""
    scan.store.release_scan_chunks(scan.scan_id, names[i], scan.options.max_attempts)
    if not stored and deaths >= len(actors) * scan.options.max_attempts:
        raise WorkerError(
            f"scan actors keep dying before storing anything ({deaths} so far; last: "
            f"{error}); check that facesight and its models load on every node"
        )
    names[i] = f"{names[i].split('#')[0]}#{deaths}"
    actors[i] = start(names[i])


def _work_left(scan: _Scan) -> bool:
    """Whether a chunk may still become claimable: pending, or running (a live actor's
    lease, or a dead one's that runs out or is released)."""
    counts = scan.store.scan_chunk_counts(scan.scan_id, time.time())
    return counts.pending + counts.running > 0


def _record(scan: _Scan, report: ChunkReport) -> None:
    if report.lost:
        return  # another actor stored this chunk; its report counts
    for event in report.events:
        scan.summary.files_seen += 1
        if event.failure is not None:
            scan.summary.failures.append(event.failure)
        if event.status != ScanStatus.FAILED:
            count_event(scan.summary, event)
        if scan.on_event:
            scan.on_event(event)
        if scan.stop_on_error and event.failure is not None:
            # the chunk is stored (its failures recorded); a rerun goes on with the rest
            failure = event.failure
            raise MediaError(failure.path, failure.message)


def _finish(scan: _Scan) -> None:
    """Forget a scan whose every chunk is stored; report the files of failed chunks."""
    if scan.store.finish_scan_chunks(scan.scan_id):
        return
    for chunk in scan.store.scan_chunks(scan.scan_id):
        if chunk.state != "failed":
            continue
        for path in chunk.paths:
            failure = MediaFailure(
                path,
                FailureKind.FAILED,
                f"scan actors died {scan.options.max_attempts} times analysing the chunk "
                "holding this file; run the scan again to retry it",
            )
            scan.store.record_failure(failure)
            scan.summary.failures.append(failure)
            if scan.on_event:
                scan.on_event(ScanEvent(path, ScanStatus.FAILED, failure=failure))
