"""Open-set identification: descriptors against each enrolled person's template.

A person's template is the centroid of their reference descriptors, scaled
back to the descriptor length. Measured on lfw-dev with 3 references per
person (``facesight eval identify --references 3``), the centroid misses 7 %
of mated probes at FPIR 1e-2 where the best single reference misses 12 %, the
mean of the best two 11 % and the mean distance 11 %.

Every candidate carries the distance to the template, the estimated
false-match rate at that distance (``calibrate``) and, as evidence a person
can look at, the nearest single reference and its distance. Candidates are
ranked by estimated false-match rate, which orders templates of different
sizes fairly. The decision is the calibration's (estimated FMR at most the
per-person level that gives the target FPIR) unless a fixed ``max_distance``
is asked for; *investigate* mode lists the candidates with no decision. A model
without calibration tables (``ReferenceCalibration.uncalibrated``) decides nothing
without ``max_distance``: its candidates are ranked by distance and say
``uncalibrated``. Distances are the gallery's model's (``Gallery.metric``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery, Templates, fuse, pairwise_distances
from facesight.errors import InvalidInputError
from facesight.identity.calibrate import Calibration, ReferenceCalibration, gallery_factor
from facesight.quality import quality_band
from facesight.records import Candidate

__all__ = [
    "Gallery",
    "GalleryMatcher",
    "Templates",
    "calibrate_gallery",
    "fuse",
    "match_faces",
    "pairwise_distances",
]


def calibrate_gallery(
    gallery: Gallery, reference: ReferenceCalibration, target_fpir: float
) -> Calibration:
    """The calibration of a gallery: its template sizes and its own cross-person correction."""
    distances, sizes = gallery.cross_person_distances()
    return Calibration(
        reference,
        tuple(int(s) for s in gallery.templates().sizes),
        gallery_factor(reference, distances, sizes),
        target_fpir,
    )


def match_faces(
    embeddings: NDArray[np.float32],
    gallery: Gallery,
    calibration: Calibration,
    *,
    qualities: NDArray[np.float64] | None = None,
    max_distance: float | None = None,
    top_k: int = 3,
    probe_factors: NDArray[np.float64] | None = None,
    usable: NDArray[np.bool_] | None = None,
) -> list[list[Candidate]]:
    """Rank enrolled people for each descriptor, with calibrated evidence.

    Args:
        embeddings: (n, d) float32 descriptors of the probe faces.
        gallery: the enrolled references.
        calibration: the gallery's calibration (sizes must match its templates).
        qualities: (n,) quality scores of the probes (NaN: not known); a
            poorer face's estimated FMR is raised by its band's measured factor.
        max_distance: a fixed decision distance instead of the calibrated one.
        top_k: how many people to list per face, most likely first.
        probe_factors: (n,) each probe's total FMR correction
            (``ReferenceCalibration.probe_factor``: quality, size, fusion);
            replaces the quality-band factor when given.
        usable: (n,) whether each probe may be named (default:
            ``ReferenceCalibration.usable`` of its descriptor); an unusable
            face keeps its candidates, marked ``insufficient_quality``, and is
            never a match.

    Returns:
        n lists of at most ``top_k`` candidates, most likely first.
    """
    if top_k < 1:
        raise InvalidInputError(f"top_k must be at least 1, got {top_k}")
    if len(gallery) == 0 or len(embeddings) == 0:
        return [[] for _ in range(len(embeddings))]
    templates = gallery.templates()
    to_templates = pairwise_distances(embeddings, templates.vectors, gallery.metric)
    to_references = pairwise_distances(embeddings, gallery.embeddings, gallery.metric)
    if probe_factors is not None:
        scale = np.asarray(probe_factors, np.float64)
    else:
        bands = [_band(qualities, row) for row in range(len(embeddings))]
        scale = np.array([calibration.reference.quality_factor(b) for b in bands])
    if usable is None:
        usable = calibration.reference.usable(embeddings)
    fmr = np.empty(to_templates.shape, np.float64)
    for size in np.unique(templates.sizes):
        columns = templates.sizes == size
        fmr[:, columns] = calibration.fmrs(to_templates[:, columns], int(size), scale[:, None])
    results = []
    for row in range(len(embeddings)):
        order = np.lexsort((to_templates[row], fmr[row]))[:top_k]
        results.append(
            [
                _candidate(
                    int(j),
                    templates,
                    gallery,
                    to_references[row],
                    float(to_templates[row, j]),
                    float(fmr[row, j]),
                    calibration,
                    max_distance,
                    float(scale[row]),
                    bool(usable[row]),
                )
                for j in order
            ]
        )
    return results


@dataclass(frozen=True)
class GalleryMatcher:
    """:func:`match_faces` against one calibrated gallery, with each probe's corrections.

    A plain value (arrays and numbers), so it travels to scan workers on other
    machines: a distributed scan matches there against the gallery read once here.

    Attributes:
        gallery, calibration: the enrolled references and their calibration.
        max_distance: a fixed decision distance instead of the calibrated one.
    """

    gallery: Gallery
    calibration: Calibration
    max_distance: float | None = None

    def __call__(
        self,
        embeddings: NDArray[np.float32],
        qualities: NDArray[np.float64] | None = None,
        top_k: int = 3,
        *,
        widths: NDArray[np.float64] | None = None,
        fused: NDArray[np.int64] | None = None,
    ) -> list[list[Candidate]]:
        """Candidates for (n, d) descriptors of faces of (n,) qualities (NaN: not known),
        (n,) box widths in pixels and (n,) faces fused into each (a video track's)."""
        reference = self.calibration.reference
        factors = np.array(
            [
                reference.probe_factor(
                    None if qualities is None else float(qualities[i]),
                    None if widths is None else float(widths[i]),
                    1 if fused is None else int(fused[i]),
                )
                for i in range(len(embeddings))
            ],
            np.float64,
        )
        return match_faces(
            embeddings,
            self.gallery,
            self.calibration,
            qualities=qualities,
            max_distance=self.max_distance,
            top_k=top_k,
            probe_factors=factors,
        )


def _band(qualities: NDArray[np.float64] | None, row: int) -> str | None:
    if qualities is None or not np.isfinite(qualities[row]):
        return None
    return quality_band(float(qualities[row]))


def _candidate(
    j: int,
    templates: Templates,
    gallery: Gallery,
    to_references: NDArray[np.float32],
    distance: float,
    fmr: float,
    calibration: Calibration,
    max_distance: float | None,
    probe_factor: float,
    usable: bool,
) -> Candidate:
    mine = np.flatnonzero(gallery.person_ids == templates.person_ids[j])
    nearest = int(mine[np.argmin(to_references[mine])])
    size = int(templates.sizes[j])
    threshold = (
        calibration.threshold_for(size, probe_factor) if max_distance is None else max_distance
    )
    return Candidate(
        person_id=int(templates.person_ids[j]),
        person=templates.names[j],
        reference_id=int(gallery.reference_ids[nearest]),
        reference_path=gallery.reference_paths[nearest],
        distance=distance,
        is_match=bool(distance <= threshold) and usable,
        max_distance=threshold,
        fmr=fmr,
        fpir=calibration.fpir_of(fmr),
        reference_distance=float(to_references[nearest]),
        references=size,
        insufficient_quality=not usable,
        uncalibrated=not calibration.reference.calibrated,
    )
