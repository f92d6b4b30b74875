"""Unknown people (``/unknowns``) and one of them (``/unknowns/{cluster_id}``), with their forms.

The list shows the clusters as the last clustering job stored them (a page never
re-clusters: at a million faces that takes minutes), most media first, with crops of their
best faces; **Cluster again** queues a clustering job (``static/unknowns.js`` sends
``POST /api/v1/jobs/cluster`` and opens the job's page). One unknown person's page shows all
its faces, a page at a time; its forms split some off, merge another unknown person into it
and name it (enrolling its best faces; the re-match that follows is a queued job, linked).
The forms post here with the page's CSRF field and come back to a page (303), or to a result
page naming the job queued; the same actions are in the API (:mod:`web.api_unknowns`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from facesight.library.roles import Permission
from facesight.web import curation
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["CLUSTERS_PER_PAGE", "FACES_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

CLUSTERS_PER_PAGE = 40
"""Unknown people per list page (four crops each: 160 crops, as many as a queue page's)."""

FACES_PER_PAGE = 120
"""Faces per page of one unknown person (small crops, to pick the ones to split off)."""

Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]
Curator = Annotated[Principal, Depends(Guard(Permission.CURATE))]
After = Annotated[str | None, Query(max_length=500)]


@router.get("/unknowns", response_class=HTMLResponse)
async def unknowns_page(request: Request, principal: Viewer, after: After = None) -> HTMLResponse:
    found = await request.app.state.gate.run(
        lambda lib: curation.cluster_list(lib, after, CLUSTERS_PER_PAGE),
        actor=principal.account.name,
    )
    return render(request, "unknowns.html", found=found, first=not after)


@router.get("/unknowns/{cluster_id}", response_class=HTMLResponse)
async def cluster_page(
    request: Request, principal: Viewer, cluster_id: int, after: After = None
) -> HTMLResponse:
    found = await request.app.state.gate.run(
        lambda lib: curation.cluster_faces(lib, cluster_id, after, FACES_PER_PAGE),
        actor=principal.account.name,
    )
    return render(request, "unknown.html", found=found, first=not after)


@router.post("/unknowns/{cluster_id}/split")
async def split(
    request: Request,
    principal: Curator,
    cluster_id: int,
    face: Annotated[list[int], Form()],
    as_new: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    new_id = await request.app.state.gate.run(
        lambda lib: curation.split_cluster(lib, cluster_id, face, as_new),
        actor=principal.account.name,
    )
    shown = new_id if new_id is not None else cluster_id
    return RedirectResponse(f"/unknowns/{shown}", status_code=303)


@router.post("/unknowns/{cluster_id}/merge")
async def merge(
    request: Request, principal: Curator, cluster_id: int, other: Annotated[int, Form()]
) -> RedirectResponse:
    await request.app.state.gate.run(
        lambda lib: curation.merge_clusters(lib, cluster_id, other), actor=principal.account.name
    )
    return RedirectResponse(f"/unknowns/{cluster_id}", status_code=303)


@router.post("/unknowns/{cluster_id}/name", response_class=HTMLResponse)
async def name(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.NAME))],
    cluster_id: int,
    name: Annotated[str, Form(max_length=200)],
    best: Annotated[int, Form(ge=1, le=50)] = 3,
) -> HTMLResponse:
    named = await request.app.state.gate.run(
        lambda lib: curation.name_cluster(lib, cluster_id, name, best),
        actor=principal.account.name,
    )
    return render(
        request,
        "done.html",
        title=f"Unknown person {cluster_id} named",
        message=f"Unknown person {cluster_id} is now {named.person}: "
        f"{len(named.references)} of their faces are references. Re-matching the library "
        f"is job #{named.job.id}: their other faces are proposed for review when it is done.",
        links=[
            (f"/people/{named.person_id}", named.person),
            (f"/jobs/{named.job.id}", f"Re-match job #{named.job.id}"),
            ("/unknowns", "Unknown people"),
        ],
    )
