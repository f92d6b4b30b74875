"""``/api/v1/unknowns``: unknown people as last clustered, one's faces, split, merge, name.

The same calls as the Unknown people pages (:mod:`facesight.web.curation`), under the signed-in
account: listing reads the stored clusters (clustering is a background job,
``POST /api/v1/jobs/cluster`` queues one), naming enrolls without re-matching and answers
the re-match job it queued. Splitting and merging need ``curate``, naming ``name``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from facesight.library.roles import Permission
from facesight.web import curation
from facesight.web.api import After, Limit, call
from facesight.web.api_models import (
    ERRORS,
    MAX_ID,
    ClusterFacesPage,
    ClustersPage,
    MergeClustersIn,
    MergeClustersOut,
    NameClusterIn,
    NamedClusterOut,
    SplitIn,
    SplitOut,
)
from facesight.web.auth import Guard, Principal
from facesight.web.serialize import cluster_json, job_link_json, sighting_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/unknowns", tags=["unknowns"], responses=ERRORS)

ClusterId = Annotated[int, Path(ge=1, le=MAX_ID)]
Viewer = Annotated[Principal, Depends(Guard(Permission.VIEW))]
Curator = Annotated[Principal, Depends(Guard(Permission.CURATE))]


@router.get("", response_model=ClustersPage)
async def unknowns(
    request: Request, principal: Viewer, after: After = None, limit: Limit = 50
) -> dict[str, Any]:
    """Unknown people as the last clustering job left them, most media first."""
    found = await call(request, principal, lambda lib: curation.cluster_list(lib, after, limit))
    return {
        "items": [cluster_json(c) for c in found.page.items],
        "next_after": found.page.next_after,
        "total": found.page.total,
        "refreshed_at": found.refreshed_at,
        "clustering_job": job_link_json(found.clustering) if found.clustering else None,
    }


@router.get("/{cluster_id}", response_model=ClusterFacesPage)
async def faces(
    request: Request,
    principal: Viewer,
    cluster_id: ClusterId,
    after: After = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """One unknown person's faces, best quality first (404 once named or merged away)."""
    found = await call(
        request, principal, lambda lib: curation.cluster_faces(lib, cluster_id, after, limit)
    )
    return {
        "cluster_id": cluster_id,
        "items": [sighting_json(s) for s in found.page.items],
        "next_after": found.page.next_after,
        "total": found.page.total,
    }


@router.post("/{cluster_id}/split", response_model=SplitOut)
async def split(
    request: Request, principal: Curator, cluster_id: ClusterId, body: SplitIn
) -> dict[str, Any]:
    """Take faces out of an unknown person; they never join it again."""
    new_id = await call(
        request,
        principal,
        lambda lib: curation.split_cluster(lib, cluster_id, body.face_ids, body.as_new),
    )
    return {
        "cluster_id": cluster_id,
        "faces_moved": len(set(body.face_ids)),
        "new_cluster_id": new_id,
    }


@router.post("/{cluster_id}/merge", response_model=MergeClustersOut)
async def merge(
    request: Request, principal: Curator, cluster_id: ClusterId, body: MergeClustersIn
) -> dict[str, Any]:
    """Join unknown person ``other`` into this one (the same person)."""
    count = await call(
        request, principal, lambda lib: curation.merge_clusters(lib, cluster_id, body.other)
    )
    return {"cluster_id": cluster_id, "merged": body.other, "faces": count}


@router.post("/{cluster_id}/name", response_model=NamedClusterOut)
async def name(
    request: Request,
    principal: Annotated[Principal, Depends(Guard(Permission.NAME))],
    cluster_id: ClusterId,
    body: NameClusterIn,
) -> dict[str, Any]:
    """Enroll an unknown person under a name (its best faces become references); the
    library is matched again by the re-match job answered."""
    named = await call(
        request, principal, lambda lib: curation.name_cluster(lib, cluster_id, body.name, body.best)
    )
    return {
        "cluster_id": named.cluster_id,
        "person_id": named.person_id,
        "person": named.person,
        "references": named.references,
        "rematch_job": job_link_json(named.job),
    }
