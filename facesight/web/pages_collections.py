"""Collections (``/collections``): the registered roots, their scans, and "Scan now" (admins).

Roots are registered from the command line only (``facesight collections add PATH``); this
page names them by id and never takes a path. "Scan now" queues a scan job of one root and
goes to the job's page (``/jobs/{job_id}``), where its progress, failures and cancel live; the
history here lists each root's scan jobs, newest first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from facesight.library.collection_jobs import queue_scan
from facesight.library.roles import Permission
from facesight.web.api_collections import collections_with_scans
from facesight.web.api_models import MAX_ID
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/collections", response_class=HTMLResponse)
async def collections_page(
    request: Request, principal: Annotated[Principal, Depends(Guard(Permission.VIEW))]
) -> HTMLResponse:
    found = await request.app.state.gate.run(collections_with_scans, actor=principal.account.name)
    return render(request, "collections.html", collections=found)


@router.post("/collections/{collection_id}/scan")
async def scan_now(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    collection_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> RedirectResponse:
    job = await request.app.state.gate.run(
        lambda lib: queue_scan(lib, collection_id), actor=principal.account.name
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
