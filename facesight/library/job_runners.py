"""What each kind of background job runs: ``RUNNERS`` maps a ``JobKind`` to its runner.

A runner gets the worker's ``Library``, the job and its ``JobProgress``; it reports through
the progress (which raises ``JobCancelledError`` at the next report once the job was
cancelled) and returns what the job page shows as its result (a JSON object). Every runner
is safe to run again from the start: a worker that died mid-job leaves the job to be run
again (``job_worker``), and a rerun re-matches, re-clusters or re-describes what is there.

This module holds REMATCH, CLUSTER and REINDEX; SCAN and REPORT are added beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from facesight.library.facade import Library
from facesight.library.jobs import Job, JobKind, JobProgress
from facesight.library.unknowns import UnknownPeople
from facesight.records import MediaFailure, ScanEvent, ScanStatus, ScanSummary

__all__ = ["RUNNERS", "Runner", "ScanProgress", "failure_line", "scan_result"]

Runner = Callable[[Library, Job, JobProgress], dict[str, Any]]
"""A job's work: ``(library, job, progress) -> result`` (JSON-able)."""


def failure_line(failure: MediaFailure) -> str:
    """One failure as a job lists it: the file and its problem."""
    return f"{failure.path}: {failure.message}"


class ScanProgress:
    """A scan's ``on_start`` / ``on_event`` reporting to a job: files done of files found,
    each failed file one failure line (a scan job and a reindex use it)."""

    def __init__(self, progress: JobProgress, what: str = "files") -> None:
        self._progress = progress
        self._what = what
        self._done = 0
        self._total: int | None = None

    def start(self, total: int) -> None:
        self._total = total
        self._progress.update(0, total, f"0 of {total} {self._what}")

    def event(self, event: ScanEvent) -> None:
        if event.failure is not None:
            self._progress.failure(failure_line(event.failure))
        if event.status is ScanStatus.SEGMENT and event.part is not None:
            done, of = event.part
            message = f"{self._done} of {self._total} {self._what}; {event.path}: {done}/{of}"
            self._progress.update(self._done, self._total, message)
            return
        self._done += 1
        self._progress.update(
            self._done, self._total, f"{self._done} of {self._total} {self._what}"
        )


def scan_result(summary: ScanSummary) -> dict[str, Any]:
    """A scan summary as a job's result (its failures are the job's failure lines)."""
    result = asdict(summary)
    result.pop("failures")
    result["failures"] = len(summary.failures)
    return result


def run_rematch(library: Library, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Every stored face matched again against the current references."""
    progress.update(0, None, "matching every stored face against the references")
    faces = library.rematch()
    progress.update(faces, faces, f"{faces} face(s) matched again")
    return {"faces": faces}


def run_cluster(library: Library, job: Job, progress: JobProgress) -> dict[str, Any]:
    """The unknown people brought in step with the library (recomputed in full)."""
    progress.update(0, None, "grouping the faces that match nobody")
    unknowns = UnknownPeople(library)
    unknowns.refresh(force=True)
    clusters = unknowns.clusters()
    message = f"{len(clusters)} unknown people"
    progress.update(1, 1, message)
    return {"clusters": len(clusters)}


def run_reindex(library: Library, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Stale references and media described again (with ``params["model"]``: first made
    the active model)."""
    model = job.params.get("model")
    view = ScanProgress(progress, "media files")
    progress.update(0, None, "describing stale references again")
    result = library.reindex(
        model=None if model is None else str(model), on_start=view.start, on_event=view.event
    )
    for failure in result.failures:
        progress.failure(failure_line(failure))
    return {
        "references_updated": result.references_updated,
        "reference_failures": len(result.failures),
        "media": scan_result(result.media),
    }


RUNNERS: dict[JobKind, Runner] = {
    JobKind.REMATCH: run_rematch,
    JobKind.CLUSTER: run_cluster,
    JobKind.REINDEX: run_reindex,
}
"""The runner of each job kind (a kind without one fails with that reason)."""
