"""Matching: the calibrated gallery, stored faces decided under the library's settings.

``MatchService`` takes its collaborators (the store, the review book, the pipeline
(its descriptor version), the reference calibration and the decision settings) and holds the
one cache of the gallery and its calibration (dropped by :meth:`MatchService.drop_gallery`,
which every change of references reaches). ``Library`` composes it and offers ``match``,
``rematch``, ``sightings`` and ``candidate_for``; scans and searches are handed its
``match``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery
from facesight.identity.calibrate import Calibration, ReferenceCalibration
from facesight.identity.match import GalleryMatcher, calibrate_gallery
from facesight.quality import quality_band
from facesight.records import (
    Candidate,
    Decision,
    ImportedTag,
    Review,
    Sighting,
    person_id_of,
)
from facesight.store.reviews import ReviewBook, apply_reviews
from facesight.store.sqlite import MatchRule, Store
from facesight.vision.pipeline import FacePipeline

__all__ = ["MatchService", "apply_imported"]


class MatchService:
    """Matching descriptors and stored faces against the enrolled people.

    Args:
        store: the library database.
        reviews: the review book (reviewed sightings are shown as reviewed).
        pipeline: the models (their descriptor version is matched; others are stale).
        reference_calibration, target_fpir, max_distance: the decision settings.
    """

    def __init__(
        self,
        store: Store,
        reviews: ReviewBook,
        pipeline: FacePipeline,
        *,
        reference_calibration: ReferenceCalibration,
        target_fpir: float,
        max_distance: float | None,
    ) -> None:
        self.store = store
        self.reviews = reviews
        self.pipeline = pipeline
        self.reference_calibration = reference_calibration
        self.target_fpir = target_fpir
        self.max_distance = max_distance
        self._gallery: tuple[Gallery, Calibration] | None = None

    def gallery(self) -> Gallery:
        """The current references of every enrolled person (this descriptor version's)."""
        return self._calibrated()[0]

    def calibration(self) -> Calibration:
        """The calibration of the current gallery at this library's target FPIR."""
        return self._calibrated()[1]

    def drop_gallery(self) -> None:
        """Forget the cached gallery and calibration: the references changed."""
        self._gallery = None

    def _calibrated(self) -> tuple[Gallery, Calibration]:
        if self._gallery is None:
            stored = self.store.gallery(self.pipeline.embedder_version)
            gallery = replace(stored, metric=self.pipeline.embedder.metric)
            calibration = calibrate_gallery(gallery, self.reference_calibration, self.target_fpir)
            self._gallery = (gallery, calibration)
        return self._gallery

    def match_rule(self) -> MatchRule:
        """Which stored candidates are matches under this library's decision settings."""
        if self.max_distance is not None:
            return MatchRule("distance", self.max_distance)
        if not self.reference_calibration.calibrated:
            return MatchRule("fmr", -1.0)  # an uncalibrated model names nobody by itself
        return MatchRule("fmr", self.calibration().alpha)

    def match(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        top_k: int = 3,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]:
        """Candidates for (n, d) descriptors, calibrated for each probe.

        Args:
            qualities: (n,) quality scores (NaN: not known).
            widths: (n,) face box widths in pixels (small faces are matched
                by strangers more often).
            fused: (n,) faces fused into each descriptor (a video track's).
        """
        return self.matcher()(embeddings, qualities, top_k, widths=widths, fused=fused)

    def matcher(self) -> GalleryMatcher:
        """``match`` as a plain value of the current gallery (for workers elsewhere)."""
        gallery, calibration = self._calibrated()
        return GalleryMatcher(gallery, calibration, self.max_distance)

    def decided(self, candidate: Candidate, quality: float | None) -> Candidate:
        """A stored candidate re-decided under the current settings (as ``match_rule``)."""
        calibration = self.calibration()
        uncalibrated = not calibration.reference.calibrated
        if self.max_distance is not None:
            limit, is_match = self.max_distance, candidate.distance <= self.max_distance
        elif uncalibrated:
            limit, is_match = float("nan"), False
        else:
            # the stored FMR holds the probe's corrections (quality, size, fusion): recover
            # their product to show the distance this probe had to be under
            distance = np.asarray([candidate.distance], np.float32)
            base = float(calibration.fmrs(distance, candidate.references)[0])
            band = None if quality is None else quality_band(quality)
            probe = candidate.fmr / base if base > 0 and candidate.fmr == candidate.fmr else None
            factor = probe if probe is not None else calibration.reference.quality_factor(band)
            limit = calibration.threshold_for(candidate.references, max(factor, 1.0))
            is_match = calibration.is_match(candidate.fmr)
        # a face too poor to be named stays unnamed under any setting
        is_match = is_match and not candidate.insufficient_quality
        return replace(
            candidate,
            is_match=is_match,
            max_distance=limit,
            fpir=calibration.fpir_of(candidate.fmr),
            uncalibrated=uncalibrated,
        )

    def rematch(self) -> int:
        """Recompute every stored face's candidates against the current gallery (read
        again: every change of references ends here or in ``drop_gallery``)."""
        self.drop_gallery()
        version = self.pipeline.embedder_version
        face_ids, embeddings, qualities = self.store.face_embeddings(version)
        widths, fused = self.store.probe_geometry(version)
        ranked = self.match(embeddings, qualities, widths=widths, fused=fused)
        self.store.replace_candidates(dict(zip((int(i) for i in face_ids), ranked, strict=True)))
        return len(face_ids)

    def sightings(
        self, person: str | None = None, *, include_unmatched: bool = False
    ) -> list[Sighting]:
        """Stored faces matched to ``person`` (or to anyone; or every face if asked)."""
        person_id = None
        if person is not None:
            person_id = self.store.require_person(person)
        rule = None if include_unmatched else self.match_rule()
        found = self.store.sightings(rule, person_id, any_rank=True)
        known = {s.face_id for s in found}
        confirmed = [i for i in self.reviews.confirmed_faces(person_id) if i not in known]
        known.update(confirmed)
        imported = [i for i in self.store.imported_tags.faces(person_id) if i not in known]
        if confirmed or imported:
            found += self.store.sightings(None, face_ids=[*confirmed, *imported])
        decided = self._as_reviewed(found)
        if not include_unmatched:
            # a reference photo is the person's reference, not a sighting of them
            decided = [s for s in decided if s.person is not None and s.reference is None]
        if person_id is not None:
            decided = [
                s
                for s in decided
                if person_id_of(s) == person_id
                or (include_unmatched and s.candidates and s.candidates[0].person_id == person_id)
            ]
        return sorted(decided, key=_in_media_order)

    def _as_reviewed(self, found: list[Sighting]) -> list[Sighting]:
        """Stored sightings re-decided under this library's settings, then as reviewed.

        A face confirmed as someone outside its stored candidates (a manual
        identification, or past the top-k) gets that person's candidate computed, so
        its distance and est. FMR are always known.
        """
        face_ids = [s.face_id for s in found]
        reviews = self.reviews.of_faces(face_ids)
        imported = self.store.imported_tags.of_faces(face_ids)
        decided = [
            apply_imported(
                apply_reviews(
                    replace(s, candidates=[self.decided(c, s.quality) for c in s.candidates]),
                    reviews.get(s.face_id, ()),
                ),
                imported.get(s.face_id, ()),
                reviews.get(s.face_id, ()),
            )
            for s in found
        ]
        return [self._with_named_candidate(s) for s in decided]

    def _with_named_candidate(self, sighting: Sighting) -> Sighting:
        review = sighting.review
        if sighting.named is not None:
            return sighting
        if review is not None and review.decision == Decision.CONFIRMED:
            person_id = review.person_id
        elif sighting.decision == Decision.PENDING and sighting.imported is not None:
            person_id = sighting.imported.person_id
        else:
            return sighting
        candidate = self.candidate_for(sighting.face_id, person_id)
        if candidate is None:
            return sighting
        ranked = sorted([*sighting.candidates, candidate], key=lambda c: c.distance)
        return replace(sighting, candidates=ranked)

    def candidate_for(self, face_id: int, person_id: int) -> Candidate | None:
        """A stored face measured against one enrolled person's template: the distance and
        est. FMR it has to them, decided under this library's settings (as the stored
        candidates are). None when the person has no reference of this descriptor version.

        Raises:
            NotFoundError: no stored face has this id.
        """
        embedding, quality, width, fused = self.store.face_probe(face_id)
        gallery = self.gallery()
        people = len(set(gallery.person_ids.tolist()))
        if person_id not in gallery.person_ids or people == 0:
            return None
        ranked = self.match(
            embedding[None],
            np.array([quality], np.float64),
            top_k=people,
            widths=np.array([width], np.float64),
            fused=np.array([fused], np.int64),
        )[0]
        crops = self.store.reference_crops([c.reference_id for c in ranked])
        for candidate in ranked:
            if candidate.person_id == person_id:
                known = None if quality != quality else quality
                decided = self.decided(candidate, known)
                return replace(decided, reference_crop=crops.get(candidate.reference_id))
        return None

    def fmrs_to(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
        """The est. FMR of each (stored face, person) pair, as :meth:`candidate_for` gives
        it, all in one match (the review queue sorts such faces by it); a pair whose person
        has no reference of this descriptor version is left out."""
        gallery = self.gallery()
        people = len(set(gallery.person_ids.tolist()))
        if not pairs or people == 0:
            return {}
        probes = [self.store.face_probe(face_id) for face_id, _ in pairs]
        ranked = self.match(
            np.stack([p[0] for p in probes]),
            np.array([p[1] for p in probes], np.float64),
            top_k=people,
            widths=np.array([p[2] for p in probes], np.float64),
            fused=np.array([p[3] for p in probes], np.int64),
        )
        found: dict[tuple[int, int], float] = {}
        for pair, candidates in zip(pairs, ranked, strict=True):
            same = [c for c in candidates if c.person_id == pair[1]]
            if same:
                found[pair] = same[0].fmr
        return found

    def proposals(self, face_ids: list[int]) -> dict[int, Candidate | None]:
        """Whom the decision rule alone names for each of these stored faces (None: nobody),
        reviews and imported tags aside: the machine's own answer (``eval tags``)."""
        if not face_ids:
            return {}
        return {
            s.face_id: replace(
                s, candidates=[self.decided(c, s.quality) for c in s.candidates]
            ).match
            for s in self.store.sightings(None, face_ids=face_ids)
        }

    def sightings_by_face(self, face_ids: list[int]) -> list[Sighting]:
        """The stored faces ``face_ids`` with their candidates, decided as in :meth:`sightings`."""
        if not face_ids:
            return []
        return self._as_reviewed(self.store.sightings(None, face_ids=face_ids))


def _in_media_order(s: Sighting) -> tuple[str, float, int, int]:
    return (s.path, s.start_s if s.start_s is not None else -1.0, s.frame or -1, s.face_id)


def apply_imported(
    sighting: Sighting, tags: Iterable[ImportedTag], reviews: Iterable[Review]
) -> Sighting:
    """The sighting with the imported tag that still stands: the first whose person no
    reviewer rejected for this face (a standing rejection of the imported name ends it)."""
    latest = {review.person_id: review.decision for review in reviews}
    for tag in tags:
        if latest.get(tag.person_id) != Decision.REJECTED:
            return replace(sighting, imported=tag)
    return sighting
