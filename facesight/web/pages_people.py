"""The People pages: everyone enrolled (``/people``) and one person (``/people/{person_id}``)
with their sightings by decision category, references, and the forms that rename, curate
references, merge and forget (``people_actions``, shared with the API).

The sightings tab is ``Library.review_queue`` filtered by the person and one decision
category, oldest taken first, keyset-paged by its cursor. Each render writes one view audit
record of the faces it shows. Each form posts, is checked (role, CSRF, the library's rules)
and answers 303 back to a page with a message, linking the re-match job it queued; a form
refused answers the error page. Forgetting needs the person's exact name typed in the form,
checked by the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from facesight.library.facade import Library
from facesight.library.people import PersonOverview, StoredReference
from facesight.library.review_queue import QueueFilter, QueuePage, QueueSort
from facesight.library.roles import Permission
from facesight.records import DECISION_CATEGORIES
from facesight.web import people_actions
from facesight.web.api_models import MAX_ID
from facesight.web.api_people import PERSON_CATEGORIES, check_category
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["MESSAGES", "SIGHTINGS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

SIGHTINGS_PER_PAGE = 60

MESSAGES = {
    "renamed": "Renamed.",
    "reference-added": "The face is now one of their references.",
    "reference-removed": "The reference was removed.",
    "merged": "The two people are one now.",
    "forgotten": "The person was forgotten: their references, crops and matches are erased.",
}
"""What a page says after an action (the redirect names one of these keys, never free text)."""

Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]
Namer = Annotated[Principal, Depends(Guard(Permission.NAME))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/people", response_class=HTMLResponse)
async def people_page(
    request: Request,
    principal: Viewer,
    done: Annotated[str | None, Query(max_length=40)] = None,
    job: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    def load(lib: Library) -> list[PersonOverview]:
        return sorted(lib.people_overview(), key=lambda e: e.person.name.casefold())

    people = await request.app.state.gate.run(load, actor=principal.account.name)
    return render(request, "people.html", people=people, message=MESSAGES.get(done or ""), job=job)


@dataclass(frozen=True)
class _Person:
    id: int
    name: str
    references: list[StoredReference]
    page: QueuePage
    others: list[tuple[int, str]]


@router.get("/people/{person_id}", response_class=HTMLResponse)
async def person_page(
    request: Request,
    principal: Viewer,
    person_id: Id,
    category: Annotated[str, Query(max_length=100)] = PERSON_CATEGORIES[0],
    after: Annotated[str | None, Query(max_length=500)] = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
    job: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    check_category(category)

    def load(lib: Library) -> _Person:
        name = lib.person_name(person_id)
        page = lib.review_queue(
            QueueFilter(person=name, category=category),
            sort=QueueSort.DATE,
            after=after or None,
            limit=SIGHTINGS_PER_PAGE,
        )
        lib.record_view([i.sighting.face_id for i in page.items], "person page")
        others = [p for p in lib.people_names() if p[0] != person_id]
        return _Person(person_id, name, lib.references(name), page, others)

    person = await request.app.state.gate.run(load, actor=principal.account.name)
    here = f"/people/{person_id}"
    next_url = None
    if person.page.next_after is not None:
        next_url = here + "?" + urlencode({"category": category, "after": person.page.next_after})
    return render(
        request,
        "person.html",
        person=person,
        category=category,
        categories=[(c, DECISION_CATEGORIES[c]) for c in PERSON_CATEGORIES],
        next_url=next_url,
        first_url=here + "?" + urlencode({"category": category}) if after else None,
        message=MESSAGES.get(done or ""),
        job=job,
    )


def _back(done: people_actions.Done, what: str) -> RedirectResponse:
    """303 to the person's page (or the list, when they are gone) with the message key."""
    query: dict[str, str | int] = {"done": what}
    if done.job_id is not None:
        query["job"] = done.job_id
    where = "/people" if done.person_id is None else f"/people/{done.person_id}"
    return RedirectResponse(f"{where}?{urlencode(query)}", status_code=303)


@router.post("/people/{person_id}/rename")
async def rename_person(
    request: Request,
    principal: Namer,
    person_id: Id,
    name: Annotated[str, Form(max_length=200)],
) -> RedirectResponse:
    done = await request.app.state.gate.run(
        lambda lib: people_actions.rename(lib, person_id, name), actor=principal.account.name
    )
    return _back(done, "renamed")


@router.post("/people/{person_id}/references")
async def add_reference(
    request: Request,
    principal: Namer,
    person_id: Id,
    face_id: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> RedirectResponse:
    done = await request.app.state.gate.run(
        lambda lib: people_actions.add_reference(lib, person_id, face_id),
        actor=principal.account.name,
    )
    return _back(done, "reference-added")


@router.post("/people/{person_id}/references/{reference_id}/remove")
async def remove_reference(
    request: Request, principal: Namer, person_id: Id, reference_id: int
) -> RedirectResponse:
    done = await request.app.state.gate.run(
        lambda lib: people_actions.remove_reference(lib, person_id, reference_id),
        actor=principal.account.name,
    )
    return _back(done, "reference-removed")


@router.post("/people/{person_id}/merge")
async def merge_people(
    request: Request,
    principal: Namer,
    person_id: Id,
    other_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    keep: Annotated[str, Form(max_length=10)] = "this",
) -> RedirectResponse:
    done = await request.app.state.gate.run(
        lambda lib: people_actions.merge(lib, person_id, other_id, keep),
        actor=principal.account.name,
    )
    return _back(done, "merged")


@router.post("/people/{person_id}/forget")
async def forget_person(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    person_id: Id,
    confirm: Annotated[str, Form(max_length=200)] = "",
    with_sightings: Annotated[str, Form(max_length=10)] = "",
) -> RedirectResponse:
    done = await request.app.state.gate.run(
        lambda lib: people_actions.forget(lib, person_id, confirm, with_sightings == "yes"),
        actor=principal.account.name,
    )
    return _back(done, "forgotten")
