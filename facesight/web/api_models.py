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
    "AmbiguousOut",
    "AppearanceOut",
    "AuditPage",
    "AuditRecordOut",
    "AuditVerifyOut",
    "BulkDecision",
    "CandidateOut",
    "ClusterFacesPage",
    "ClusterOut",
    "ClustersPage",
    "ComparisonOut",
    "ConflictsOut",
    "Decision",
    "DecisionResult",
    "Decisions",
    "DecisionsOut",
    "DifferentIn",
    "DifferentOut",
    "ErrorOut",
    "ForgetPerson",
    "ForgottenOut",
    "JobLinkOut",
    "MergeClustersIn",
    "MergeClustersOut",
    "MergePeople",
    "MergePeopleIn",
    "MergedPeopleOut",
    "NameClusterIn",
    "NamedClusterOut",
    "PeoplePage",
    "PersonChangeOut",
    "PersonConflictOut",
    "PersonDetailOut",
    "PersonOut",
    "PersonSightingsPage",
    "QueueItemOut",
    "QueuePageOut",
    "ReferenceEvidenceOut",
    "ReferenceFromFace",
    "ReferenceOut",
    "Rename",
    "ReviewOut",
    "SearchFaceOut",
    "SearchHitOut",
    "SearchOut",
    "SightingOut",
    "SightingsPage",
    "SplitIn",
    "SplitOut",
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


# -- unknown people and conflicts (web/api_unknowns.py, web/api_conflicts.py) ------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class JobLinkOut(BaseModel):
    """A background job an action queued (``url``: its page)."""

    id: int
    kind: str
    state: str
    url: str


class AppearanceOut(BaseModel):
    """A media file an unknown person appears in (video: each track's span in seconds)."""

    path: str
    kind: str
    face_ids: list[int]
    spans_s: list[list[float]]


class ClusterOut(BaseModel):
    """An unknown person: faces that match nobody and look alike, as last clustered."""

    id: int
    faces: int
    media: int = Field(description="in how many distinct media files it appears")
    first_seen: str | None
    last_seen: str | None
    sample_faces: list[int] = Field(description="its best faces, best quality first")
    sample_crop_urls: list[str]
    appearances: list[AppearanceOut]
    url: str


class ClustersPage(BaseModel):
    """A page of unknown people, most media first; clustering runs as a background job."""

    items: list[ClusterOut]
    next_after: str | None
    total: int
    refreshed_at: str | None = Field(description="when a clustering job last finished")
    clustering_job: JobLinkOut | None = Field(description="one queued or running, if any")


class ClusterFacesPage(BaseModel):
    """A page of one unknown person's faces, best quality first."""

    cluster_id: int
    items: list[SightingOut]
    next_after: str | None
    total: int


class SplitIn(BaseModel):
    """Faces to take out of an unknown person; with ``as_new`` they form a new one."""

    model_config = ConfigDict(extra="forbid")

    face_ids: list[Id] = Field(min_length=1, max_length=10_000)
    as_new: bool = False


class SplitOut(BaseModel):
    """What a split did."""

    cluster_id: int
    faces_moved: int
    new_cluster_id: int | None


class MergeClustersIn(BaseModel):
    """The unknown person to join into the one of the path (the same person)."""

    model_config = ConfigDict(extra="forbid")

    other: Id


class MergeClustersOut(BaseModel):
    """The merged unknown person and its face count."""

    cluster_id: int
    merged: int
    faces: int


class NameClusterIn(BaseModel):
    """Enroll an unknown person as ``name``: its ``best`` faces become references."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    best: int = Field(default=3, ge=1, le=50)


class NamedClusterOut(BaseModel):
    """The person an unknown person became; re-matching the library is a queued job."""

    cluster_id: int
    person_id: int
    person: str
    references: list[int] = Field(description="the face ids enrolled as references")
    rematch_job: JobLinkOut


class ReferenceEvidenceOut(BaseModel):
    """An enrolled reference face: its id, the enrolled image and its crop."""

    reference_id: int
    source_path: str
    crop_url: str


class ComparisonOut(BaseModel):
    """One comparison of a person conflict and whether it passes the library's decision."""

    what: Literal["references", "first template", "second template"]
    distance: float | None
    est_fmr: float | None
    passes: bool


class PersonConflictOut(BaseModel):
    """Two enrolled people the system would call the same person (one face, two names)."""

    first_id: int
    first: str
    second_id: int
    second: str
    first_reference: ReferenceEvidenceOut
    second_reference: ReferenceEvidenceOut
    first_references: int
    second_references: int
    comparisons: list[ComparisonOut]


class AmbiguousOut(BaseModel):
    """A stored face that matches one person and almost as well another."""

    sighting: SightingOut
    best: CandidateOut
    runner_up: CandidateOut
    fmr_ratio: float | None = Field(description="runner-up's est. FMR over the best's (>= 1)")


class ConflictsOut(BaseModel):
    """Every person conflict, and a page of ambiguous sightings (closest call first)."""

    people: list[PersonConflictOut]
    ambiguous: list[AmbiguousOut]
    next_after: str | None


class MergePeopleIn(BaseModel):
    """Make ``absorb`` part of ``keep`` (person ids): ``keep``'s name stays."""

    model_config = ConfigDict(extra="forbid")

    keep: Id
    absorb: Id


class MergedPeopleOut(BaseModel):
    """What merging two people did; re-matching the library is a queued job."""

    kept_id: int
    kept: str
    absorbed_id: int
    absorbed: str
    references_moved: int
    duplicates_dropped: int
    reviews_moved: int
    rematch_job: JobLinkOut


class DifferentIn(BaseModel):
    """Two enrolled people (ids) who are not the same person."""

    model_config = ConfigDict(extra="forbid")

    first: Id
    second: Id


class DifferentOut(BaseModel):
    """The pair marked different (``added`` False: it already was)."""

    first: int
    second: int
    added: bool
