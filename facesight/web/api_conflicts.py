"""``/api/v1/conflicts``: one face under two names and ambiguous sightings; merge, different.

The same calls as the Conflicts page (:mod:`facesight.web.curation`). Merging two people needs
``name`` (one name goes) and answers the re-match job it queued; marking them different needs
``curate``. An ambiguous sighting is decided through ``POST /api/v1/faces/{face_id}/decision``
with the ``state`` it carries, as any other face.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from facesight.library.roles import Permission
from facesight.web import curation
from facesight.web.api import After, Limit, call
from facesight.web.api_models import (
    ERRORS,
    ConflictsOut,
    DifferentIn,
    DifferentOut,
    MergedPeopleOut,
    MergePeopleIn,
)
from facesight.web.auth import Guard, Principal
from facesight.web.serialize import (
    ambiguous_json,
    comparison_json,
    evidence_reference_json,
    job_link_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/conflicts", tags=["conflicts"], responses=ERRORS)


@router.get("", response_model=ConflictsOut)
async def conflicts(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.VIEW))],
    after: After = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Person conflicts (strongest first, all of them) and a page of ambiguous sightings."""
    found = await call(request, principal, lambda lib: curation.conflicts(lib, after, limit))
    return {
        "people": [
            {
                "first_id": v.conflict.first_id,
                "first": v.conflict.first,
                "second_id": v.conflict.second_id,
                "second": v.conflict.second,
                "first_reference": evidence_reference_json(v.conflict.first_reference),
                "second_reference": evidence_reference_json(v.conflict.second_reference),
                "first_references": v.conflict.first_references,
                "second_references": v.conflict.second_references,
                "comparisons": [comparison_json(c) for c in v.comparisons],
            }
            for v in found.people
        ],
        "ambiguous": [ambiguous_json(a) for a in found.ambiguous.items],
        "next_after": found.ambiguous.next_after,
    }


@router.post("/merge", response_model=MergedPeopleOut)
async def merge(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.NAME))],
    body: MergePeopleIn,
) -> dict[str, Any]:
    """Make ``absorb`` part of ``keep``: its references and decisions move, its name goes;
    the library is matched again by the re-match job answered."""
    merged = await call(
        request, principal, lambda lib: curation.merge_people(lib, body.keep, body.absorb)
    )
    result = merged.result
    return {
        "kept_id": result.kept_id,
        "kept": result.kept,
        "absorbed_id": result.absorbed_id,
        "absorbed": result.absorbed,
        "references_moved": result.references_moved,
        "duplicates_dropped": result.duplicates_dropped,
        "reviews_moved": result.reviews_moved,
        "rematch_job": job_link_json(merged.job),
    }


@router.post("/different", response_model=DifferentOut)
async def different(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.CURATE))],
    body: DifferentIn,
) -> dict[str, Any]:
    """Remember that two people are different: their pair is not a conflict again."""
    added = await call(
        request, principal, lambda lib: curation.people_different(lib, body.first, body.second)
    )
    return {"first": body.first, "second": body.second, "added": added}
