"""The job worker: drains the library's job queue, one job at a time, in its own process
(``facesight jobs work``; ``facesight serve`` starts one beside the web server).

A worker claims the oldest queued job (``store.jobs``: one atomic ``UPDATE``), runs its
runner (``job_runners.RUNNERS``) with a ``JobProgress`` and records how it ended: done
with its result, failed with the error's line, or cancelled. While a job runs, a thread
with its own database connection writes the job's heartbeat every ``HEARTBEAT_S``.

Nothing is lost when a worker dies (``kill -9``, power loss, a server restart): a job left
running is found by :func:`recover`, at a worker's start and at each poll, when its
worker's process is gone (same host: no such pid, a zombie, or a pid reused by a process
started later) or, on another host, its heartbeat is older than ``STALE_AFTER_S``,
and is queued again; after ``MAX_ATTEMPTS`` starts it is marked failed with the reason.
Every kind is safe to run again from the start (``job_runners``). A worker stopped on
purpose (:class:`WorkerStopped`, raised by the CLI's SIGTERM handler) puts its job back in
the queue without counting the attempt.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from facesight.clock import utc_now_iso
from facesight.errors import FaceSightError, JobCancelledError, NotFoundError
from facesight.library.facade import Library
from facesight.library.job_runners import RUNNERS, Runner
from facesight.library.jobs import Job, JobKind, JobProgress, JobState, job_of
from facesight.store.backend import open_store

__all__ = [
    "HEARTBEAT_S",
    "MAX_ATTEMPTS",
    "POLL_S",
    "STALE_AFTER_S",
    "Recovered",
    "WorkerStopped",
    "recover",
    "run_worker",
    "watch_parent",
    "worker_name",
]

MAX_ATTEMPTS = 3
"""Starts of one job before a worker dying under it marks it failed (the issue's 3)."""
HEARTBEAT_S = 2.0
"""Seconds between two heartbeats of a running job."""
STALE_AFTER_S = 30.0
"""A running job whose heartbeat is older is taken as its worker's death (15 missed beats:
a worker on another host, or a pid reused by another process)."""
POLL_S = 1.0
"""Seconds an idle worker waits before looking at the queue again (a job page polls each
second too: a submitted job starts within about this)."""


class WorkerStopped(BaseException):
    """The worker was told to stop (SIGTERM, its parent gone): the running job goes back to
    the queue, its attempt not counted. A ``BaseException``: no runner's ``except
    Exception`` may swallow it."""


@dataclass(frozen=True)
class Recovered:
    """A running job whose worker died: queued again, or failed after ``MAX_ATTEMPTS``."""

    job_id: int
    worker: str
    state: JobState


def worker_name() -> str:
    """``host:pid:start`` (the start tells a reused pid apart in the job's record)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


def _process_alive(worker: str | None) -> bool | None:
    """Whether a worker's process lives: None when it is on another host (not knowable).
    A zombie, or a process that started after the worker did (its pid reused), is not it."""
    if worker is None:
        return False
    host, pid_text, start_text = ([*worker.split(":"), "", ""])[:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if not _pid_alive(pid):
        return False
    started = _process_started_s(pid)
    if started is None:  # no /proc (not Linux): the pid is all there is to go by
        return True
    return not (started == 0.0 or (start_text.isdigit() and started > int(start_text) + 5))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _process_started_s(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch, from ``/proc``); 0.0 for a
    zombie (dead, not yet reaped by its parent); None where there is no ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return 0.0
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def recover(
    library: Library,
    *,
    now_s: float | None = None,
    stale_s: float = STALE_AFTER_S,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Recovered]:
    """Queue again (or fail, after ``max_attempts`` starts) every running job whose worker
    died: its process is gone, or its heartbeat is older than ``stale_s``."""
    now = time.time() if now_s is None else now_s
    store = library.store
    recovered = []
    for row in store.jobs.running():
        alive = _process_alive(row.worker)
        stale = row.heartbeat_s is None or now - row.heartbeat_s > stale_s
        # a live worker on this host keeps its job however long a write held its beats up
        if alive is True or (alive is None and not stale):
            continue
        worker = row.worker or "an unknown worker"
        with store.transaction() as conn:
            if row.attempts >= max_attempts:
                error = (
                    f"its worker stopped {row.attempts} times while running it (last {worker}, "
                    "killed or its machine lost power); not run again: submit it anew"
                )
                ended = store.jobs.finish(
                    conn,
                    row.id,
                    row.worker,
                    state=JobState.FAILED,
                    result={},
                    error=error,
                    at=utc_now_iso(),
                )
                state = JobState.FAILED
            else:
                message = (
                    f"its worker ({worker}) stopped; queued again "
                    f"(attempt {row.attempts + 1} of {max_attempts})"
                )
                ended = store.jobs.requeue(conn, row.id, row.worker, message, uncount=False)
                state = JobState.QUEUED
        if ended:
            recovered.append(Recovered(row.id, worker, state))
    return recovered


class _Heartbeat:
    """Beats for one running job from its own thread and database connection."""

    def __init__(self, library: Library, job_id: int, worker: str, every_s: float) -> None:
        self._location, self._files = library.location, library.path
        self._job_id, self._worker, self._every_s = job_id, worker, every_s
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        store = open_store(self._location, files_dir=self._files, create=False)
        try:
            while not self._stop.wait(self._every_s):
                with contextlib.suppress(FaceSightError):  # a busy database: the next beat
                    with store.transaction() as conn:
                        held = store.jobs.beat(conn, self._job_id, self._worker, time.time())
                    self.lost = self.lost or not held
        finally:
            store.close()


def _acting(library: Library, name: str) -> contextlib.AbstractContextManager[None]:
    """Run as the account that submitted the job (its audit records name it); a job
    submitted from the CLI names an operating-system user, and runs as the worker's."""
    try:
        account = library.accounts.account(name)
    except NotFoundError:
        return contextlib.nullcontext()
    return contextlib.nullcontext() if account.disabled else library.acting_as(name)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def run_job(
    library: Library,
    job: Job,
    worker: str,
    *,
    runners: Mapping[JobKind, Runner] = RUNNERS,
    heartbeat_s: float = HEARTBEAT_S,
    on_message: Callable[[str], None] | None = None,
) -> Job:
    """Run one claimed job to its end and record it; the job as it ended.

    Raises:
        WorkerStopped: the worker was told to stop; the job is back in the queue.
    """
    say = on_message or (lambda line: None)
    output_dir = library.jobs.output_dir(job.id)
    output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    progress = JobProgress(library.store, job, worker, output_dir)
    runner = runners.get(job.kind)
    started = time.monotonic()
    state, result, error = JobState.DONE, {}, ""
    with _Heartbeat(library, job.id, worker, heartbeat_s):
        try:
            if runner is None:
                raise FaceSightError(f"this facesight has no runner for {job.kind} jobs")
            library.notice_changes()  # the web server or the CLI may have changed references
            with _acting(library, job.created_by):
                result = runner(library, job, progress)
            progress.flush()
        except JobCancelledError:
            state = JobState.CANCELLED
        except (WorkerStopped, KeyboardInterrupt):
            _requeue(library, job.id, worker)
            say(f"job {job.id} ({job.kind}) put back in the queue: the worker was stopped")
            raise
        except FaceSightError as exc:
            state, error = JobState.FAILED, _first_line(exc)
        except Exception as exc:  # a bug: the job fails with its line, the trace is logged
            state, error = JobState.FAILED, f"{type(exc).__name__}: {_first_line(exc)}"
            say("".join(traceback.format_exception(exc)).rstrip())
    with contextlib.suppress(FaceSightError):
        progress.flush()
    with library.store.transaction() as conn:
        library.store.jobs.finish(
            conn, job.id, worker, state=state, result=result, error=error, at=utc_now_iso()
        )
    ended = library.jobs.job(job.id)
    say(
        f"job {job.id} ({job.kind}) {ended.state} after {time.monotonic() - started:.1f} s"
        + (f": {error}" if error else "")
    )
    return ended


def _requeue(library: Library, job_id: int, worker: str) -> None:
    message = "the worker was stopped; queued again"
    with library.store.transaction() as conn:
        library.store.jobs.requeue(conn, job_id, worker, message, uncount=True)


def claim(library: Library, worker: str) -> Job | None:
    """The oldest queued job, now running under ``worker``; None when the queue is empty."""
    if not library.store.jobs.any_queued():  # a read: an idle worker takes no write lock
        return None
    with library.store.transaction() as conn:
        row = library.store.jobs.claim(conn, worker, time.time(), utc_now_iso())
    return None if row is None else job_of(row)


def run_worker(
    library: Library,
    *,
    runners: Mapping[JobKind, Runner] = RUNNERS,
    stop: threading.Event | None = None,
    until_empty: bool = False,
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
    stale_s: float = STALE_AFTER_S,
    max_attempts: int = MAX_ATTEMPTS,
    on_message: Callable[[str], None] | None = None,
) -> int:
    """Run queued jobs one at a time until ``stop`` is set (or, ``until_empty``, the queue
    is empty); the number of jobs run. Dead workers' jobs are recovered at the start and
    at each idle poll.

    Raises:
        WorkerStopped: raised into the worker (SIGTERM); the running job is back in the
            queue.
    """
    stop = stop or threading.Event()
    say = on_message or (lambda line: None)
    worker = worker_name()
    ran = 0
    while not stop.is_set():
        for found in recover(library, stale_s=stale_s, max_attempts=max_attempts):
            say(f"job {found.job_id}: its worker {found.worker} died; now {found.state}")
        job = claim(library, worker)
        if job is None:
            if until_empty:
                break
            stop.wait(poll_s)
            continue
        say(f"job {job.id} ({job.kind}) started by {worker}, attempt {job.attempts}")
        run_job(library, job, worker, runners=runners, heartbeat_s=heartbeat_s, on_message=say)
        ran += 1
    return ran


def watch_parent(parent_pid: int, on_gone: Callable[[], None], every_s: float = 1.0) -> None:
    """Call ``on_gone`` (once, from a daemon thread) when process ``parent_pid`` is no
    longer this process's parent: the server that started the worker died."""

    def watch() -> None:
        while os.getppid() == parent_pid and _pid_alive(parent_pid):
            time.sleep(every_s)
        on_gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
