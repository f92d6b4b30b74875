"""Evaluation metrics: verification, identification and clustering scores.

* verification: k-fold cross-validated accuracy with a threshold chosen per fold,
  TAR at FAR;
* identification: rank-1 accuracy, FNIR at FPIR;
* clustering: BCubed and pairwise precision / recall (``cluster_scores``, used by
  ``scripts/studies/measure_clustering.py``).

Each is checked against hand-computed cases and brute-force counts in
``tests/test_metrics.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FoldedAccuracy",
    "best_threshold",
    "cluster_scores",
    "f_beta",
    "fnir_at_fpir",
    "kfold_accuracy",
    "rank1_accuracy",
    "tar_at_far",
]


@dataclass(frozen=True)
class FoldedAccuracy:
    """Per-fold test accuracy and the threshold each fold was tested at."""

    accuracies: list[float]
    thresholds: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))


def best_threshold(distances: NDArray[np.float64], same: NDArray[np.bool_]) -> float:
    """The distance threshold that maximises accuracy (``same`` iff distance <= t).

    Missing distances (NaN: a face not found) are errors whatever the threshold.
    """
    known = np.isfinite(distances)
    candidates = np.unique(distances[known])
    if len(candidates) == 0:
        return 0.0
    mids = np.concatenate(
        [[candidates[0] - 1e-6], (candidates[1:] + candidates[:-1]) / 2, [candidates[-1] + 1e-6]]
    )
    d, s = distances[known][:, None], same[known][:, None]
    correct = ((d <= mids[None, :]) == s).sum(axis=0)
    return float(mids[int(np.argmax(correct))])


def kfold_accuracy(
    distances: NDArray[np.float64], same: NDArray[np.bool_], folds: NDArray[np.int64]
) -> FoldedAccuracy:
    """Accuracy on each fold at the threshold chosen on all the other folds.

    A pair whose distance is NaN (a face not found) counts as an error.
    """
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(distances[train], same[train])
        d = distances[test]
        correct = np.isfinite(d) & ((d <= threshold) == same[test])
        accuracies.append(float(correct.mean()))
        thresholds.append(threshold)
    return FoldedAccuracy(accuracies, thresholds)


def tar_at_far(
    genuine: NDArray[np.float64], impostor: NDArray[np.float64], far: float
) -> tuple[float, float]:
    """(true accept rate, threshold) at the largest threshold whose false accept rate <= ``far``.

    Scores are distances (accepted when <= threshold); a NaN genuine score (a
    face not found) is never accepted, NaN impostor scores are ignored.
    """
    imp = np.sort(impostor[np.isfinite(impostor)])
    allowed = int(np.floor(far * len(imp)))
    threshold = float(imp[allowed]) if allowed < len(imp) else np.inf
    threshold = float(np.nextafter(threshold, -np.inf))
    tar = float(np.mean(np.isfinite(genuine) & (genuine <= threshold)))
    return tar, threshold


def fnir_at_fpir(
    mated_score: NDArray[np.float64],
    mated_correct: NDArray[np.bool_],
    nonmated_score: NDArray[np.float64],
    fpir: float,
) -> tuple[float, float]:
    """(FNIR, threshold) of an open-set search at the threshold giving FPIR <= ``fpir``.

    Args:
        mated_score: rank-1 score of each mated search (lower = stronger; NaN:
            no face found, always a miss).
        mated_correct: whether the rank-1 candidate is the right person.
        nonmated_score: rank-1 score of each non-mated search (NaN: no face,
            never a false positive).
        fpir: the false-positive identification rate allowed.
    """
    threshold = tar_at_far(mated_score, nonmated_score, fpir)[1]
    hit = mated_correct & np.isfinite(mated_score) & (mated_score <= threshold)
    return float(1.0 - hit.mean()), threshold


def rank1_accuracy(predicted: Sequence[str | None], truth: Sequence[str]) -> float:
    """Share of closed-set searches whose rank-1 candidate is the right person.

    ``predicted[i]`` is the person ranked first for search i (None: no face found,
    a miss); ``truth[i]`` the person it shows. Raises ValueError on lengths that differ.
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} searches")
    if not truth:
        return float("nan")
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def f_beta(precision: float, recall: float, beta: float) -> float:
    """The F-score weighing recall ``beta`` times as much as precision (0.5: precision more)."""
    b2 = beta * beta
    return (1 + b2) * precision * recall / max(b2 * precision + recall, 1e-12)


def cluster_scores(truth: NDArray[np.str_], labels: NDArray[np.int64]) -> dict[str, float]:
    """BCubed and pairwise precision / recall of a clustering; unclustered faces are singletons.

    Args:
        truth: (n,) the person each face shows.
        labels: (n,) int64 cluster of each face; a negative label is a face left
            unclustered (noise), counted as a cluster of its own.

    Returns ``bp``/``br`` (BCubed precision / recall: per face, the share of its
    cluster that is its person, and of its person that is in its cluster, averaged
    over faces), ``bf`` / ``bf05`` (their F1 and F0.5), ``pp``/``pr``/``pf``
    (pairwise: over the pairs of faces put in one cluster, and over the pairs of
    faces of one person), ``clusters`` (clusters of two or more labelled faces) and
    ``unclustered``.
    """
    predicted = labels.copy()
    noise = predicted < 0
    predicted[noise] = predicted.max(initial=-1) + 1 + np.arange(noise.sum())
    _, person = np.unique(truth, return_inverse=True)
    _, cluster = np.unique(predicted, return_inverse=True)
    _, cell, together = np.unique(
        person * (cluster.max() + 1) + cluster, return_inverse=True, return_counts=True
    )
    both = together[cell].astype(np.float64)
    cluster_size = np.bincount(cluster)[cluster]
    person_size = np.bincount(person)[person]
    bp, br = float(np.mean(both / cluster_size)), float(np.mean(both / person_size))
    pairs_together = (together * (together - 1) / 2).sum()
    pairs_clustered = (np.bincount(cluster) * (np.bincount(cluster) - 1) / 2).sum()
    pairs_same = (np.bincount(person) * (np.bincount(person) - 1) / 2).sum()
    pp = float(pairs_together / max(pairs_clustered, 1))
    pr = float(pairs_together / max(pairs_same, 1))
    return {
        "bp": bp,
        "br": br,
        "bf": f_beta(bp, br, 1),
        "bf05": f_beta(bp, br, 0.5),
        "pp": pp,
        "pr": pr,
        "pf": f_beta(pp, pr, 1),
        "clusters": float(len(np.unique(labels[labels >= 0]))),
        "unclustered": float(noise.sum()),
    }
