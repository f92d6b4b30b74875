"""Plain result records returned by the library and rendered by the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from facesight.errors import MediaError

__all__ = [
    "DECISION_CATEGORIES",
    "IMPORTED_CATEGORY",
    "Candidate",
    "Comparison",
    "Decision",
    "EnrollResult",
    "FaceHit",
    "FailureKind",
    "ForgetResult",
    "IdentifiedFace",
    "ImportedTag",
    "MediaFailure",
    "PersonSummary",
    "ReferenceFace",
    "Review",
    "ScanEvent",
    "ScanStatus",
    "ScanSummary",
    "Sighting",
    "person_id_of",
]


@dataclass(frozen=True)
class Candidate:
    """One enrolled person a face may be, with the evidence.

    Attributes:
        distance: Euclidean distance to the person's template (the centroid
            of their ``references`` reference descriptors).
        is_match: the decision, ``distance <= max_distance``.
        max_distance: the decision distance for this person's template size
            (from the target FPIR, or fixed by the user).
        fmr: estimated false-match rate at ``distance``: the chance that a
            stranger comes this close to this template.
        fpir: estimated chance that a stranger comes this close to *someone*
            in the gallery (FMR compounded over every enrolled person).
        reference_id, reference_path, reference_distance: the single
            reference nearest to the face, to look at; ``reference_crop`` its
            crop, when one was kept.
        insufficient_quality: the face is too poor to be named automatically
            (``ReferenceCalibration.usable``): never a match, kept for review
            and ``--investigate``.
        uncalibrated: the descriptor model has no calibration tables (a registered
            model before ``calibrate build``): ``fmr`` and ``fpir`` are NaN and the face
            is a match only under a fixed ``max_distance``; ranked by distance.
    """

    person_id: int
    person: str
    reference_id: int
    reference_path: str
    distance: float
    is_match: bool
    max_distance: float
    fmr: float = float("nan")
    fpir: float = float("nan")
    reference_distance: float = float("nan")
    references: int = 1
    reference_crop: str | None = None
    insufficient_quality: bool = False
    uncalibrated: bool = False


class FailureKind(StrEnum):
    """Why a file was not used (``MediaFailure.kind``, stored as text in the library): the
    ``kind`` of each :class:`~facesight.errors.MediaError` and the refusals of the library.
    Equal to the strings written before it existed, so comparing with a string works."""

    MEDIA = "media"
    UNREADABLE = "unreadable"
    UNSUPPORTED = "unsupported"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    FAILED = "failed"  # a scan event that failed without a MediaError
    REFERENCE = "reference"  # a reference photo cannot be re-checked
    REFUSED = "refused"  # enrolment refused the file
    NAME = "name"  # a sidecar's person name cannot be written
    SIDECAR = "sidecar"  # a sidecar cannot be written
    MISSING = "missing"  # the scanned file is gone
    CHANGED = "changed"  # the scanned file is another size now


class ScanStatus(StrEnum):
    """What a scan did with one file (``ScanEvent.status``); equal to its old strings."""

    SCANNED = "scanned"
    SKIPPED = "skipped"  # already in the library (same sha256)
    FAILED = "failed"
    SEGMENT = "segment"  # a segment of a long video is done: progress, not a file done


class Decision(StrEnum):
    """Where a face stands (``Sighting.decision``); ``Review.decision`` is one of the
    first two. Equal to the strings stored in the library."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    PENDING = "pending"
    REFERENCE = "reference"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class MediaFailure:
    """A file that could not be used, with the problem in one line; ``kind`` is a
    :class:`FailureKind` value."""

    path: str
    kind: str
    message: str

    @classmethod
    def from_error(cls, error: MediaError) -> MediaFailure:
        """The record of a ``MediaError``: its path, kind and problem."""
        return cls(error.path, FailureKind(error.kind), error.problem)


def _match(candidates: list[Candidate]) -> Candidate | None:
    """The best candidate if it is under the decision threshold, else None."""
    return candidates[0] if candidates and candidates[0].is_match else None


@dataclass(frozen=True)
class PersonSummary:
    """An enrolled person and how many usable references they have."""

    id: int
    name: str
    references: int
    warnings: int
    sightings: int
    created_at: str


@dataclass
class EnrollResult:
    """What one enrollment did: references added, skipped duplicates, warnings, failures."""

    person: str
    person_id: int
    added: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    already_enrolled: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[MediaFailure] = field(default_factory=list)


@dataclass(frozen=True)
class Sighting:
    """One stored face and the evidence for who it is.

    Boxes and landmarks are in pixels of the upright image; ``frame`` is None
    for still images; ``candidates`` are ordered nearest first.

    In a video (``kind == "video"``) a sighting is a track: the face followed
    from ``start_s`` to ``end_s`` (seconds from the start, presentation
    time), found in ``frames_seen`` sampled frames, identified from its best
    frames; ``frame``, ``time_s``, the box and the crop are those of its best frame.
    """

    face_id: int
    path: str
    sha256: str
    frame: int | None
    width_px: int
    height_px: int
    xyxy: tuple[float, float, float, float]
    kps5: list[tuple[float, float]]
    score: float
    crop_path: str | None
    captured_at: str | None
    gps: tuple[float, float] | None
    detector: str
    embedder: str
    candidates: list[Candidate]
    quality: float | None = None
    quality_reasons: str = ""
    kind: str = "image"
    time_s: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    frames_seen: int | None = None
    duration_s: float | None = None
    review: Review | None = None
    reference: ReferenceFace | None = None
    imported: ImportedTag | None = None

    @property
    def match(self) -> Candidate | None:
        """The best candidate if it is under the decision threshold, else None."""
        return _match(self.candidates)

    @property
    def decision(self) -> Decision:
        """``reference`` (the face is one of a person's enrolled references: no sighting),
        ``confirmed`` (a reviewer said who it is), ``pending`` (a match not yet
        reviewed, or a name imported from another tool), ``rejected`` (a reviewer rejected
        what was proposed) or ``unmatched``."""
        if self.reference is not None:
            return Decision.REFERENCE
        if self.review is not None and self.review.decision == Decision.CONFIRMED:
            return Decision.CONFIRMED
        if self.match is not None or self.imported is not None:
            return Decision.PENDING
        return Decision.REJECTED if self.review is not None else Decision.UNMATCHED

    @property
    def category(self) -> str:
        """How the face came to be named (see ``DECISION_CATEGORIES``): ``machine match``
        (proposed by the decision rule, not yet reviewed), ``confirmed`` (a reviewer
        confirmed the proposal), ``manual identification`` (a reviewer named someone the
        rule did not propose), ``imported (unverified)`` (named by another tool's tag, not
        yet reviewed), ``rejected``, ``reference`` or ``unmatched``."""
        decision = self.decision
        if decision == "confirmed":
            manual = self.review is not None and self.review.manual
            return "manual identification" if manual else "confirmed"
        if decision == "pending" and self._named_by_import:
            return IMPORTED_CATEGORY
        return "machine match" if decision == "pending" else decision

    @property
    def provenance(self) -> str:
        """Where an imported name came from (``imported (unverified) from <tool> <file>``),
        or "" for a face no imported tag names."""
        tag = self.imported
        if tag is None or self.decision != "pending" or not self._named_by_import:
            return ""
        return f"{IMPORTED_CATEGORY} from {tag.tool} {tag.source}"

    @property
    def _named_by_import(self) -> bool:
        """An imported tag names the face, and the decision rule names nobody else."""
        match = self.match
        tag = self.imported
        return tag is not None and (match is None or match.person_id == tag.person_id)

    @property
    def person(self) -> str | None:
        """Who this is: the reference's person, the confirmed person, else the proposed
        match, else None."""
        if self.reference is not None:
            return self.reference.person
        if self.review is not None and self.review.decision == "confirmed":
            return self.review.person
        match = self.match
        if match is not None:
            return match.person
        return self.imported.person if self.imported is not None else None

    @property
    def named(self) -> Candidate | None:
        """The candidate of the person this face is named as (confirmed or proposed), with
        its distance and est. FMR; None when nobody is, or no figures are known."""
        review = self.review
        if review is not None and review.decision == "confirmed":
            same = [c for c in self.candidates if c.person_id == review.person_id]
            return same[0] if same else None
        if self.match is None and self.imported is not None:
            same = [c for c in self.candidates if c.person_id == self.imported.person_id]
            return same[0] if same else None
        return self.match


IMPORTED_CATEGORY = "imported (unverified)"
"""The category of a face named only by an imported tag (``Sighting.category``)."""

DECISION_CATEGORIES = {
    "machine match": "the decision rule named the face; no reviewer has looked at it yet",
    "confirmed": "a reviewer confirmed the person the decision rule proposed",
    "manual identification": (
        "a reviewer named the face as someone the decision rule did not propose (forced); "
        "the distance and est. FMR are still those of the face to that person"
    ),
    "rejected": "a reviewer said the face is not the person proposed",
    "reference": "the face is one of the person's enrolled reference photos: not a sighting",
    "unmatched": "the decision rule names nobody and no reviewer did",
    "imported (unverified)": (
        "another tool's face tag names the face (import-tags); no reviewer has checked it, and "
        "the decision rule did not name anyone else"
    ),
}
"""What each ``Sighting.category`` means, for help texts and reports."""


@dataclass(frozen=True)
class ImportedTag:
    """Another tool's tag naming a stored face (``import-tags``), not a reviewer's word:
    ``tool`` is the format and software that wrote it, ``source`` the file it was read from."""

    face_id: int
    person_id: int
    person: str
    tool: str
    source: str
    imported_at: str


@dataclass(frozen=True)
class ReferenceFace:
    """The enrolled reference a stored face is (same media sha256, boxes overlapping)."""

    reference_id: int
    person_id: int
    person: str


@dataclass(frozen=True)
class Review:
    """A reviewer's decision about one stored face and one person.

    ``decision`` is ``confirmed`` (this face is that person) or ``rejected``
    (it is not: never proposed again for this face). ``manual`` marks a confirmation
    of someone the decision rule did not propose (a manual identification).
    """

    face_id: int
    person_id: int
    person: str
    decision: str
    reviewer: str
    decided_at: str
    note: str = ""
    manual: bool = False


@dataclass(frozen=True)
class IdentifiedFace:
    """A face found in an image that was not stored, with its candidates."""

    index: int
    xyxy: tuple[float, float, float, float]
    score: float
    candidates: list[Candidate]
    warnings: list[str]
    quality: float = 1.0
    quality_reasons: list[str] = field(default_factory=list)

    @property
    def match(self) -> Candidate | None:
        """The best candidate if it is under the decision threshold, else None."""
        return _match(self.candidates)


@dataclass(frozen=True)
class Comparison:
    """A 1:1 comparison of the largest face of two images."""

    distance: float
    max_distance: float
    same_person: bool
    strength: str
    fmr: float = float("nan")


@dataclass
class ScanSummary:
    """Counts for one scan; ``failures`` lists each file that could not be used.

    ``media_scanned`` counts images and videos; of those, ``videos_scanned``
    videos with ``footage_s`` seconds of footage. A video's faces are its tracks.
    ``walked_past`` counts, by kind ('raw' without ``facesight[raw]``,
    'sidecar', 'other'), the files inside scanned folders that were not opened.
    ``library_skipped`` counts the times the walk met the library's own folder
    and left it out.
    """

    files_seen: int = 0
    media_scanned: int = 0
    media_skipped: int = 0
    media_without_faces: int = 0
    faces_found: int = 0
    faces_matched: int = 0
    seconds: float = 0.0
    failures: list[MediaFailure] = field(default_factory=list)
    videos_scanned: int = 0
    footage_s: float = 0.0
    walked_past: dict[str, int] = field(default_factory=dict)
    library_skipped: int = 0

    @property
    def realtime_factor(self) -> float:
        """Seconds of footage scanned per second of scanning (0 without video)."""
        return self.footage_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def images_per_s(self) -> float:
        return self.media_scanned / self.seconds if self.seconds > 0 else 0.0

    @property
    def faces_per_s(self) -> float:
        return self.faces_found / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class FaceHit:
    """A stored face that looks like the face searched for.

    ``fmr`` is the estimated chance that a stranger's face comes this close;
    ``same_person`` holds when it is under the level that keeps the whole
    search's false-positive rate at the library's target for this many stored
    faces (``max_distance`` is that level as a distance).
    """

    distance: float
    fmr: float
    same_person: bool
    max_distance: float
    sighting: Sighting


@dataclass(frozen=True)
class ForgetResult:
    """What erasing a person removed (``faces_removed``: confirmed sightings, if asked)."""

    person: str
    references_removed: int
    candidates_removed: int
    files_removed: int
    faces_removed: int = 0
    audit_records_erased: int = 0


@dataclass(frozen=True)
class ScanEvent:
    """Progress of one file: ``status`` is scanned, skipped or failed.

    A video's ``faces`` are its tracks, ``footage_s`` its duration; a video
    scanned up to some damage is ``scanned`` with its ``failure`` too. While a
    long video is analysed, each finished segment but the last gives a
    ``segment`` event with ``part`` = (segments done, of how many): progress
    within the file, not a file done.
    """

    path: str
    status: ScanStatus
    faces: int = 0
    matched: int = 0
    failure: MediaFailure | None = None
    footage_s: float = 0.0
    part: tuple[int, int] | None = None


def person_id_of(sighting: Sighting) -> int | None:
    """The id of who the sighting is (its reference's person, confirmed, else proposed),
    or None."""
    if sighting.reference is not None:
        return sighting.reference.person_id
    if sighting.review is not None and sighting.review.decision == "confirmed":
        return sighting.review.person_id
    match = sighting.match
    if match is not None:
        return match.person_id
    return sighting.imported.person_id if sighting.imported is not None else None
