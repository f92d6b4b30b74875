"""One person (``/people/{person_id}``): their reference crops and their sightings.

The sightings are those ``Library.sightings`` lists (confirmed and pending, in media order),
a page at a time: ``after`` is the last face id shown, so a page stays put while others are
decided. One view audit record per render lists the faces shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from facesight.errors import NotFoundError
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.records import PersonSummary, Sighting
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["SIGHTINGS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

SIGHTINGS_PER_PAGE = 60


@dataclass(frozen=True)
class _Person:
    person: PersonSummary
    references: list[tuple[int, str]]
    sightings: list[Sighting]
    next_after: int | None
    total: int


@router.get("/people/{person_id}", response_class=HTMLResponse)
async def person_page(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    person_id: int,
    after: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    def load(lib: Library) -> _Person:
        found = [p for p in lib.people() if p.id == person_id]
        if not found:
            raise NotFoundError(f"no enrolled person has id {person_id}")
        gallery = lib.gallery()
        references = [
            (int(reference), path)
            for owner, reference, path in zip(
                gallery.person_ids, gallery.reference_ids, gallery.reference_paths, strict=True
            )
            if int(owner) == person_id
        ]
        every = lib.sightings(found[0].name)
        start = 0
        if after is not None:
            ids = [s.face_id for s in every]
            start = ids.index(after) + 1 if after in ids else 0
        shown = every[start : start + SIGHTINGS_PER_PAGE]
        more = start + SIGHTINGS_PER_PAGE < len(every)
        lib.record_view([s.face_id for s in shown], f"person page: {found[0].name}")
        return _Person(found[0], references, shown, shown[-1].face_id if more else None, len(every))

    page = await request.app.state.gate.run(load, actor=principal.account.name)
    return render(request, "person.html", page=page, first=after is None)
