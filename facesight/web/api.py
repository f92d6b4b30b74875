"""``/api/v1``: people, sightings, the review queue and decisions as JSON (token or session).

Each route is one call into the library through the gate, under the signed-in account; the
rules (who may decide, what a conflict is, what the queue holds) are the library's. Every
list is keyset-paged: ``limit`` (1..200) items and ``next_after``, the ``after`` of the next
page (null on the last). Each response that shows faces writes one audit record of the view
(``Library.record_view``) listing them; crops fetched for a page are not audited one by one.
The search upload and the audit log are in :mod:`facesight.web.api_search` (its own router).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request

from facesight.errors import InvalidInputError
from facesight.library.facade import Library
from facesight.library.review import DecisionRequest
from facesight.library.review_queue import QueueFilter, QueueSort
from facesight.library.roles import Permission
from facesight.records import DECISION_CATEGORIES, Sighting
from facesight.web.api_models import (
    ERRORS,
    MAX_ID,
    Decision,
    Decisions,
    DecisionsOut,
    PeoplePage,
    QueuePageOut,
    SightingOut,
    SightingsPage,
)
from facesight.web.auth import Guard, Principal
from facesight.web.serialize import person_json, sighting_json
from facesight.web.statuses import status_of_name

__all__ = ["after_id", "call", "router"]

T = TypeVar("T")

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
After = Annotated[str | None, Query(max_length=200, description="the previous page's `next_after`")]
FaceId = Annotated[int, Path(ge=1, le=MAX_ID)]
Category = Annotated[
    str | None,
    Query(max_length=100, json_schema_extra={"enum": list(DECISION_CATEGORIES)}),
]


async def call(request: Request, principal: Principal, job: Callable[[Library], T]) -> T:
    """``job(library)`` on the library's thread, under the signed-in account."""
    result: T = await request.app.state.gate.run(job, actor=principal.account.name)
    return result


def after_id(after: str | None) -> int:
    """The id a keyset cursor of ids names (0 before the first page).

    Raises:
        InvalidInputError: ``after`` is not one of this API's cursors.
    """
    if after is None or after == "":
        return 0
    if not (after.isascii() and after.isdigit()) or len(after) > 19 or int(after) > MAX_ID:
        raise InvalidInputError(f"after={after[:40]!r} is not a cursor this list gave")
    return int(after)


def _page_of(ids: list[int], limit: int) -> str | None:
    """``next_after`` of a page cut from ``limit + 1`` items (None: no next page)."""
    return str(ids[limit - 1]) if len(ids) > limit else None


@router.get("/openapi.json", include_in_schema=False)
async def openapi(
    request: Request, principal: Annotated[Principal, Depends(Guard(Permission.VIEW))]
) -> dict[str, Any]:
    """This API's OpenAPI document (for any signed-in account)."""
    document: dict[str, Any] = request.app.openapi()
    return document


@router.get("/people", response_model=PeoplePage)
async def people(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    after: After = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Everyone enrolled, by id, with reference and sighting counts."""
    start = after_id(after)
    everyone = await call(request, principal, lambda lib: lib.people())
    shown = sorted((p for p in everyone if p.id > start), key=lambda p: p.id)[: limit + 1]
    return {
        "items": [person_json(p) for p in shown[:limit]],
        "next_after": _page_of([p.id for p in shown], limit),
    }


@router.get("/queue", response_model=QueuePageOut)
async def queue(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    person: Annotated[str | None, Query(max_length=200)] = None,
    category: Category = None,
    quality: Literal["good", "fair", "poor"] | None = None,
    path: Annotated[str | None, Query(max_length=1000, description="part of the path")] = None,
    since: Annotated[date | None, Query(description="captured on or after")] = None,
    until: Annotated[date | None, Query(description="captured on or before")] = None,
    kind: Literal["image", "video"] | None = None,
    sort: QueueSort = QueueSort.FMR,
    after: After = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Pending faces to review, each with its proposed person's nearest reference crop."""
    if category is not None and category not in DECISION_CATEGORIES:
        raise InvalidInputError(
            f"category={category[:40]!r}: choose one of {', '.join(DECISION_CATEGORIES)}"
        )
    chosen = QueueFilter(
        person=person,
        category=category,
        quality=quality,
        path=path,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        kind=kind,
    )

    def job(lib: Library) -> Any:
        page = lib.review_queue(chosen, sort=sort, after=after or None, limit=limit)
        shown = [item.sighting.face_id for item in page.items]
        if shown:
            lib.record_view(shown, "review queue page")
        return page

    page = await call(request, principal, job)
    items = []
    for item in page.items:
        reference = item.reference_id
        items.append(
            sighting_json(item.sighting, state=item.state)
            | {"reference_crop_url": f"/references/{reference}/crop" if reference else None}
        )
    return {"items": items, "next_after": page.next_after}


@router.get("/sightings", response_model=SightingsPage)
async def sightings(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    person: Annotated[str | None, Query(max_length=200)] = None,
    after: After = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Confirmed and pending sightings (of ``person``, or of anyone), by face id."""
    start = after_id(after)

    def job(lib: Library) -> list[Sighting]:
        found = sorted(
            (s for s in lib.sightings(person) if s.face_id > start), key=lambda s: s.face_id
        )[: limit + 1]
        if found:
            lib.record_view([s.face_id for s in found[:limit]], "sightings list")
        return found

    found = await call(request, principal, job)
    return {
        "items": [sighting_json(s) for s in found[:limit]],
        "next_after": _page_of([s.face_id for s in found], limit),
    }


@router.get("/faces/{face_id}", response_model=SightingOut)
async def face(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    face_id: FaceId,
) -> dict[str, Any]:
    """One stored face with its candidates, decision and review."""

    def job(lib: Library) -> Sighting:
        sighting = lib.sighting(face_id)
        lib.record_view([face_id], "face")
        return sighting

    return sighting_json(await call(request, principal, job))


@router.post("/faces/{face_id}/decision", response_model=SightingOut)
async def decide(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.DECIDE))],
    face_id: FaceId,
    decision: Decision,
) -> dict[str, Any]:
    """Confirm, reject or assign one face; 409 with ``current`` when its state changed since
    ``expected``, 409 too for a manual identification without ``force``."""
    sighting = await call(
        request,
        principal,
        lambda lib: lib.decide(
            face_id,
            decision.action,
            person=decision.person,
            note=decision.note,
            expected=decision.expected,
            force=decision.force,
        ),
    )
    return sighting_json(sighting)


@router.post("/decisions", response_model=DecisionsOut)
async def decide_many(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.DECIDE))],
    body: Decisions,
) -> dict[str, Any]:
    """Many decisions, each taken on its own: one failing does not stop the others."""

    asked = [
        DecisionRequest(
            face_id=d.face_id,
            action=d.action,
            person=d.person,
            note=d.note,
            expected=d.expected,
            force=d.force,
        )
        for d in body.decisions
    ]
    outcomes = await call(request, principal, lambda lib: lib.decide_many(asked))
    return {
        "results": [
            {
                "face_id": outcome.face_id,
                "ok": outcome.ok,
                "status": 200 if outcome.ok else status_of_name(outcome.error_type),
                "sighting": sighting_json(outcome.sighting) if outcome.sighting else None,
                "detail": None if outcome.ok else outcome.error,
                "error": None if outcome.ok else outcome.error_type,
            }
            for outcome in outcomes
        ]
    }
