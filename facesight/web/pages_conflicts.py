"""Conflicts (``/conflicts``): one face under two names, and ambiguous sightings, side by side.

A person conflict shows both people's closest reference crops with the three comparisons
(distance, est. FMR, whether each passes the decision), and the forms to merge them (choosing
the name that stays; the re-match that follows is a queued job, linked) or mark them
different. An ambiguous sighting shows the face beside the best and runner-up people's
nearest reference crops with each one's distance and est. FMR, and opens the face page, where
it is decided as any other face (with the state the reviewer saw).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from facesight.library.roles import Permission
from facesight.web import curation
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["AMBIGUOUS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

AMBIGUOUS_PER_PAGE = 48
"""Ambiguous sightings per page (three crops each), as many cards as a review queue page."""


@router.get("/conflicts", response_class=HTMLResponse)
async def conflicts_page(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    after: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    found = await request.app.state.gate.run(
        lambda lib: curation.conflicts(lib, after, AMBIGUOUS_PER_PAGE),
        actor=principal.account.name,
    )
    return render(request, "conflicts.html", found=found, first=not after)


@router.post("/conflicts/merge", response_class=HTMLResponse)
async def merge(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.NAME))],
    keep: Annotated[int, Form()],
    absorb: Annotated[int, Form()],
) -> HTMLResponse:
    merged = await request.app.state.gate.run(
        lambda lib: curation.merge_people(lib, keep, absorb), actor=principal.account.name
    )
    result, job = merged.result, merged.job
    return render(
        request,
        "done.html",
        title="People merged",
        message=f"{result.absorbed} is now part of {result.kept}: "
        f"{result.references_moved} reference(s) moved, {result.duplicates_dropped} "
        f"duplicate(s) dropped, {result.reviews_moved} review decision(s) moved. Re-matching "
        f"the library is job #{job.id}.",
        links=[
            (f"/people/{result.kept_id}", result.kept),
            (f"/jobs/{job.id}", f"Re-match job #{job.id}"),
            ("/conflicts", "Conflicts"),
        ],
    )


@router.post("/conflicts/different")
async def different(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.CURATE))],
    first: Annotated[int, Form()],
    second: Annotated[int, Form()],
) -> RedirectResponse:
    await request.app.state.gate.run(
        lambda lib: curation.people_different(lib, first, second), actor=principal.account.name
    )
    return RedirectResponse("/conflicts", status_code=303)
