"""The API's bodies as Pydantic models, so ``/api/v1/openapi.json`` states every field.

Responses are built by :mod:`facesight.web.serialize` (plain dicts of the library's records)
and checked against these models on the way out; requests are validated by them on the way
in (unknown fields refused, strings bounded and valid UTF-8, ids within SQLite's integers).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "ERRORS",
    "MAX_ID",
    "AuditPage",
    "AuditRecordOut",
    "AuditVerifyOut",
    "BulkDecision",
    "CandidateOut",
    "Decision",
    "DecisionResult",
    "Decisions",
    "DecisionsOut",
    "ErrorOut",
    "ForgetPerson",
    "ForgottenOut",
    "MergePeople",
    "PeoplePage",
    "PersonChangeOut",
    "PersonDetailOut",
    "PersonOut",
    "PersonSightingsPage",
    "QueueItemOut",
    "QueuePageOut",
    "ReferenceFromFace",
    "ReferenceOut",
    "Rename",
    "ReviewOut",
    "SearchFaceOut",
    "SearchHitOut",
    "SearchOut",
    "SightingOut",
    "SightingsPage",
]

MAX_ID = 2**63 - 1
"""The largest id a database row can have (SQLite's and PostgreSQL's BIGINT)."""


def _utf8(value: str) -> str:
    # JSON may carry a lone surrogate (\ud800); no database can store it
    value.encode("utf-8")
    return value


Name = Annotated[str, Field(max_length=200), AfterValidator(_utf8)]
Note = Annotated[str, Field(max_length=2000), AfterValidator(_utf8)]
State = Annotated[str, Field(max_length=200), AfterValidator(_utf8)]


class CandidateOut(BaseModel):
    """One enrolled person a face may be, with the distance and the estimated rates."""

    person_id: int
    person: str
    distance: float | None
    max_distance: float | None
    is_match: bool
    est_fmr: float | None = Field(description="chance a stranger comes this close (null: none)")
    est_fpir: float | None
    reference_id: int
    reference_crop_url: str
    insufficient_quality: bool
    uncalibrated: bool


class ReviewOut(BaseModel):
    """A reviewer's decision."""

    decision: str
    person_id: int | None
    person: str | None
    reviewer: str | None
    decided_at: str | None
    note: str | None
    manual: bool


class SightingOut(BaseModel):
    """One stored face and the evidence for who it is (box in pixels, times in seconds)."""

    face_id: int
    path: str
    kind: str
    frame: int | None
    time_s: float | None
    start_s: float | None
    end_s: float | None
    box: list[float | None]
    captured_at: str | None
    quality: float | None
    quality_reasons: str
    decision: str
    category: str
    state: str | None = Field(
        description="what the reviewer saw: send it back as `expected` with a decision"
    )
    proposed: CandidateOut | None
    candidates: list[CandidateOut]
    review: ReviewOut | None
    crop_url: str


class QueueItemOut(SightingOut):
    """A pending face of the review queue, with its proposed person's nearest reference."""

    reference_crop_url: str | None


class PersonOut(BaseModel):
    """An enrolled person and their counts."""

    id: int
    name: str
    references: int
    warnings: int
    sightings: int
    created_at: str


class PeoplePage(BaseModel):
    """A page of people; ask again with ``after=next_after`` for the next one."""

    items: list[PersonOut]
    next_after: str | None


class QueuePageOut(BaseModel):
    """A page of the review queue."""

    items: list[QueueItemOut]
    next_after: str | None


class SightingsPage(BaseModel):
    """A page of confirmed and pending sightings, by face id."""

    items: list[SightingOut]
    next_after: str | None


class Decision(BaseModel):
    """A decision on one face: ``assign`` confirms it as another ``person`` (needs ``force``)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["confirm", "reject", "assign"]
    person: Name | None = None
    note: Note = ""
    expected: State | None = Field(
        default=None, description="the `state` shown to the reviewer: 409 if it has changed"
    )
    force: bool = False


class BulkDecision(Decision):
    """A decision on the face ``face_id``."""

    face_id: int = Field(ge=1, le=MAX_ID)


class Decisions(BaseModel):
    """Decisions on many faces, each taken on its own."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[BulkDecision] = Field(min_length=1, max_length=200)


class DecisionResult(BaseModel):
    """What became of one decision: ``status`` is the one a single decision would answer."""

    face_id: int
    ok: bool
    status: int
    sighting: SightingOut | None
    detail: str | None
    error: str | None = None
    """The error's class name (``DecisionConflictError``, ``ManualIdentificationError``, ...)."""


class DecisionsOut(BaseModel):
    """One result per decision, in the order sent."""

    results: list[DecisionResult]


class SearchFaceOut(BaseModel):
    """A face found in the uploaded image, with its nearest enrolled people."""

    index: int = Field(description="1 = the leftmost face")
    box: list[float | None]
    score: float | None
    quality: float | None
    quality_reasons: list[str]
    warnings: list[str]
    proposed: CandidateOut | None
    candidates: list[CandidateOut]


class SearchHitOut(BaseModel):
    """A stored face near the face searched for, with the evidence for the pair."""

    face_id: int
    distance: float | None = Field(description="from the face searched for")
    est_fmr: float | None = Field(description="chance a stranger's face comes this close")
    same_person: bool = Field(description="under the 1:N limit over every stored face")
    max_distance: float | None
    person: str | None = Field(description="who the stored face is named as, if anyone")
    person_id: int | None
    category: str = Field(description="its decision category (confirmed, pending, ...)")
    quality: float | None
    path: str
    kind: str
    frame: int | None
    time_s: float | None
    timecode: str | None
    crop_url: str
    face_url: str


class SearchOut(BaseModel):
    """Stored faces nearest the face searched for, a page at a time, nearest first; for an
    upload also every face of the image (the image itself is not kept)."""

    faces: list[SearchFaceOut]
    probe_face_id: int | None
    probe_index: int | None = Field(description="which of `faces` was searched for")
    results: list[SearchHitOut]
    searched: int = Field(description="stored faces searched (the 1:N gallery)")
    offset: int
    next_offset: int | None


class AuditRecordOut(BaseModel):
    """One audit record: who did what, when, to which items."""

    id: int
    at: str
    actor: str
    action: str
    items: dict[str, Any]
    details: str
    os_user: str | None
    claimed_user: str | None
    version: str | None
    hash: str
    erased: list[str]


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditRecordOut]
    next_after: str | None


class ReferenceOut(BaseModel):
    """One reference face of a person (``crop_url`` null when no crop was kept)."""

    id: int
    person_id: int
    source_path: str
    face_id: int | None = Field(description="the stored face it was made from, if any")
    quality: float | None
    warnings: str
    model: str
    created_at: str
    crop_url: str | None


class PersonDetailOut(PersonOut):
    """One enrolled person with their references."""

    reference_faces: list[ReferenceOut]


class PersonSightingsPage(BaseModel):
    """A page of one person's sightings of one decision category, oldest taken first."""

    category: str
    total: int
    items: list[QueueItemOut]
    next_after: str | None


class PersonChangeOut(BaseModel):
    """The person as they now stand after a change, and the re-match job it queued."""

    person: PersonDetailOut
    reference_id: int | None = None
    absorbed_id: int | None = None
    rematch_job_id: int | None = Field(
        default=None, description="the queued re-match job (`/api/v1/jobs/{job_id}`)"
    )


class ForgottenOut(BaseModel):
    """What forgetting a person erased, and the re-match job it queued."""

    person_id: int
    references_removed: int
    faces_removed: int
    files_removed: int
    audit_records_erased: int
    rematch_job_id: int | None


class Rename(BaseModel):
    """A person's new name (the rules of an enrolled name; not another person's)."""

    model_config = ConfigDict(extra="forbid")

    name: Name


class ReferenceFromFace(BaseModel):
    """A face confirmed as the person, to become one of their references."""

    model_config = ConfigDict(extra="forbid")

    face_id: int = Field(ge=1, le=MAX_ID)


class MergePeople(BaseModel):
    """Merge the person of the path with ``other_id``; ``keep`` says whose name survives."""

    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(ge=1, le=MAX_ID)
    keep: Literal["this", "other"] = "this"


class ForgetPerson(BaseModel):
    """Forget a person: ``confirm`` must be their exact name, as typed by whoever asks."""

    model_config = ConfigDict(extra="forbid")

    confirm: Name
    with_sightings: bool = Field(
        default=False, description="also erase the faces confirmed as them, with their crops"
    )


class AuditVerifyOut(BaseModel):
    """What ``audit verify`` found: ``problems`` in log order, the first break first."""

    ok: bool
    records: int
    head: str
    problems: list[str]
    first_break: int | None = Field(description="the first broken record's id, if any")


class ErrorOut(BaseModel):
    """Every error's body; a decision conflict adds the face as it now stands."""

    detail: Any
    error: str | None = None
    current: SightingOut | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (401, 403, 404, 409, 413, 422, 429)
}
"""The error answers every API route documents (one body shape, ``ErrorOut``)."""
