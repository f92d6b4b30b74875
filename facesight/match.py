"""Open-set identification: descriptors against every reference of every person.

A person's distance is the smallest over their references; candidates are
the ``top_k`` nearest people, and a candidate is a match only when its
distance is at most ``max_distance``. The default, 0.6, is the threshold
customary for dlib's descriptor (face_recognition's ``tolerance``); it is
not yet calibrated to a false-match rate, and every output says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError
from facesight.records import Candidate

__all__ = ["DEFAULT_MAX_DISTANCE", "THRESHOLD_NOTE", "Gallery", "match_faces", "pairwise_distances"]

DEFAULT_MAX_DISTANCE = 0.6
THRESHOLD_NOTE = (
    "match = distance <= {max_distance:.2f} (the descriptor's customary threshold, "
    "not yet calibrated to a false-match rate)"
)


@dataclass(frozen=True)
class Gallery:
    """Enrolled references as parallel arrays (one row per reference image).

    Attributes:
        embeddings: (r, d) float32 reference descriptors.
        person_ids: (r,) int64 owner of each reference.
        person_names: r names, parallel to ``person_ids``.
        reference_ids: (r,) int64 store ids of the references.
        reference_paths: r source image paths.
    """

    embeddings: NDArray[np.float32]
    person_ids: NDArray[np.int64]
    person_names: list[str]
    reference_ids: NDArray[np.int64]
    reference_paths: list[str]

    def __len__(self) -> int:
        return len(self.person_ids)

    @property
    def people_count(self) -> int:
        return len(np.unique(self.person_ids))


def pairwise_distances(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """(n, m) Euclidean distances between rows of (n, d) ``a`` and (m, d) ``b`` (BLAS)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    squared = (a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :] - 2.0 * (a64 @ b64.T)
    result: NDArray[np.float32] = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
    return result


def match_faces(
    embeddings: NDArray[np.float32],
    gallery: Gallery,
    *,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    top_k: int = 3,
) -> list[list[Candidate]]:
    """Rank enrolled people for each descriptor.

    Args:
        embeddings: (n, d) float32 descriptors of the probe faces.
        gallery: the enrolled references.
        max_distance: the decision threshold; lower is stricter (fewer false
            matches, more missed ones).
        top_k: how many people to list per face, nearest first.

    Returns:
        n lists of at most ``top_k`` candidates, nearest first.
    """
    if top_k < 1:
        raise InvalidInputError(f"top_k must be at least 1, got {top_k}")
    if len(gallery) == 0 or len(embeddings) == 0:
        return [[] for _ in range(len(embeddings))]
    distances = pairwise_distances(embeddings, gallery.embeddings)
    return [_rank_people(row, gallery, max_distance, top_k) for row in distances]


def _rank_people(
    row: NDArray[np.float32], gallery: Gallery, max_distance: float, top_k: int
) -> list[Candidate]:
    # Best reference per person: sort references by distance, keep each person's first.
    order = np.argsort(row, kind="stable")
    _, first = np.unique(gallery.person_ids[order], return_index=True)
    best = order[np.sort(first)][:top_k]
    return [
        Candidate(
            person_id=int(gallery.person_ids[i]),
            person=gallery.person_names[i],
            reference_id=int(gallery.reference_ids[i]),
            reference_path=gallery.reference_paths[i],
            distance=float(row[i]),
            is_match=bool(row[i] <= max_distance),
            max_distance=max_distance,
        )
        for i in best
    ]
