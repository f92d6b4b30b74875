"""The library's records as JSON (the API's bodies, and the current decision of a 409).

Plain functions of the records, no rule: numbers that are not finite (an uncalibrated
model's rates) become null, paths are shown as the library stores them, and every image is a
URL of this app by id (``/faces/ID/crop``), never a file path to open.
"""

from __future__ import annotations

import math
from typing import Any

from facesight.library.people import StoredReference
from facesight.library.review_queue import decision_state
from facesight.records import Candidate, PersonSummary, Review, Sighting

__all__ = [
    "candidate_json",
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
