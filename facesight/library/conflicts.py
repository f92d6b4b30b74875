"""Conflicts: one face under two names, and sightings two people claim almost equally.

A **person conflict** is a pair of enrolled people whose references the
system itself would call the same person: the same face enrolled under two
names (a forged identity document, a typo'd duplicate, a stage name). For
each pair the evidence is the closest pair of their references and each
person's template against the other's nearest reference. The pair is a
conflict when any of those comparisons passes the library's own decision:
estimated FMR at or below the per-person level ``alpha`` (``calibrate``),
the 1-face table for reference against reference and the template's size
for a template, or within ``max_distance`` when the library decides by a
fixed distance. The rule is the identification decision on purpose: if one
person's reference photo were scanned it would be named as the other
person, so every sighting of either is in doubt, whatever a stricter or
looser rule would say. A pair marked different (``merge.mark_different``,
table ``distinct_people``) is remembered and never listed again.

An **ambiguous sighting** is a stored face whose best candidate is a match
and whose runner-up (always another person) either passes the decision too
or has an estimated FMR within :data:`AMBIGUITY_FACTOR` of the best one's.
The decision lives on the log-FMR scale, where estimates span many decades;
less than one decade between the two is too little to name one over the
other without a look. Faces a reviewer confirmed are left out (a person
decided); people marked different are not, since two different people can
still look alike in one photo.

Resolving a conflict (merge, mark different) and names that collide are
``library/merge.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery, pairwise_distances
from facesight.errors import InvalidInputError
from facesight.identity.calibrate import Calibration, ReferenceCalibration
from facesight.records import Candidate, Decision, Sighting
from facesight.store.audit import AuditLog
from facesight.store.sqlite import Store
from facesight.vision.pipeline import FacePipeline


class EnrollmentContext(Protocol):
    """What :func:`enrollment_conflicts` reads of a library (``Library`` is one)."""

    @property
    def store(self) -> Store: ...
    @property
    def pipeline(self) -> FacePipeline: ...
    @property
    def reference_calibration(self) -> ReferenceCalibration: ...
    @property
    def target_fpir(self) -> float: ...
    @property
    def max_distance(self) -> float | None: ...


class ConflictLibrary(EnrollmentContext, Protocol):
    """What listing and resolving conflicts use of a library (``Library`` is one): its
    store and audit log, decision settings, gallery, sightings and re-matching."""

    @property
    def audit(self) -> AuditLog: ...
    def gallery(self) -> Gallery: ...
    def calibration(self) -> Calibration: ...
    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]: ...
    def rematch(self) -> int: ...


__all__ = [
    "AMBIGUITY_FACTOR",
    "AmbiguousSighting",
    "Comparison",
    "ConflictLibrary",
    "EnrollmentContext",
    "PersonConflict",
    "ReferenceEvidence",
    "ambiguous_sightings",
    "comparisons",
    "enrollment_conflicts",
    "person_conflicts",
]

AMBIGUITY_FACTOR = 10.0
"""A runner-up whose estimated FMR is within this factor of the best match's is as likely."""

_CHUNK_DISTANCES = 4_000_000
"""At most this many distances in memory at once (16 MB) while screening person pairs."""


@dataclass(frozen=True)
class ReferenceEvidence:
    """One reference face to look at: its id, the enrolled image and the face crop."""

    reference_id: int
    source_path: str
    crop_path: str | None


@dataclass(frozen=True)
class PersonConflict:
    """Two enrolled people whose references the system would call the same person.

    Attributes:
        distance: between the two closest references, ``first_reference``
            and ``second_reference``.
        fmr: estimated chance that two strangers' single faces come this close.
        first_template_distance, first_template_fmr: ``first``'s template
            (``first_references`` faces) against ``second``'s nearest reference.
        second_template_distance, second_template_fmr: the other way round.
    """

    first_id: int
    first: str
    second_id: int
    second: str
    first_reference: ReferenceEvidence
    second_reference: ReferenceEvidence
    distance: float
    fmr: float
    first_template_distance: float
    first_template_fmr: float
    second_template_distance: float
    second_template_fmr: float
    first_references: int
    second_references: int

    @property
    def best_fmr(self) -> float:
        """The strongest evidence of the three comparisons (smallest estimated FMR)."""
        return min(self.fmr, self.first_template_fmr, self.second_template_fmr)


@dataclass(frozen=True)
class Comparison:
    """One of a person conflict's three comparisons, and whether it passes the decision.

    ``what`` is ``references`` (the two closest references, face against face),
    ``first template`` (the first person's template against the second's nearest
    reference) or ``second template`` (the other way round).
    """

    what: str
    distance: float
    fmr: float
    passes: bool


def comparisons(
    conflict: PersonConflict, calibration: Calibration, max_distance: float | None
) -> list[Comparison]:
    """The three comparisons of a conflict, each judged by the library's decision (est.
    FMR at most ``alpha``, or within ``max_distance`` when the library decides by distance):
    the conflict is listed because at least one passes."""
    figures = (
        ("references", conflict.distance, conflict.fmr),
        ("first template", conflict.first_template_distance, conflict.first_template_fmr),
        ("second template", conflict.second_template_distance, conflict.second_template_fmr),
    )
    return [
        Comparison(
            what,
            distance,
            fmr,
            distance <= max_distance if max_distance is not None else calibration.is_match(fmr),
        )
        for what, distance, fmr in figures
    ]


@dataclass(frozen=True)
class AmbiguousSighting:
    """A stored face that matches one person and almost as well another.

    ``fmr_ratio`` is the runner-up's estimated FMR over the best's (>= 1;
    near 1: as likely one as the other).
    """

    sighting: Sighting
    first: Candidate
    second: Candidate
    fmr_ratio: float


# -- person conflicts ---------------------------------------------------------


def person_conflicts(library: ConflictLibrary) -> list[PersonConflict]:
    """Pairs of enrolled people the system would call the same person, strongest first.

    Pairs marked different are left out. Only references described by the
    current descriptor version take part (as in matching).
    """
    gallery, calibration = library.gallery(), library.calibration()
    people = _People.of(gallery)
    if len(people.ids) < 2:
        return []
    skip = library.store.distinct_pairs()
    found = []
    for p, q in sorted(_screen(people, calibration, library.max_distance)):
        if (int(people.ids[p]), int(people.ids[q])) in skip:
            continue
        conflict = _evidence(library, people, calibration, p, q)
        if _decides_same(conflict, calibration, library.max_distance):
            found.append(conflict)
    return sorted(found, key=lambda c: (c.best_fmr, c.distance, c.first, c.second))


@dataclass(frozen=True)
class _People:
    """The gallery regrouped: people in id order, each one's references contiguous."""

    ids: NDArray[np.int64]
    names: list[str]
    starts: NDArray[np.int64]
    sizes: NDArray[np.int64]
    embeddings: NDArray[np.float32]
    templates: NDArray[np.float32]
    reference_ids: NDArray[np.int64]
    reference_paths: list[str]

    @classmethod
    def of(cls, gallery: Gallery) -> _People:
        order = np.argsort(gallery.person_ids, kind="stable")
        person_ids = gallery.person_ids[order]
        ids, starts, sizes = np.unique(person_ids, return_index=True, return_counts=True)
        templates = gallery.templates()
        row_of = {int(i): j for j, i in enumerate(templates.person_ids)}
        return cls(
            ids=ids.astype(np.int64),
            names=[gallery.person_names[int(order[s])] for s in starts],
            starts=starts.astype(np.int64),
            sizes=sizes.astype(np.int64),
            embeddings=gallery.embeddings[order],
            templates=templates.vectors[[row_of[int(i)] for i in ids]],
            reference_ids=gallery.reference_ids[order],
            reference_paths=[gallery.reference_paths[int(i)] for i in order],
        )

    def rows(self, p: int) -> slice:
        start = int(self.starts[p])
        return slice(start, start + int(self.sizes[p]))


def _person_chunks(people: _People) -> Iterator[tuple[int, int]]:
    """[p0, p1) ranges of people whose references fit ``_CHUNK_DISTANCES`` against all."""
    total = len(people.embeddings)
    budget = max(_CHUNK_DISTANCES // max(total, 1), 1)
    p0 = 0
    while p0 < len(people.ids):
        p1, rows = p0, 0
        while p1 < len(people.ids) and (p1 == p0 or rows + people.sizes[p1] <= budget):
            rows += int(people.sizes[p1])
            p1 += 1
        yield p0, p1
        p0 = p1


def _screen(
    people: _People, calibration: Calibration, max_distance: float | None
) -> set[tuple[int, int]]:
    """Index pairs (p < q) where some comparison is within the decision distance.

    The decision distances (``Calibration.threshold``) are the FMR rule turned
    into distances, so screening needs no FMR per pair; a hair of slack lets
    :func:`_decides_same` settle the borderline ones on the FMR itself.
    """
    slack = 1e-6
    ref_limit = (max_distance or calibration.threshold(1)) + slack
    size_limit = {
        int(k): (max_distance or calibration.threshold(int(k))) + slack
        for k in np.unique(people.sizes)
    }
    template_limits = np.array([size_limit[int(k)] for k in people.sizes])
    pairs: set[tuple[int, int]] = set()
    for p0, p1 in _person_chunks(people):
        rows = slice(int(people.starts[p0]), int(people.starts[p1 - 1] + people.sizes[p1 - 1]))
        to_refs = pairwise_distances(people.embeddings[rows], people.embeddings)
        per_person = np.minimum.reduceat(to_refs, people.starts, axis=1)
        closest = np.minimum.reduceat(per_person, people.starts[p0:p1] - rows.start, axis=0)
        template = np.minimum.reduceat(
            pairwise_distances(people.templates[p0:p1], people.embeddings), people.starts, axis=1
        )
        near = (closest <= ref_limit) | (template <= template_limits[p0:p1, None])
        for i, q in zip(*np.nonzero(near), strict=True):
            p = p0 + int(i)
            if p != int(q):
                pairs.add((min(p, int(q)), max(p, int(q))))
    return pairs


def _evidence(
    library: ConflictLibrary, people: _People, calibration: Calibration, p: int, q: int
) -> PersonConflict:
    a, b = people.rows(p), people.rows(q)
    between = pairwise_distances(people.embeddings[a], people.embeddings[b])
    i, j = np.unravel_index(int(np.argmin(between)), between.shape)
    distance = float(between[i, j])
    first_t = float(pairwise_distances(people.templates[p : p + 1], people.embeddings[b]).min())
    second_t = float(pairwise_distances(people.templates[q : q + 1], people.embeddings[a]).min())
    size_p, size_q = int(people.sizes[p]), int(people.sizes[q])
    return PersonConflict(
        first_id=int(people.ids[p]),
        first=people.names[p],
        second_id=int(people.ids[q]),
        second=people.names[q],
        first_reference=_reference(library, people, a.start + int(i)),
        second_reference=_reference(library, people, b.start + int(j)),
        distance=distance,
        fmr=calibration.fmr(distance, 1),
        first_template_distance=first_t,
        first_template_fmr=calibration.fmr(first_t, size_p),
        second_template_distance=second_t,
        second_template_fmr=calibration.fmr(second_t, size_q),
        first_references=size_p,
        second_references=size_q,
    )


def _reference(library: ConflictLibrary, people: _People, row: int) -> ReferenceEvidence:
    reference_id = int(people.reference_ids[row])
    crop = library.store.reference_crops([reference_id]).get(reference_id)
    return ReferenceEvidence(reference_id, people.reference_paths[row], crop)


def _decides_same(
    conflict: PersonConflict, calibration: Calibration, max_distance: float | None
) -> bool:
    return any(c.passes for c in comparisons(conflict, calibration, max_distance))


# -- ambiguous sightings ------------------------------------------------------


def ambiguous_sightings(
    library: ConflictLibrary, *, factor: float = AMBIGUITY_FACTOR
) -> list[AmbiguousSighting]:
    """Matched stored faces whose runner-up is (almost) as likely, closest call first.

    Args:
        factor: how much larger the runner-up's estimated FMR may be and still
            count as ambiguous (>= 1; higher lists more faces). A runner-up that
            passes the decision itself is always ambiguous.
    """
    if not factor >= 1.0:
        raise InvalidInputError(f"the ambiguity factor must be at least 1, got {factor}")
    found = []
    for sighting in library.sightings():
        if sighting.decision == Decision.CONFIRMED or len(sighting.candidates) < 2:
            continue
        first, second = sighting.candidates[:2]
        if not first.is_match:
            continue
        ratio = second.fmr / first.fmr if first.fmr > 0 else math.inf
        ratio = math.inf if math.isnan(ratio) else ratio  # rates not stored by old versions
        if second.is_match or ratio <= factor:
            found.append(AmbiguousSighting(sighting, first, second, ratio))
    return sorted(found, key=lambda a: (a.fmr_ratio, a.sighting.path, a.sighting.face_id))


# -- enrollment ---------------------------------------------------------------


def enrollment_conflicts(
    library: EnrollmentContext, embedding: NDArray[np.float32], person_id: int | None
) -> list[str]:
    """Warnings when a new reference of ``person_id`` would be matched to someone else.

    Args:
        embedding: (d,) float32 descriptor of the new reference face.
        person_id: who it is enrolled for (None: a person not created yet).

    Each other enrolled person whose template the face matches under the
    library's decision (estimated FMR <= alpha, or ``max_distance``) gives one
    message; people marked different from ``person_id`` are left out. The
    estimate leaves out the gallery's own correction (factor 1), which can only
    make the warning more eager: computing it for every enrolled image would
    make enrolling a large gallery quadratic.
    """
    gallery = library.store.gallery(library.pipeline.embedder_version)
    if len(gallery) == 0:
        return []
    templates = gallery.templates()
    sizes = tuple(int(s) for s in templates.sizes)
    calibration = Calibration(library.reference_calibration, sizes, 1.0, library.target_fpir)
    probe = np.asarray(embedding, np.float32)[None]
    distances = pairwise_distances(probe, templates.vectors, library.pipeline.embedder.metric)[0]
    # one vectorised estimate per template size, not one call per enrolled person
    fmrs = np.empty(len(distances), np.float64)
    for size in np.unique(templates.sizes):
        columns = templates.sizes == size
        fmrs[columns] = calibration.fmrs(distances[columns], int(size))
    if library.max_distance is not None:
        same_face = distances <= library.max_distance
    else:
        same_face = fmrs <= calibration.alpha
    skip = library.store.distinct_pairs()
    messages = []
    for j in np.flatnonzero(same_face):
        other = int(templates.person_ids[j])
        if other == person_id or (person_id is not None and _ordered(person_id, other) in skip):
            continue
        distance, fmr = float(distances[j]), float(fmrs[j])
        messages.append(
            f"this face matches {templates.names[j]!r} (person #{other}, {sizes[j]} "
            f"reference(s)) at distance {distance:.3f}; strangers come this close "
            f"{fmr:.1e} of the time: the same face under two names? see `facesight conflicts`"
        )
    return messages


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)
