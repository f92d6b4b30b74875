"""Background jobs: work that outlasts a request (scans, re-matching, clustering, reports,
reindexing), queued in the library's ``jobs`` table and run by a worker process
(``library.job_worker``; ``facesight jobs work``, started by ``facesight serve``).

:class:`JobService` (``Library.jobs``) queues, lists and cancels jobs and lists the files a
job wrote; each submit and cancel is written with its audit record (``job.submit``,
``job.cancel``) under the acting account. A job never holds a path from a request: its
params are ids, names and choices, checked here against its kind.

A runner (``library.job_runners.RUNNERS``) gets a :class:`JobProgress`: it reports how far
it is, one line per bad input, and is stopped by :class:`~facesight.errors.JobCancelledError`
at its next report once someone cancelled the job. Progress is written at most once per
``PROGRESS_INTERVAL_S`` (a scan reports each file; a page polling each second sees it move).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from facesight.clock import utc_now_iso
from facesight.errors import InvalidInputError, JobCancelledError, NotFoundError
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.jobs import JobRow
from facesight.store.protocol import LibraryStore

__all__ = [
    "MAX_FAILURES_KEPT",
    "PROGRESS_INTERVAL_S",
    "Job",
    "JobFile",
    "JobKind",
    "JobProgress",
    "JobService",
    "JobState",
]

PROGRESS_INTERVAL_S = 1.0
"""Fewest seconds between two progress writes of one job (the job page polls each second)."""
CANCEL_CHECK_S = 0.1
"""Fewest seconds between two looks at a running job's cancel flag between progress writes
(one read of one row): a cancel lands at the job's next step, not its next write."""
MAX_FAILURES_KEPT = 200
"""Failure lines kept per job (the first ones; ``failure_count`` keeps counting): a scan of a
folder of broken files cannot grow one row without bound."""
MAX_PARAMS_CHARS = 2000
"""Longest a job's params may be as JSON: they are ids, names and choices."""
_PARAM_KEY = re.compile(r"^[a-z_]{1,40}$")
_PATH_LIKE = re.compile(r"^[/\\~]|\.\.[/\\]|^[A-Za-z]:[/\\]")


class JobKind(StrEnum):
    """What a job does (``library.job_runners.RUNNERS`` maps each to its runner)."""

    SCAN = "scan"
    REMATCH = "rematch"
    CLUSTER = "cluster"
    REPORT = "report"
    REINDEX = "reindex"


class JobState(StrEnum):
    """Where a job stands. ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled``;
    a running job whose worker died goes back to ``queued`` (``job_worker.recover``)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class Job:
    """One job: what, with which params, how far, and how it ended.

    ``done`` of ``total`` (None: not known yet) and ``message`` are its progress;
    ``failures`` the first ``MAX_FAILURES_KEPT`` bad inputs (file and problem), of
    ``failure_count``; ``result`` what its runner returned; ``error`` why it failed.
    Times are ISO 8601 UTC.
    """

    id: int
    kind: JobKind
    params: dict[str, Any]
    state: JobState
    done: int
    total: int | None
    message: str
    failures: list[str]
    failure_count: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any]
    cancel_requested: bool
    attempts: int
    error: str

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled: it will not change again."""
        return self.state in FINISHED_STATES

    @property
    def fraction(self) -> float | None:
        """How far it is, 0..1 (1 once done); None while its total is unknown."""
        if self.state is JobState.DONE:
            return 1.0
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True)
class JobFile:
    """A file a job wrote in its output folder: its number in :meth:`JobService.files`
    (what a download names), file name, size in bytes and SHA-256 (hex)."""

    index: int
    name: str
    size: int
    sha256: str


def job_of(row: JobRow) -> Job:
    """The library's view of a ``jobs`` row."""
    return Job(
        id=row.id,
        kind=JobKind(row.kind),
        params=row.params,
        state=JobState(row.state),
        done=row.done,
        total=row.total,
        message=row.message,
        failures=row.failures,
        failure_count=row.failure_count,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        result=row.result,
        cancel_requested=row.cancel_requested,
        attempts=row.attempts,
        error=row.error,
    )


class JobProgress:
    """What a runner reports through: progress, bad inputs, and whether to stop.

    Args:
        store: the worker's store (progress is written in its own short transactions).
        job: the running job.
        worker: the worker holding it (a write is refused once it no longer does).
        output_dir: ``<library>/jobs/<id>/`` (made 0700), for the files the job writes.
        clock: seconds, monotonic (the tests' own clock may be handed in).
    """

    def __init__(
        self,
        store: LibraryStore,
        job: Job,
        worker: str,
        output_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.job = job
        self._worker = worker
        self.output_dir = output_dir
        self._clock = clock
        self._last_write = -PROGRESS_INTERVAL_S
        self._last_check = -CANCEL_CHECK_S
        self.done, self.total, self.message = job.done, job.total, job.message
        self.failures: list[str] = list(job.failures)
        self.failure_count = job.failure_count
        self._cancelled = job.cancel_requested

    def update(self, done: int, total: int | None = None, message: str = "") -> None:
        """``done`` of ``total`` (None: keep the last total) with a line of text; written at
        most once per ``PROGRESS_INTERVAL_S``.

        Raises:
            JobCancelledError: the job was cancelled (looked at every ``CANCEL_CHECK_S``).
        """
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        if message:
            self.message = message
        now = self._clock()
        if now - self._last_write >= PROGRESS_INTERVAL_S:
            self.flush()
        elif now - self._last_check >= CANCEL_CHECK_S:
            self.check_cancelled()
        self._raise_if_cancelled()

    def failure(self, line: str) -> None:
        """One bad input (file and problem, one line); the first ``MAX_FAILURES_KEPT`` are kept."""
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(" ".join(line.split())[:500])

    def check_cancelled(self) -> None:
        """Raises ``JobCancelledError`` once the job was cancelled (asks the database)."""
        self._last_check = self._clock()
        if not self._cancelled:
            self._cancelled = self._store.jobs.cancel_requested(self.job.id)
        self._raise_if_cancelled()

    def flush(self) -> None:
        """Write the progress now (the worker does at the end of a job)."""
        self._last_write = self._last_check = self._clock()
        with self._store.transaction() as conn:
            self._store.jobs.progress(
                conn,
                self.job.id,
                self._worker,
                done=self.done,
                total=self.total,
                message=self.message,
                failures=self.failures,
                failure_count=self.failure_count,
                now_s=time.time(),
            )
            row = self._store.jobs.get(self.job.id, conn)
        self._cancelled = self._cancelled or (row is not None and row.cancel_requested)

    def _raise_if_cancelled(self) -> None:
        if self._cancelled:
            raise JobCancelledError(f"job {self.job.id} ({self.job.kind}) was cancelled")


class JobService:
    """The library's jobs (``Library.jobs``).

    Args:
        store: the library database.
        audit: its audit log (submits and cancels are recorded under its actor).
        jobs_dir: ``<library>/jobs``: each job's output folder is ``jobs_dir/<id>``.
    """

    def __init__(self, store: LibraryStore, audit: AuditLog, jobs_dir: Path) -> None:
        self._store = store
        self._audit = audit
        self.jobs_dir = jobs_dir

    def submit(self, kind: JobKind | str, params: dict[str, Any] | None = None) -> Job:
        """Queue a job (audited ``job.submit``, by the acting account); a worker runs it.

        Raises:
            InvalidInputError: an unknown kind, or params that are not a small JSON object
                of ids, names and choices.
        """
        kind = _kind(kind)
        params = _checked_params(params or {})
        with self._store.transaction() as conn:
            job_id = self._store.jobs.add(conn, kind, params, self._audit.actor, utc_now_iso())
            self._audit.record(conn, AuditAction.JOB_SUBMIT, counts={"job": job_id}, details=kind)
        return self.job(job_id)

    def job(self, job_id: int) -> Job:
        """One job.

        Raises:
            NotFoundError: there is no job ``job_id``.
        """
        row = self._store.jobs.get(int(job_id))
        if row is None:
            raise NotFoundError(f"there is no job {job_id}: `facesight jobs list` lists them")
        return job_of(row)

    def jobs(
        self,
        *,
        kind: JobKind | str | None = None,
        state: JobState | str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Jobs newest first (ids below ``before``: the next page), of one kind or state."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError(f"a page of jobs holds 1 to 1000, got {limit}")
        state_value = None if state is None else _state(state)
        rows = self._store.jobs.page(
            kind=None if kind is None else _kind(kind),
            state=state_value,
            before=before,
            limit=limit,
        )
        return [job_of(r) for r in rows]

    def cancel(self, job_id: int) -> Job:
        """Cancel a job (audited ``job.cancel``): a queued one at once, a running one when
        its runner next reports; a finished one is left as it is (and nothing recorded).

        Raises:
            NotFoundError: there is no job ``job_id``.
        """
        with self._store.transaction() as conn:
            was = self._store.jobs.request_cancel(conn, int(job_id), utc_now_iso())
            if was is None:
                raise NotFoundError(f"there is no job {job_id}: `facesight jobs list` lists them")
            if was in (JobState.QUEUED, JobState.RUNNING):
                self._audit.record(
                    conn, AuditAction.JOB_CANCEL, counts={"job": int(job_id)}, details=was
                )
        return self.job(job_id)

    def output_dir(self, job_id: int) -> Path:
        """``<library>/jobs/<id>``: where a job writes its files (not made here)."""
        return self.jobs_dir / str(int(job_id))

    def files(self, job_id: int) -> list[JobFile]:
        """The files job ``job_id`` wrote (regular files of its output folder, by name;
        links and folders are not listed), numbered from 0."""
        self.job(job_id)
        folder = self.output_dir(job_id)
        if not folder.is_dir():
            return []
        found = sorted(
            p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and _shown(p.name)
        )
        return [JobFile(i, p.name, p.stat().st_size, _sha256(p)) for i, p in enumerate(found)]

    def file(self, job_id: int, index: int) -> Path:
        """The file numbered ``index`` in :meth:`files`.

        Raises:
            NotFoundError: no such job or file.
        """
        files = self.files(job_id)
        if not 0 <= index < len(files):
            raise NotFoundError(f"job {job_id} has no file {index} (it has {len(files)})")
        return self.output_dir(job_id) / files[index].name


def _shown(name: str) -> bool:
    # a file being written (atomically, under a temporary name) is not offered yet
    return not name.startswith(".") and not name.endswith(".tmp")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(kind: JobKind | str) -> JobKind:
    try:
        return JobKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in JobKind)
        raise InvalidInputError(f"unknown job kind {kind!r}: one of {known}") from None


def _state(state: JobState | str) -> JobState:
    try:
        return JobState(state)
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidInputError(f"unknown job state {state!r}: one of {known}") from None


def _checked_params(params: dict[str, Any]) -> dict[str, Any]:
    """Params are a flat JSON object of ids, names and choices (never a path: a worker
    reads none from a request)."""
    if not isinstance(params, dict):
        raise InvalidInputError("a job's params are a JSON object")
    for key, value in params.items():
        if not isinstance(key, str) or not _PARAM_KEY.match(key):
            raise InvalidInputError(f"a job's param names are lowercase words, got {key!r}")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None and not isinstance(item, (str, int, float, bool)):
                raise InvalidInputError(f"job param {key!r} must be a name, number or choice")
            if isinstance(item, str) and (_PATH_LIKE.search(item) or "\x00" in item):
                raise InvalidInputError(f"job param {key!r} cannot hold a path")
    if len(json.dumps(params)) > MAX_PARAMS_CHARS:
        raise InvalidInputError(f"a job's params are at most {MAX_PARAMS_CHARS} characters")
    return params
