"""Running analysis tasks on worker processes (or in this process), results in task order.

Shared by the scan (``scan/collection.py``: it hands a database to skip known
content and a folder for crops) and the ``embed`` export (``describe_stills``:
neither). At most ``2 x workers`` tasks are in flight, so memory stays flat
however many files there are; a worker is replaced after ``tasks_per_worker``
tasks; workers are started with ``spawn`` and never re-run the caller's script.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from facesight.defaults import DEFAULT_RATE_FPS
from facesight.errors import WorkerError
from facesight.scan.workers import (
    AnalyzedFile,
    AnalyzedSegment,
    FileAnalyzer,
    PipelineSpec,
    Task,
    analyze_in_worker,
    start_worker,
)
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "IN_PROCESS_BELOW",
    "SMALL_FILE_BYTES",
    "Analysis",
    "analyzed",
    "describe_stills",
    "image_tasks",
    "task_full",
]

IN_PROCESS_BELOW = 8
"""Scans of fewer files run in this process: starting workers costs about a second."""

SMALL_FILE_BYTES = 64 * 1024
"""Files averaging less than this go up to four times ``files_per_task`` to a task.

Four 250x250 portraits (~15 KB each; ``bench/scan_vs_face_recognition.py``) make a
small task: a descriptor batch of ~10 chips, and a round trip to the scanning process
and a transaction there for every four files. Sixteen files of under 64 KB (a JPEG of
that size holds well under a megapixel) decode to less than four 1024 px photos."""

Result = list[AnalyzedFile] | AnalyzedSegment


@dataclass(frozen=True)
class Analysis:
    """Where and how tasks are analysed.

    Attributes:
        pipeline: the models, used in this process when ``in_process``.
        spec: how workers build the same models.
        database: the library's SQLite file or PostgreSQL URL, read to skip known content; None
            skips nothing.
        crops_dir: where face crops are written; None writes none.
        max_pixels: larger images (and video frames) are refused.
        workers: analysing processes.
        in_process: analyse in this process instead (small jobs).
        tasks_per_worker: a worker is replaced by a fresh one after this many tasks.
        rate_fps: analysed video frames per second of footage, besides scene cuts.
    """

    pipeline: FacePipeline
    spec: PipelineSpec
    database: Path | str | None
    crops_dir: Path | None
    max_pixels: int
    workers: int
    in_process: bool
    tasks_per_worker: int = 250
    rate_fps: float = DEFAULT_RATE_FPS


def analyzed(
    tasks: Iterator[Task | AnalyzedFile], analysis: Analysis
) -> Generator[Result, None, None]:
    """Each task's result, in order; finished ``AnalyzedFile`` items pass through."""
    a = analysis
    if a.in_process:
        analyzer = FileAnalyzer(a.pipeline, a.database, a.crops_dir, a.max_pixels, a.rate_fps)
        try:
            for task in tasks:
                yield [task] if isinstance(task, AnalyzedFile) else analyzer.run(task)
        finally:
            analyzer.close()
        return
    a.spec.prepare()
    # spawn, not fork: the parent holds ONNX Runtime threads, which fork does not copy safely.
    context = multiprocessing.get_context("spawn")
    initargs = (a.spec, a.database, a.crops_dir, a.max_pixels, a.rate_fps)
    with (
        _main_script_not_rerun(),
        ProcessPoolExecutor(
            a.workers, context, start_worker, initargs, max_tasks_per_child=a.tasks_per_worker
        ) as pool,
    ):
        pending: deque[tuple[Task, Future[Result]]] = deque()
        try:
            for task in tasks:
                if isinstance(task, AnalyzedFile):
                    yield [task]
                    continue
                pending.append((task, pool.submit(analyze_in_worker, task)))
                if len(pending) >= 2 * a.workers:
                    yield _result(*pending.popleft())
            while pending:
                yield _result(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()


def task_full(files: int, total_bytes: int, files_per_task: int) -> bool:
    """Whether a task of ``files`` files of ``total_bytes`` takes no more: at
    ``files_per_task`` files, or up to four times that while they are small files."""
    if files >= 4 * files_per_task:
        return True
    return files >= files_per_task and total_bytes >= files * SMALL_FILE_BYTES


def image_tasks(paths: Iterable[str], files_per_task: int) -> Iterator[list[str]]:
    """``paths`` cut into tasks (``task_full``), in order."""
    task: list[str] = []
    total = 0
    for path in paths:
        task.append(path)
        total += file_size(path)
        if task_full(len(task), total, files_per_task):
            yield task
            task, total = [], 0
    if task:
        yield task


def file_size(path: str) -> int:
    """Bytes of a file; 0 when it cannot be read (reported when its task comes)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def describe_stills(
    paths: list[str],
    pipeline: FacePipeline,
    *,
    max_pixels: int,
    workers: int,
    files_per_task: int = 4,
) -> Iterator[AnalyzedFile]:
    """One ``AnalyzedFile`` per still image of ``paths``, in order: hashed, decoded,
    described; bad files come back ``failed``. Nothing is stored, no crop is written.

    Few files run in this process; more run on ``workers`` processes, as a scan does.
    """
    tasks = image_tasks(paths, files_per_task)
    analysis = Analysis(
        pipeline,
        PipelineSpec.of(pipeline),
        database=None,
        crops_dir=None,
        max_pixels=max_pixels,
        workers=workers,
        in_process=len(paths) < IN_PROCESS_BELOW,
    )
    for result in analyzed(tasks, analysis):
        assert isinstance(result, list)  # still images only: no video segments
        yield from result


@contextmanager
def _main_script_not_rerun() -> Iterator[None]:
    """Keep spawned workers from importing the caller's ``__main__`` script.

    multiprocessing's spawn re-imports the parent's main script in every
    worker, which runs a script's top-level code (a scan, again) unless it is
    guarded by ``if __name__ == "__main__"``. Our workers need nothing from it:
    their code lives in ``facesight.scan.workers``.
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


def _result(task: Task, future: Future[Result]) -> Result:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        what = (
            f"{task[0]} and {len(task) - 1} other file(s)"
            if isinstance(task, list)
            else f"{task.path} (segment {task.index + 1} of {task.count})"
        )
        raise WorkerError(
            f"a scan worker died (killed or out of memory) while analysing {what};"
            " run the scan again to resume"
        ) from exc
