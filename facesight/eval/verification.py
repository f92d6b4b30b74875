"""1:1 verification on an LFW-style pair list: accuracy, TAR at FAR, honesty of the FMR.

* Accuracy is k-fold cross-validated as LFW prescribes: the threshold is chosen
  on the other folds, and a pair whose face was not found is an error.
* TAR at FAR uses the listed same-person pairs against *every* pair of images
  of two different people in the list (millions of comparisons instead of the
  list's few hundred per fold), so rates down to 1e-5 are resolved.
* The estimated false-match rate is checked: at the distances where the
  shipped calibration estimates FMR 1e-2 and 1e-3, the observed impostor rate.
* Accuracy by quality band: each pair is in the band of its poorer face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import pairwise_distances
from facesight.eval.datasets import Pair
from facesight.eval.metrics import kfold_accuracy, tar_at_far
from facesight.face_models import Metric
from facesight.identity.calibrate import ReferenceCalibration
from facesight.quality import QUALITY_BANDS, quality_band

__all__ = ["FAR_LEVELS", "PairsReport", "evaluate_pairs"]

FAR_LEVELS = (1e-2, 1e-3)

Key = tuple[str, int]


@dataclass
class PairsReport:
    """Every figure of a pair-list evaluation (JSON-ready)."""

    pairs: int
    same_pairs: int
    images: int
    faces_not_found: int
    folds: int
    mean_accuracy: float
    std_accuracy: float
    fold_accuracies: list[float]
    fold_thresholds: list[float]
    impostor_comparisons: int
    tar_at_far: dict[str, float]
    threshold_at_far: dict[str, float]
    estimated_vs_observed_fmr: dict[str, float]
    accuracy_by_quality: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate_pairs(
    pairs: Sequence[Pair],
    descriptors: dict[Key, NDArray[np.float32] | None],
    qualities: dict[Key, float | None],
    reference: ReferenceCalibration,
    metric: str = Metric.L2,
) -> tuple[PairsReport, NDArray[np.float64], NDArray[np.float64]]:
    """The report, and the genuine and impostor distances (for the DET curve).

    Distances are in the model's ``metric``; a model without calibration tables
    (``reference.calibrated`` false) gets no estimated-vs-observed FMR figures.
    """
    keys = sorted(descriptors)
    found = [k for k in keys if descriptors[k] is not None]
    row = {k: i for i, k in enumerate(found)}
    vectors = np.stack([descriptors[k] for k in found]).astype(np.float32)  # type: ignore[misc]

    def distance(p: Pair) -> float:
        if p.first not in row or p.second not in row:
            return float("nan")
        a, b = vectors[row[p.first]], vectors[row[p.second]]
        return float(pairwise_distances(a[None], b[None], metric)[0, 0])

    d = np.array([distance(p) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    cv = kfold_accuracy(d, same, folds)
    impostor = _all_impostors(found, vectors, metric)
    genuine = d[same]
    tar, thr = {}, {}
    for far in FAR_LEVELS:
        tar[f"{far:g}"], thr[f"{far:g}"] = tar_at_far(genuine, impostor, far)
    honesty: dict[str, float] = {}
    for fmr in FAR_LEVELS if reference.calibrated else ():
        table = reference.table(1)
        cut = table.distance_at(fmr)
        honesty[f"estimated_{fmr:g}"] = fmr
        honesty[f"observed_at_{fmr:g}"] = float(np.mean(impostor <= cut))
        honesty[f"distance_at_{fmr:g}"] = cut
    report = PairsReport(
        pairs=len(pairs),
        same_pairs=int(same.sum()),
        images=len(keys),
        faces_not_found=len(keys) - len(found),
        folds=len(np.unique(folds)),
        mean_accuracy=cv.mean,
        std_accuracy=cv.std,
        fold_accuracies=cv.accuracies,
        fold_thresholds=cv.thresholds,
        impostor_comparisons=len(impostor),
        tar_at_far=tar,
        threshold_at_far=thr,
        estimated_vs_observed_fmr=honesty,
        accuracy_by_quality=_by_quality(pairs, d, same, folds, cv.thresholds, qualities),
    )
    return report, genuine, impostor


def _all_impostors(
    found: list[Key], vectors: NDArray[np.float32], metric: str
) -> NDArray[np.float64]:
    """Distances of every pair of found images showing two different people."""
    names = np.array([k[0] for k in found])
    parts = []
    for start in range(0, len(found), 512):
        block = pairwise_distances(vectors[start : start + 512], vectors, metric)
        rows = np.arange(start, min(start + 512, len(found)))
        upper = (np.arange(len(found))[None, :] > rows[:, None]) & (
            names[rows][:, None] != names[None, :]
        )
        parts.append(block[upper].astype(np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def _by_quality(
    pairs: Sequence[Pair],
    d: NDArray[np.float64],
    same: NDArray[np.bool_],
    folds: NDArray[np.int64],
    thresholds: list[float],
    qualities: dict[Key, float | None],
) -> dict[str, dict[str, float]]:
    """Accuracy (at each fold's cross-validated threshold) of the pairs in each band."""

    def score(key: Key) -> float:
        value = qualities.get(key)
        return 0.0 if value is None else value

    worse = np.array([min(score(p.first), score(p.second)) for p in pairs])
    bands = np.array([quality_band(v) for v in worse])
    fold_ids = sorted(np.unique(folds))
    cut = np.array([thresholds[fold_ids.index(f)] for f in folds])
    correct = np.isfinite(d) & ((d <= cut) == same)
    result = {}
    for band in QUALITY_BANDS:
        mine = bands == band
        if mine.any():
            result[band] = {
                "pairs": float(mine.sum()),
                "accuracy": float(correct[mine].mean()),
                "false_non_match_rate": float(1 - correct[mine & same].mean())
                if (mine & same).any()
                else float("nan"),
                "false_match_rate": float(1 - correct[mine & ~same].mean())
                if (mine & ~same).any()
                else float("nan"),
            }
    return result
