"""The scan and report job kinds: their params checked before a job is queued, and the
report job's runner (``library.job_runners.RUNNERS`` holds both runners).

A scan job scans one registered root (``{"collection_id": N}``, ``library.collections``) with
``Library.scan``: its progress is files done of the files found, each bad file is one failure
line (the file and its problem), and its result is the scan's counts. A scan commits each
batch of files whole, then reports their events; a cancel raises ``JobCancelledError`` from
the next event, so what was committed stays (faces, crops, candidates: whole files only), the
files in flight are dropped with their crops (``ScanService.run``), and a later scan of the
root skips the stored content by its sha256 and does the rest: nothing is lost or doubled.

A report job (``{"person": name | None, "formats": [...]}``) writes the report of a person
or of everyone identified, as the command line's ``facesight report`` does, into the job's
output folder with its manifest (``exports.manifest``); its result names the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facesight.errors import InvalidInputError
from facesight.exports.report import ReportSummary
from facesight.library.decision_rule import decision_note
from facesight.library.facade import Library
from facesight.library.jobs import Job, JobKind, JobProgress, JobState
from facesight.library.reports import SCOPE_NOTE, export_report, report_rows, report_title

__all__ = [
    "REPORT_FORMATS",
    "queue_report",
    "queue_scan",
    "report_params",
    "run_report",
    "scan_params",
]

REPORT_FORMATS = ("html", "csv", "json")
"""What a report job may write (``facesight report``'s ``--html``, ``--csv``, ``--json``)."""


def scan_params(library: Library, collection_id: int) -> dict[str, Any]:
    """The params of a scan job of the root ``collection_id``.

    Raises:
        NotFoundError: no root has this id.
    """
    return {"collection_id": library.collections.get(collection_id).id}


def queue_scan(library: Library, collection_id: int) -> Job:
    """A scan job of the root ``collection_id``: the one already queued or running for it
    (a second click of "Scan now" follows the first scan), else a new one.

    Raises:
        NotFoundError: no root has this id.
    """
    params = scan_params(library, collection_id)
    for state in (JobState.RUNNING, JobState.QUEUED):
        for job in library.jobs.jobs(kind=JobKind.SCAN, state=state, limit=1000):
            if job.params.get("collection_id") == params["collection_id"]:
                return job
    return library.jobs.submit(JobKind.SCAN, params)


def queue_report(library: Library, person: str | None, formats: Sequence[str]) -> Job:
    """A new report job (see :func:`report_params` for what it raises)."""
    return library.jobs.submit(JobKind.REPORT, report_params(library, person, formats))


def report_params(library: Library, person: str | None, formats: Sequence[str]) -> dict[str, Any]:
    """The params of a report job: ``person`` as enrolled (None: everyone identified).

    Raises:
        NotFoundError: ``person`` is not enrolled.
        InvalidInputError: no format, or one that is not html, csv or json.
    """
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in REPORT_FORMATS]
    if not chosen or unknown:
        raise InvalidInputError(
            f"formats {unknown or 'none'}: choose one or more of {', '.join(REPORT_FORMATS)}"
        )
    name = None
    if person is not None:
        name = library.store.person_name(library.store.require_person(person))
    return {"person": name, "formats": [f for f in REPORT_FORMATS if f in chosen]}


def run_report(library: Library, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Write the report ``job.params`` asks for into the job's output folder, with its
    manifest; the files written (the manifest last) and the report's counts."""
    params = report_params(library, job.params.get("person"), job.params.get("formats") or ())
    person, formats = params["person"], params["formats"]
    progress.update(0, 1, "reading the sightings")
    rows = report_rows(library, person, include_rejected=True)
    stem = "report" if person is None else f"report-person-{library.store.require_person(person)}"
    out = {kind: progress.output_dir / f"{stem}.{kind}" for kind in formats}
    written = export_report(
        library,
        rows,
        html=out.get("html"),
        csv=out.get("csv"),
        json=out.get("json"),
        title=report_title(library, person),
        rule=f"{decision_note(library.calibration(), library.max_distance)}. {SCOPE_NOTE}",
    )
    progress.update(1, 1, f"wrote {len(written)} files")
    summary = ReportSummary.from_rows(rows)
    return {
        "person": person,
        "files": [p.name for p in written],
        "manifest": written[-1].name,
        "sightings": summary.sightings,
        "confirmed": summary.confirmed,
        "pending": summary.pending,
        "rejected": summary.rejected,
        "media": summary.media,
    }
