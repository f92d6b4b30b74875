"""``/api/v1/collections`` and ``/api/v1/reports``: registered roots and their scans, report
jobs and their files (token or session).

A root is registered from the command line only (``facesight collections add``): these routes
name roots by id and never take a path. Starting a scan (ADMINISTER) or a report (REPORTS)
queues a background job and answers it at once (202); the job's progress, failures and
cancel live at ``/api/v1/jobs/{job_id}`` and ``/jobs/{job_id}``, its files at
``/api/v1/jobs/{job_id}/files/{index}`` and ``/api/v1/jobs/{job_id}/archive``. The pages
(:mod:`facesight.web.pages_collections`, :mod:`facesight.web.pages_reports`) show the same
data, read by the same functions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from facesight.library.collection_jobs import REPORT_FORMATS, queue_report, queue_scan
from facesight.library.collections import Collection
from facesight.library.facade import Library
from facesight.library.jobs import Job, JobFile, JobKind
from facesight.library.roles import Permission
from facesight.web.api import Limit, call
from facesight.web.api_jobs import JobOut, job_json
from facesight.web.api_models import ERRORS, MAX_ID, Name
from facesight.web.auth import Guard, Principal

__all__ = [
    "HISTORY",
    "SCANS_SHOWN",
    "CollectionScans",
    "ReportJob",
    "collections_with_scans",
    "report_jobs",
    "router",
]

router = APIRouter(prefix="/api/v1", tags=["collections and reports"], responses=ERRORS)

SCANS_SHOWN = 200
"""Newest scan jobs read for the collections' histories (and report jobs for the reports)."""
HISTORY = 20
"""Scans shown per root, and reports shown, unless asked for more (``limit``)."""

CollectionId = Annotated[int, Path(ge=1, le=MAX_ID)]


# -- what the pages and the API show -----------------------------------------------------


@dataclass(frozen=True)
class CollectionScans:
    """A registered root and its scan jobs, newest first."""

    collection: Collection
    scans: list[Job]

    @property
    def last(self) -> Job | None:
        """Its newest scan job."""
        return self.scans[0] if self.scans else None


@dataclass(frozen=True)
class ReportJob:
    """A report job and the files it wrote (none until it is done)."""

    job: Job
    files: list[JobFile]


def collections_with_scans(library: Library, limit: int = HISTORY) -> list[CollectionScans]:
    """Every registered root with its newest ``limit`` scan jobs (of the newest
    ``SCANS_SHOWN`` of all roots)."""
    scans = library.jobs.jobs(kind=JobKind.SCAN, limit=SCANS_SHOWN)
    return [
        CollectionScans(c, [j for j in scans if j.params.get("collection_id") == c.id][:limit])
        for c in library.collections.list()
    ]


def report_jobs(library: Library, limit: int = HISTORY) -> list[ReportJob]:
    """The newest ``limit`` report jobs with their files (once each ended: a running job's
    are not complete yet)."""
    return [
        ReportJob(job, library.jobs.files(job.id) if job.finished else [])
        for job in library.jobs.jobs(kind=JobKind.REPORT, limit=limit)
    ]


# -- JSON ----------------------------------------------------------------------------------


class CollectionOut(BaseModel):
    """A registered root and its scans, newest first."""

    id: int
    path: str
    added_at: str
    added_by: str
    scans: list[JobOut]
    scan_url: str = Field(description="POST here to start a scan (admins)")


class CollectionsOut(BaseModel):
    """Every registered root."""

    items: list[CollectionOut]


class ReportJobOut(JobOut):
    """A report job with its files (once it ended) and the address of them all in one zip."""

    archive_url: str


class ReportsOut(BaseModel):
    """Report jobs, newest first."""

    items: list[ReportJobOut]


class ReportRequest(BaseModel):
    """A report of ``person`` (as enrolled; null: everyone identified) in these formats."""

    model_config = ConfigDict(extra="forbid")

    person: Name | None = None
    formats: list[Literal["html", "csv", "json"]] = Field(
        default=["html", "csv", "json"], min_length=1, max_length=len(REPORT_FORMATS)
    )


def _collection_out(entry: CollectionScans) -> dict[str, Any]:
    c = entry.collection
    return {
        "id": c.id,
        "path": c.path,
        "added_at": c.added_at,
        "added_by": c.added_by,
        "scans": [job_json(j) for j in entry.scans],
        "scan_url": f"/api/v1/collections/{c.id}/scan",
    }


def _report_out(entry: ReportJob) -> dict[str, Any]:
    archive = f"/api/v1/jobs/{entry.job.id}/archive"
    return job_json(entry.job, entry.files) | {"archive_url": archive}


@router.get("/collections", response_model=CollectionsOut)
async def collections(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    limit: Limit = HISTORY,
) -> dict[str, Any]:
    """Every registered root with its newest ``limit`` scan jobs, newest first."""
    found = await call(request, principal, lambda lib: collections_with_scans(lib, limit))
    return {"items": [_collection_out(entry) for entry in found]}


@router.get("/collections/{collection_id}", response_model=CollectionOut)
async def collection(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    collection_id: CollectionId,
    limit: Limit = HISTORY,
) -> dict[str, Any]:
    """One registered root with its newest ``limit`` scan jobs, newest first."""

    def load(lib: Library) -> CollectionScans:
        root = lib.collections.get(collection_id)
        scans = lib.jobs.jobs(kind=JobKind.SCAN, limit=SCANS_SHOWN)
        mine = [j for j in scans if j.params.get("collection_id") == root.id]
        return CollectionScans(root, mine[:limit])

    return _collection_out(await call(request, principal, load))


@router.post("/collections/{collection_id}/scan", response_model=JobOut, status_code=202)
async def scan(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    collection_id: CollectionId,
) -> dict[str, Any]:
    """Start a scan of the root (a background job; follow it at its ``api_url``); the scan
    already queued or running for it, if there is one."""
    return job_json(await call(request, principal, lambda lib: queue_scan(lib, collection_id)))


@router.get("/reports", response_model=ReportsOut)
async def reports(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))],
    limit: Limit = HISTORY,
) -> dict[str, Any]:
    """The newest ``limit`` report jobs, each with the files it wrote (the manifest among
    them) once it ended."""
    found = await call(request, principal, lambda lib: report_jobs(lib, limit))
    return {"items": [_report_out(entry) for entry in found]}


@router.post("/reports", response_model=JobOut, status_code=202)
async def report(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))],
    body: ReportRequest,
) -> dict[str, Any]:
    """Start a report (a background job); its files appear in ``GET /reports`` once done."""
    formats = [str(f) for f in body.formats]
    job = await call(request, principal, lambda lib: queue_report(lib, body.person, formats))
    return job_json(job)
