"""Verification metrics: k-fold cross-validated accuracy with a threshold chosen per fold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FoldedAccuracy", "best_threshold", "kfold_accuracy"]


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
