"""``/api/v1/jobs``: background jobs as JSON: list, one job (a page polls it each second),
cancel, queue a re-match, reindex or clustering, and download the files a job wrote.

A job runs in the worker process (``library.job_worker``), never in the request: a submit
answers 202 with the queued job at once. Files are served by job id and index only
(``JobService.files`` lists them; a path from the request is never opened), as
attachments under their own (safe) names; ``/archive`` is all of them in one zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facesight.errors import NotFoundError
from facesight.library.facade import Library
from facesight.library.jobs import Job, JobFile, JobKind, JobState
from facesight.library.roles import Permission
from facesight.web.api import after_id, call
from facesight.web.api_models import ERRORS, MAX_ID, Name
from facesight.web.auth import Guard, Principal

__all__ = ["JobOut", "JobsPage", "attachment_name", "job_json", "router"]

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=ERRORS)

JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
FileIndex = Annotated[int, Path(ge=0, le=100_000)]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class JobFileOut(BaseModel):
    """A file a job wrote: its index (what the download URL names), name, size, SHA-256."""

    index: int
    name: str
    size: int
    sha256: str
    url: str


class JobOut(BaseModel):
    """One job: what, how far (``done`` of ``total``; ``fraction`` 0..1 or null while the
    total is unknown), failures (the first ones, of ``failure_count``), result or error."""

    id: int
    kind: str
    state: str
    params: dict[str, Any]
    done: int
    total: int | None
    fraction: float | None
    message: str
    failures: list[str]
    failure_count: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    finished: bool
    result: dict[str, Any]
    cancel_requested: bool
    attempts: int
    error: str
    url: str = Field(description="the job's page")
    files: list[JobFileOut] = Field(description="the files it wrote (listed once it ended)")


class JobsPage(BaseModel):
    """Jobs newest first; ``next_after``: the ``after`` of the next (older) page."""

    items: list[JobOut]
    next_after: str | None


class JobIn(BaseModel):
    """A rematch or clustering job takes no options: send ``{}``."""

    model_config = ConfigDict(extra="forbid")


class ReindexIn(BaseModel):
    """A reindex: ``model`` (optional) is first made the active model (a registered
    model's name, ``facesight models``), so everything is described with it."""

    model_config = ConfigDict(extra="forbid")
    model: Name | None = None


def job_json(job: Job, files: list[JobFile] | None = None) -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "id": job.id,
        "kind": job.kind.value,
        "state": job.state.value,
        "params": job.params,
        "done": job.done,
        "total": job.total,
        "fraction": job.fraction,
        "message": job.message,
        "failures": job.failures,
        "failure_count": job.failure_count,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "finished": job.finished,
        "result": job.result,
        "cancel_requested": job.cancel_requested,
        "attempts": job.attempts,
        "error": job.error,
        "url": f"/jobs/{job.id}",
        "files": [
            {
                "index": f.index,
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "url": f"/api/v1/jobs/{job.id}/files/{f.index}",
            }
            for f in files or []
        ],
    }


def job_with_files(lib: Library, job_id: int) -> tuple[Job, list[JobFile]]:
    """A job and, once it ended, its files (a running job's are not complete yet)."""
    job = lib.jobs.job(job_id)
    return job, lib.jobs.files(job_id) if job.finished else []


def attachment_name(name: str) -> str:
    """A file name safe in a ``Content-Disposition`` header and on any disk."""
    safe = _UNSAFE.sub("_", name).strip("._") or "file"
    return safe[:120]


def _attachment(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{attachment_name(name)}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }


@router.get("/jobs", response_model=JobsPage)
async def jobs(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    kind: JobKind | None = None,
    state: JobState | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Jobs newest first (``after``: the previous page's ``next_after``)."""
    before = after_id(after) or None
    found = await call(
        request,
        principal,
        lambda lib: lib.jobs.jobs(kind=kind, state=state, before=before, limit=limit + 1),
    )
    shown = found[:limit]
    return {
        "items": [job_json(j) for j in shown],
        "next_after": str(shown[-1].id) if len(found) > limit else None,
    }


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    job_id: JobId,
) -> dict[str, Any]:
    """One job (its page polls this each second while it runs)."""
    found, files = await call(request, principal, lambda lib: job_with_files(lib, job_id))
    return job_json(found, files)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
async def cancel(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    job_id: JobId,
) -> dict[str, Any]:
    """Cancel a job: a queued one at once, a running one at its next progress report
    (``cancel_requested`` says it was asked); a finished one is left as it is."""
    return job_json(await call(request, principal, lambda lib: lib.jobs.cancel(job_id)))


async def _submit(
    request: Request,
    response: Response,
    principal: Principal,
    kind: JobKind,
    params: dict[str, Any],
) -> dict[str, Any]:
    queued = await call(request, principal, lambda lib: lib.jobs.submit(kind, params))
    response.headers["Location"] = f"/api/v1/jobs/{queued.id}"
    return job_json(queued)


@router.post("/jobs/rematch", status_code=202, response_model=JobOut)
async def submit_rematch(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    body: Annotated[JobIn, Body()],
) -> dict[str, Any]:
    """Queue matching every stored face again against the current references."""
    return await _submit(request, response, principal, JobKind.REMATCH, {})


@router.post("/jobs/reindex", status_code=202, response_model=JobOut)
async def submit_reindex(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    body: Annotated[ReindexIn, Body()],
) -> dict[str, Any]:
    """Queue describing stale references and media again (first switching to ``model``)."""
    params = {"model": body.model} if body.model else {}
    return await _submit(request, response, principal, JobKind.REINDEX, params)


@router.post("/jobs/cluster", status_code=202, response_model=JobOut)
async def submit_cluster(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(Guard(Permission.CURATE))],
    body: Annotated[JobIn, Body()],
) -> dict[str, Any]:
    """Queue grouping the faces that match nobody into unknown people again."""
    return await _submit(request, response, principal, JobKind.CLUSTER, {})


@router.get("/jobs/{job_id}/files/{index}", response_class=FileResponse)
async def job_file(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))],
    job_id: JobId,
    index: FileIndex,
) -> Response:
    """One file a job wrote (``index`` as the job's ``files`` list it), as an attachment."""
    path: FilePath = await call(request, principal, lambda lib: lib.jobs.file(job_id, index))
    return FileResponse(path, media_type="application/octet-stream", headers=_attachment(path.name))


@router.get("/jobs/{job_id}/archive", response_class=Response)
async def job_archive(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))],
    job_id: JobId,
) -> Response:
    """Every file a job wrote, in one zip named after the job."""

    def listed(lib: Library) -> tuple[Job, list[tuple[FilePath, str]]]:
        found = lib.jobs.job(job_id)
        files = [(lib.jobs.file(job_id, f.index), f.name) for f in lib.jobs.files(job_id)]
        if not files:
            raise NotFoundError(f"job {job_id} wrote no files")
        return found, files

    found, files = await call(request, principal, listed)
    # zipped off the library's thread: other requests go on meanwhile
    data = await run_in_threadpool(_zip, files)
    name = f"facesight-job-{found.id}-{found.kind.value}.zip"
    return Response(data, media_type="application/zip", headers=_attachment(name))


def _zip(files: list[tuple[FilePath, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            archive.write(path, attachment_name(name))
    return buffer.getvalue()
