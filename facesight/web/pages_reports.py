"""Reports (``/reports``): generate the report of a person or of everyone identified, and
download the files of past reports.

The form queues a report job (``library.collection_jobs``: the HTML, CSV and JSON files the
command line's ``facesight report`` writes, with their manifest) and goes to the job's page;
the list below gives each finished report's files and the whole of them as one archive
(``/api/v1/jobs/{job_id}/files/{index}``, ``/api/v1/jobs/{job_id}/archive``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from facesight.library.collection_jobs import REPORT_FORMATS, queue_report
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.web.api_collections import ReportJob, report_jobs
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request, principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))]
) -> HTMLResponse:
    def load(lib: Library) -> tuple[list[str], list[ReportJob]]:
        return [name for _, name in lib.people_names()], report_jobs(lib)

    people, jobs = await request.app.state.gate.run(load, actor=principal.account.name)
    people.sort(key=str.casefold)
    return render(request, "reports.html", people=people, jobs=jobs, formats=REPORT_FORMATS)


@router.post("/reports")
async def generate_report(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.REPORTS))],
    person: Annotated[str, Form(max_length=200)] = "",
    formats: Annotated[list[str] | None, Form(max_length=len(REPORT_FORMATS))] = None,
) -> RedirectResponse:
    chosen = formats or []
    job = await request.app.state.gate.run(
        lambda lib: queue_report(lib, person or None, chosen), actor=principal.account.name
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
