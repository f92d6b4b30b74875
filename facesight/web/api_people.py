"""``/api/v1/people/{person_id}``: one person, their sightings by decision category, and what
an administrator does to them (rename, references added and removed, merge, forget).

The list of everyone is ``GET /api/v1/people`` (:mod:`facesight.web.api`). The actions are
:mod:`facesight.web.people_actions`, shared with the pages; each that would match every
stored face again answers the re-match job it queued (``rematch_job_id``). Forgetting needs
``confirm`` equal to the person's exact name, checked here on the server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from facesight.errors import InvalidInputError
from facesight.library.facade import Library
from facesight.library.review_queue import QueueFilter, QueueSort
from facesight.library.roles import Permission
from facesight.web import people_actions
from facesight.web.api import call
from facesight.web.api_models import (
    ERRORS,
    MAX_ID,
    ForgetPerson,
    ForgottenOut,
    MergePeople,
    PersonChangeOut,
    PersonDetailOut,
    PersonSightingsPage,
    ReferenceFromFace,
    Rename,
)
from facesight.web.auth import Guard, Principal
from facesight.web.serialize import person_json, reference_json, sighting_json

__all__ = ["PERSON_CATEGORIES", "check_category", "person_detail", "router"]

router = APIRouter(prefix="/api/v1/people", tags=["people"], responses=ERRORS)

PERSON_CATEGORIES = (
    "machine match",
    "confirmed",
    "manual identification",
    "imported (unverified)",
    "rejected",
)
"""The decision categories a person's sightings are shown by (``records.DECISION_CATEGORIES``
less ``reference`` and ``unmatched``, which name nobody)."""

PersonId = Annotated[int, Path(ge=1, le=MAX_ID)]
ReferenceId = Annotated[int, Path(ge=1, le=MAX_ID)]
Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]
Namer = Annotated[Principal, Depends(Guard(Permission.NAME))]


def check_category(category: str) -> None:
    """``InvalidInputError`` unless ``category`` is one of ``PERSON_CATEGORIES``."""
    if category not in PERSON_CATEGORIES:
        raise InvalidInputError(
            f"category={category[:40]!r}: choose one of {', '.join(PERSON_CATEGORIES)}"
        )


def person_detail(lib: Library, person_id: int) -> dict[str, Any]:
    """One person with their counts and references, as JSON."""
    person = lib.person(person_id)
    references = lib.references(person.name)
    return person_json(person) | {"reference_faces": [reference_json(r) for r in references]}


def _changed(lib: Library, done: people_actions.Done) -> dict[str, Any]:
    assert done.person_id is not None
    return {
        "person": person_detail(lib, done.person_id),
        "reference_id": done.reference_id,
        "absorbed_id": done.absorbed_id,
        "rematch_job_id": done.job_id,
    }


@router.get("/{person_id}", response_model=PersonDetailOut)
async def person(request: Request, principal: Viewer, person_id: PersonId) -> dict[str, Any]:
    """One enrolled person: counts and references (with their crops' URLs)."""
    return await call(request, principal, lambda lib: person_detail(lib, person_id))


@router.get("/{person_id}/sightings", response_model=PersonSightingsPage)
async def person_sightings(
    request: Request,
    principal: Viewer,
    person_id: PersonId,
    category: Annotated[
        str, Query(max_length=100, json_schema_extra={"enum": list(PERSON_CATEGORIES)})
    ] = "machine match",
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The person's sightings of one decision category, oldest taken first, keyset-paged."""

    check_category(category)

    def job(lib: Library) -> Any:
        wanted = QueueFilter(person=lib.person_name(person_id), category=category)
        page = lib.review_queue(wanted, sort=QueueSort.DATE, after=after or None, limit=limit)
        lib.record_view([i.sighting.face_id for i in page.items], "person sightings")
        return page

    page = await call(request, principal, job)
    return {
        "category": category,
        "total": page.total,
        "items": [
            sighting_json(i.sighting, state=i.state)
            | {
                "reference_crop_url": f"/references/{i.reference_id}/crop"
                if i.reference_id
                else None
            }
            for i in page.items
        ],
        "next_after": page.next_after,
    }


@router.post("/{person_id}/rename", response_model=PersonChangeOut)
async def rename(
    request: Request, principal: Namer, person_id: PersonId, body: Rename
) -> dict[str, Any]:
    """Give the person another name (422 when invalid or another person's)."""
    return await call(
        request,
        principal,
        lambda lib: _changed(lib, people_actions.rename(lib, person_id, body.name)),
    )


@router.post("/{person_id}/references", response_model=PersonChangeOut)
async def add_reference(
    request: Request, principal: Namer, person_id: PersonId, body: ReferenceFromFace
) -> dict[str, Any]:
    """Make a face confirmed as the person one of their references; queues a re-match."""
    return await call(
        request,
        principal,
        lambda lib: _changed(lib, people_actions.add_reference(lib, person_id, body.face_id)),
    )


@router.delete("/{person_id}/references/{reference_id}", response_model=PersonChangeOut)
async def remove_reference(
    request: Request, principal: Namer, person_id: PersonId, reference_id: ReferenceId
) -> dict[str, Any]:
    """Remove one of the person's references (never the last: 422); queues a re-match."""
    return await call(
        request,
        principal,
        lambda lib: _changed(lib, people_actions.remove_reference(lib, person_id, reference_id)),
    )


@router.post("/{person_id}/merge", response_model=PersonChangeOut)
async def merge(
    request: Request, principal: Namer, person_id: PersonId, body: MergePeople
) -> dict[str, Any]:
    """Merge the person with ``other_id``; ``keep`` says whose name survives. Answers the
    person kept; queues a re-match."""
    return await call(
        request,
        principal,
        lambda lib: _changed(lib, people_actions.merge(lib, person_id, body.other_id, body.keep)),
    )


@router.delete("/{person_id}", response_model=ForgottenOut)
async def forget(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.ADMINISTER))],
    person_id: PersonId,
    body: ForgetPerson,
) -> dict[str, Any]:
    """Forget the person (``confirm`` must be their exact name, else 422 and nothing is
    erased); queues a re-match."""
    done = await call(
        request,
        principal,
        lambda lib: people_actions.forget(lib, person_id, body.confirm, body.with_sightings),
    )
    result = done.forgotten
    assert result is not None
    return {
        "person_id": person_id,
        "references_removed": result.references_removed,
        "faces_removed": result.faces_removed,
        "files_removed": result.files_removed,
        "audit_records_erased": result.audit_records_erased,
        "rematch_job_id": done.job_id,
    }
