"""The library's records as JSON (the API's bodies, and the current decision of a 409).

Plain functions of the records, no rule: numbers that are not finite (an uncalibrated
model's rates) become null, paths are shown as the library stores them, and every image is a
URL of this app by id (``/faces/ID/crop``), never a file path to open.
"""

from __future__ import annotations

import math
from typing import Any

from facesight.library.conflicts import AmbiguousSighting, Comparison, ReferenceEvidence
from facesight.library.jobs import Job
from facesight.library.people import StoredReference
from facesight.library.review_queue import decision_state
from facesight.library.unknowns import UnknownCluster
from facesight.records import Candidate, PersonSummary, Review, Sighting

__all__ = [
    "ambiguous_json",
    "candidate_json",
    "cluster_json",
    "comparison_json",
    "evidence_reference_json",
    "job_link_json",
    "number",
    "person_json",
    "reference_json",
    "review_json",
    "sighting_json",
]


def number(value: float | None) -> float | None:
    """A finite float, or None (JSON has no NaN or infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """One person a face may be, with the distance and estimated rates."""
    return {
        "person_id": candidate.person_id,
        "person": candidate.person,
        "distance": number(candidate.distance),
        "max_distance": number(candidate.max_distance),
        "is_match": candidate.is_match,
        "est_fmr": number(candidate.fmr),
        "est_fpir": number(candidate.fpir),
        "reference_id": candidate.reference_id,
        "reference_crop_url": f"/references/{candidate.reference_id}/crop",
        "insufficient_quality": candidate.insufficient_quality,
        "uncalibrated": candidate.uncalibrated,
    }


def review_json(review: Review | None) -> dict[str, Any] | None:
    """A reviewer's decision, or None."""
    if review is None:
        return None
    return {
        "decision": review.decision,
        "person_id": review.person_id,
        "person": review.person,
        "reviewer": review.reviewer,
        "decided_at": review.decided_at,
        "note": review.note,
        "manual": review.manual,
    }


def sighting_json(sighting: Sighting, *, state: str | None = None) -> dict[str, Any]:
    """One stored face and the evidence for who it is, with its decision state (what a
    decision's ``expected`` must repeat; worked out here unless the caller has it)."""
    match = sighting.match
    if state is None:
        state = decision_state(sighting)
    return {
        "face_id": sighting.face_id,
        "path": sighting.path,
        "kind": sighting.kind,
        "frame": sighting.frame,
        "time_s": number(sighting.time_s),
        "start_s": number(sighting.start_s),
        "end_s": number(sighting.end_s),
        "box": [number(v) for v in sighting.xyxy],
        "captured_at": sighting.captured_at,
        "quality": number(sighting.quality),
        "quality_reasons": sighting.quality_reasons,
        "decision": str(sighting.decision),
        "category": sighting.category,
        "state": state,
        "proposed": candidate_json(match) if match is not None else None,
        "candidates": [candidate_json(c) for c in sighting.candidates[:3]],
        "review": review_json(sighting.review),
        "crop_url": f"/faces/{sighting.face_id}/crop",
    }


def person_json(person: PersonSummary) -> dict[str, Any]:
    """An enrolled person and their counts."""
    return {
        "id": person.id,
        "name": person.name,
        "references": person.references,
        "warnings": person.warnings,
        "sightings": person.sightings,
        "created_at": person.created_at,
    }


def reference_json(reference: StoredReference) -> dict[str, Any]:
    """One reference face of a person; its crop by id."""
    return {
        "id": reference.id,
        "person_id": reference.person_id,
        "source_path": reference.source_path,
        "face_id": reference.face_id,
        "quality": number(reference.quality),
        "warnings": reference.warnings,
        "model": reference.embedder,
        "created_at": reference.created_at,
        "crop_url": f"/references/{reference.id}/crop" if reference.crop_path else None,
    }


def job_link_json(job: Job) -> dict[str, Any]:
    """A job an action queued, with the page that follows it."""
    return {"id": job.id, "kind": str(job.kind), "state": str(job.state), "url": f"/jobs/{job.id}"}


def cluster_json(cluster: UnknownCluster) -> dict[str, Any]:
    """An unknown person as last clustered; crops by face id, never by path."""
    return {
        "id": cluster.id,
        "faces": cluster.faces,
        "media": cluster.media,
        "first_seen": cluster.first_seen,
        "last_seen": cluster.last_seen,
        "sample_faces": list(cluster.sample_faces),
        "sample_crop_urls": [f"/faces/{f}/crop" for f in cluster.sample_faces],
        "appearances": [
            {
                "path": a.path,
                "kind": a.kind,
                "face_ids": list(a.face_ids),
                "spans_s": [[start, end] for start, end in a.spans_s],
            }
            for a in cluster.appearances
        ],
        "url": f"/unknowns/{cluster.id}",
    }


def evidence_reference_json(reference: ReferenceEvidence) -> dict[str, Any]:
    """A reference face a conflict's evidence names, its crop by id."""
    return {
        "reference_id": reference.reference_id,
        "source_path": reference.source_path,
        "crop_url": f"/references/{reference.reference_id}/crop",
    }


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """One comparison of a person conflict, judged by the library's decision."""
    return {
        "what": comparison.what,
        "distance": number(comparison.distance),
        "est_fmr": number(comparison.fmr),
        "passes": comparison.passes,
    }


def ambiguous_json(ambiguous: AmbiguousSighting) -> dict[str, Any]:
    """A face two people claim almost equally, with both candidates."""
    return {
        "sighting": sighting_json(ambiguous.sighting),
        "best": candidate_json(ambiguous.first),
        "runner_up": candidate_json(ambiguous.second),
        "fmr_ratio": number(ambiguous.fmr_ratio),
    }
