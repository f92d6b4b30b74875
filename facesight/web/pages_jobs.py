"""The jobs pages: ``/jobs`` (newest first: kind, state, progress, who, when; buttons to queue
a re-match, reindex or clustering for the roles allowed to) and ``/jobs/{job_id}`` (a
progress bar that ``static/jobs.js`` moves by polling ``/api/v1/jobs/{job_id}`` each second,
the failures, the result or error, the files, and Cancel for administrators).

A job runs in the worker process, so these pages answer at once however long it takes, and a
reload (or a server restart) shows it where it stands.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from facesight.library.jobs import JobKind, JobState
from facesight.library.roles import Permission
from facesight.web.api_jobs import job_with_files
from facesight.web.api_models import MAX_ID
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["JOBS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

JOBS_PER_PAGE = 50
Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(
    request: Request,
    principal: Viewer,
    kind: JobKind | None = None,
    state: JobState | None = None,
    after: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    found = await request.app.state.gate.run(
        lambda lib: lib.jobs.jobs(kind=kind, state=state, before=after, limit=JOBS_PER_PAGE + 1),
        actor=principal.account.name,
    )
    shown = found[:JOBS_PER_PAGE]
    query = "".join(f"&{k}={v.value}" for k, v in (("kind", kind), ("state", state)) if v)
    next_url = f"/jobs?after={shown[-1].id}{query}" if len(found) > JOBS_PER_PAGE else None
    return render(
        request,
        "jobs.html",
        jobs=shown,
        kinds=[k.value for k in JobKind],
        states=[s.value for s in JobState],
        kind=kind.value if kind else "",
        state=state.value if state else "",
        next_url=next_url,
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(
    request: Request, principal: Viewer, job_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> HTMLResponse:
    job, files = await request.app.state.gate.run(
        lambda lib: job_with_files(lib, job_id), actor=principal.account.name
    )
    return render(request, "job.html", job=job, files=files)
