"""Verification metrics: k-fold cross-validated accuracy with a threshold chosen per fold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FoldedAccuracy", "best_threshold", "fnir_at_fpir", "kfold_accuracy", "tar_at_far"]


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
