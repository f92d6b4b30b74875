"""The linkage check of clustering (:mod:`.cluster`): faces far from most of their cluster leave it.

Whispers follow links, so a face with a few links into a frequently seen person's cluster can
join it while far from most of its faces, and bring its own look-alikes along. After each
whispering, a face placed in a cluster leaves it, worst first, when its root-mean-square
distance to the cluster's other faces is above the absolute limit or, in a cluster of
``RELATIVE_FROM`` faces or more, above a ratio of the members' median (never below the link
length). The mean squared distance to a cluster's faces comes from their sum and squared
lengths, so the check costs O(n d), never an n x n matrix. The limits and their effect on
lfw-dev are measured by ``python scripts/studies/measure_clustering.py --split``
(docs/clustering.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["RELATIVE_FROM", "Limits", "Spread", "trim"]


RELATIVE_FROM = 5
"""Clusters this large have a median spread worth comparing with."""


@dataclass(frozen=True)
class Limits:
    """Squared limits of :func:`trim`: absolute, relative to the median, relative floor."""

    mean_square: float
    ratio_square: float
    floor_square: float


def trim(
    labels: NDArray[np.int64],
    vectors: NDArray[np.float32],
    movable: NDArray[np.bool_],
    limits: Limits,
) -> list[tuple[int, int]]:
    """(face, cluster) of the movable faces that must leave their cluster.

    A cluster-level linkage check: Chinese whispers follows links, so a face
    with a few links into a large cluster (a frequently seen person, many
    of whose faces sit near a stranger's) can join it while being far from
    most of its faces, and can bring its own look-alikes along. Each cluster
    with a movable face loses, worst first, movable faces whose root-mean-square
    distance to the cluster's other faces is above ``max_rms_distance`` (or, in
    clusters of ``RELATIVE_FROM`` faces or more, ``max_rms_ratio`` times the
    members' median but at least ``max_distance``, the length of a link: so
    many copies of one photo do not push a second photo out), until none is.
    Faces that were in the cluster before (not movable) never leave.
    """
    clusters = np.unique(labels[movable & (labels >= 0)])
    rows = np.flatnonzero(np.isin(labels, clusters))
    if len(rows) == 0:
        return []
    rows = rows[np.argsort(labels[rows], kind="stable")]
    found: list[tuple[int, int]] = []
    for members in np.split(rows, np.flatnonzero(np.diff(labels[rows])) + 1):
        for face in _overspread(vectors[members], movable[members], limits):
            found.append((int(members[face]), int(labels[members[0]])))
    return found


def _overspread(
    vectors: NDArray[np.float32],
    movable: NDArray[np.bool_],
    limits: Limits,
) -> list[int]:
    """Members to take out of one cluster, worst first (see :func:`trim`).

    The mean squared distance from a member x to the n - 1 others is
    (n |x|^2 - 2 x.S + Q) / (n - 1), with S the sum of the members and Q the sum
    of their squared lengths, so each step costs one (n, d) product.
    """
    points = vectors.astype(np.float64)
    squares = np.einsum("ij,ij->i", points, points)
    total, total_squares, count = points.sum(0), float(squares.sum()), len(points)
    candidates = movable.copy()
    out: list[int] = []
    inside = np.ones(count, bool)
    while count >= 2 and candidates.any():
        mean_square = (count * squares - 2.0 * (points @ total) + total_squares) / (count - 1)
        worst = int(np.argmax(np.where(candidates, mean_square, -np.inf)))
        limit = limits.mean_square
        if count >= RELATIVE_FROM:
            typical = float(np.median(mean_square[inside]))
            limit = min(limit, max(limits.ratio_square * typical, limits.floor_square))
        if mean_square[worst] <= limit:
            break
        inside[worst] = False
        out.append(worst)
        candidates[worst] = False
        total -= points[worst]
        total_squares -= float(squares[worst])
        squares[worst] = 0.0  # it no longer counts, nor is it a candidate
        points[worst] = 0.0
        count -= 1
    return out


class Spread:
    """Per cluster: faces, sum and sum of squared lengths, for mean squared distances."""

    def __init__(self, labels: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        clustered = labels >= 0
        self._clusters, inverse = np.unique(labels[clustered], return_inverse=True)
        points = vectors[clustered].astype(np.float64)
        self._sums = np.zeros((len(self._clusters), vectors.shape[1]))
        np.add.at(self._sums, inverse.ravel(), points)
        self._squares = np.bincount(
            inverse.ravel(), np.einsum("ij,ij->i", points, points), len(self._clusters)
        )
        self._counts = np.bincount(inverse.ravel(), minlength=len(self._clusters))

    def mean_square(self, cluster: int, vector: NDArray[np.float32]) -> float:
        """Mean squared distance from ``vector`` to the faces of ``cluster``."""
        i = int(np.searchsorted(self._clusters, cluster))
        point = vector.astype(np.float64)
        n = float(self._counts[i])
        return float((n * point @ point - 2.0 * point @ self._sums[i] + self._squares[i]) / n)
