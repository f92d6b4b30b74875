"""The inputs of clustering checked (:mod:`.cluster`), and its constraints as positions.

Arrays of the wrong shape, non-finite descriptors, repeated ids and parameters out of range are
refused with :class:`~facesight.errors.InvalidInputError`; ``cannot_link`` and ``cannot_join``
pairs of face ids become maps from a face's position to the positions or clusters it is kept
from.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError

__all__ = [
    "apart_positions",
    "barred_positions",
    "check_arrays",
    "check_existing",
    "check_parameters",
]


def check_arrays(
    face_ids: NDArray[np.int64],
    descriptors: NDArray[np.float32],
    qualities: NDArray[np.float64],
    labels: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float64], NDArray[np.int64]]:
    vectors = np.asarray(descriptors)
    if vectors.ndim != 2:
        raise InvalidInputError(f"descriptors must be (n, d), got shape {vectors.shape}")
    count = len(vectors)
    arrays = {"face_ids": face_ids, "qualities": qualities, "labels": labels}
    for name, array in arrays.items():
        if np.shape(array) != (count,):
            raise InvalidInputError(
                f"{name} must have shape ({count},) like the descriptors, got {np.shape(array)}"
            )
    vectors = np.ascontiguousarray(vectors, np.float32)
    if not np.isfinite(vectors).all():
        raise InvalidInputError("descriptors must be finite (found NaN or inf)")
    ids = np.asarray(face_ids, np.int64)
    if len(np.unique(ids)) != count:
        raise InvalidInputError("face_ids must be distinct")
    current = np.asarray(labels, np.int64)
    if (current < -1).any():
        raise InvalidInputError("labels must be -1 (no cluster) or a cluster label >= 0")
    return ids, vectors, np.asarray(qualities, np.float64), current


def check_parameters(
    min_quality: float, max_distance: float, neighbours: int, min_size: int
) -> None:
    if not 0.0 <= min_quality <= 1.0:
        raise InvalidInputError(f"min_quality must be in [0, 1], got {min_quality}")
    if max_distance <= 0.0:
        raise InvalidInputError(f"max_distance must be > 0, got {max_distance}")
    if neighbours < 1:
        raise InvalidInputError(f"neighbours must be at least 1, got {neighbours}")
    if min_size < 2:
        raise InvalidInputError(f"min_size must be at least 2 (a cluster of one), got {min_size}")


def apart_positions(
    ids: NDArray[np.int64], pairs: Iterable[tuple[int, int]]
) -> dict[int, set[int]]:
    """Cannot-link pairs of face ids as positions: position -> positions kept apart.

    Ids that are not among ``ids`` (deleted faces) are ignored.
    """
    position = {face: i for i, face in enumerate(ids.tolist())}
    partners: dict[int, set[int]] = {}
    for a, b in pairs:
        i, j = position.get(int(a)), position.get(int(b))
        if i is not None and j is not None and i != j:
            partners.setdefault(i, set()).add(j)
            partners.setdefault(j, set()).add(i)
    return partners


def barred_positions(
    ids: NDArray[np.int64], pairs: Iterable[tuple[int, int]]
) -> dict[int, set[int]]:
    """Cannot-join (face id, cluster) pairs as position -> barred cluster labels."""
    position = {face: i for i, face in enumerate(ids.tolist())}
    barred: dict[int, set[int]] = {}
    for face, cluster in pairs:
        i = position.get(int(face))
        if i is not None:
            barred.setdefault(i, set()).add(int(cluster))
    return barred


def check_existing(
    labels: NDArray[np.int64],
    apart: dict[int, set[int]],
    barred: dict[int, set[int]],
    ids: NDArray[np.int64],
) -> None:
    for i, others in apart.items():
        for j in others:
            if labels[i] >= 0 and labels[i] == labels[j]:
                raise InvalidInputError(
                    f"faces {ids[i]} and {ids[j]} must be kept apart but are both in cluster "
                    f"{labels[i]}; give the faces split out of it the label -1 first"
                )
    for i, clusters in barred.items():
        if int(labels[i]) in clusters:
            raise InvalidInputError(
                f"face {ids[i]} must stay out of cluster {labels[i]} but is in it; "
                "give it the label -1 first"
            )
