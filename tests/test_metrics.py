"""The evaluation metrics on inputs with known answers: hand-computed cases, brute force, sklearn.

Every figure facesight reports about itself goes through these functions, so each is
pinned by a case worked out by hand (the arithmetic is in the comments) and by a
cross-check on random data against a brute-force count or scikit-learn's ``roc_curve``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import roc_curve  # type: ignore[import-untyped]

from facesight.eval.metrics import (
    best_threshold,
    cluster_scores,
    f_beta,
    fnir_at_fpir,
    kfold_accuracy,
    rank1_accuracy,
    tar_at_far,
)
from facesight.eval.plots import error_curve

NAN = float("nan")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- k-fold accuracy ------------------------------------------------------------------------


def test_best_threshold_picks_the_midpoint_with_the_most_correct() -> None:
    # same: 0.1, 0.3; different: 0.2, 0.8. Midpoints 0.15, 0.25, 0.55 score 3, 2, 3 correct;
    # the first best (0.15) wins.
    d = np.array([0.1, 0.3, 0.2, 0.8])
    same = np.array([True, True, False, False])
    assert best_threshold(d, same) == pytest.approx(0.15)


def test_kfold_accuracy_hand_computed() -> None:
    # fold 0: same 0.1, different 0.9; fold 1: same 0.2, different 0.8;
    # fold 2: same 0.3, different 0.25.
    # Test fold 0, trained on 1+2 (0.2s 0.25d 0.3s 0.8d): best first midpoint 0.225 (3 of 4);
    #   0.1 accepted, 0.9 rejected: 1.0.
    # Test fold 1, trained on 0+2 (0.1s 0.25d 0.3s 0.9d): 0.175 (3 of 4); 0.2 rejected: 0.5.
    # Test fold 2, trained on 0+1 (0.1s 0.2s 0.8d 0.9d): 0.5 (4 of 4); 0.25 accepted: 0.5.
    d = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.25])
    same = np.array([True, False, True, False, True, False])
    folds = np.array([0, 0, 1, 1, 2, 2])
    result = kfold_accuracy(d, same, folds)
    assert result.accuracies == [1.0, 0.5, 0.5]
    assert result.thresholds == pytest.approx([0.225, 0.175, 0.5])
    assert result.mean == pytest.approx(2 / 3)
    assert result.std == pytest.approx(np.std([1.0, 0.5, 0.5]))


def test_kfold_accuracy_counts_a_missing_face_as_an_error() -> None:
    # Every fold trains on perfectly separated pairs (threshold 0.5); fold 1's NaN pair is
    # wrong whatever the threshold, so fold 1 scores 2 of 3.
    d = np.array([0.1, 0.9, 0.2, 0.8, NAN, 0.3, 0.7])
    same = np.array([True, False, True, False, True, True, False])
    folds = np.array([0, 0, 0, 0, 1, 1, 1])
    result = kfold_accuracy(d, same, folds)
    assert result.accuracies == pytest.approx([1.0, 2 / 3])


def test_kfold_accuracy_matches_brute_force_on_random_distances() -> None:
    rng = _rng(1)
    n = 400
    same = rng.random(n) < 0.5
    d = np.where(same, rng.normal(0.45, 0.1, n), rng.normal(0.7, 0.1, n))
    folds = np.arange(n) % 5
    result = kfold_accuracy(d, same, folds)
    for fold in range(5):
        train, test = folds != fold, folds == fold
        # brute force: every threshold halfway between sorted training distances
        cuts = np.sort(d[train])
        cuts = np.concatenate([[cuts[0] - 1], (cuts[1:] + cuts[:-1]) / 2, [cuts[-1] + 1]])
        best = max(cuts, key=lambda t: ((d[train] <= t) == same[train]).sum())
        best_count = ((d[train] <= best) == same[train]).sum()
        chosen = result.thresholds[fold]
        assert ((d[train] <= chosen) == same[train]).sum() == best_count
        assert result.accuracies[fold] == np.mean((d[test] <= chosen) == same[test])


# -- TAR at FAR -------------------------------------------------------------------------------

IMPOSTORS = np.array([0.15, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2])


@pytest.mark.parametrize(
    ("far", "tar", "below"),
    [
        # FAR 0.1 of 10 impostors: one may be accepted, so the cut is just under the 2nd (0.35):
        # genuine 0.1, 0.2, 0.3 of 5 (the NaN never) accepted.
        (0.1, 0.6, 0.35),
        (0.0, 0.2, 0.15),  # none accepted: just under 0.15, only 0.1
        (0.25, 0.8, 0.5),  # floor(2.5) = 2 accepted: just under 0.5, the 4 finite genuine
    ],
)
def test_tar_at_far_hand_computed(far: float, tar: float, below: float) -> None:
    genuine = np.array([0.1, 0.2, 0.3, 0.4, NAN])
    got, threshold = tar_at_far(genuine, np.append(IMPOSTORS, NAN), far)
    assert got == pytest.approx(tar)
    assert threshold < below and threshold == np.nextafter(below, -np.inf)


def test_tar_at_far_one_accepts_every_found_face() -> None:
    tar, threshold = tar_at_far(np.array([0.1, 5.0, NAN]), IMPOSTORS, 1.0)
    assert tar == pytest.approx(2 / 3) and threshold > 1e300


def _best_tar(genuine: NDArray[np.float64], impostor: NDArray[np.float64], far: float) -> float:
    """Brute force: the best TAR of any threshold whose FAR is at most ``far``."""
    cuts = np.concatenate([[-np.inf], np.sort(np.concatenate([genuine, impostor]))])
    allowed = [t for t in cuts if np.mean(impostor <= t) <= far]
    return max(float(np.mean(genuine <= t)) for t in allowed)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_tar_at_far_matches_brute_force_and_sklearn(seed: int) -> None:
    rng = _rng(seed)
    genuine, impostor = rng.normal(0.4, 0.12, 300), rng.normal(0.8, 0.12, 2000)
    fpr, tpr, _ = roc_curve(
        np.r_[np.ones(300), np.zeros(2000)], -np.r_[genuine, impostor], drop_intermediate=False
    )
    for far in (0.0, 1e-3, 1e-2, 0.05, 0.3):
        tar, threshold = tar_at_far(genuine, impostor, far)
        assert np.mean(impostor <= threshold) <= far
        assert tar == pytest.approx(_best_tar(genuine, impostor, far))
        assert tar == pytest.approx(tpr[fpr <= far].max())


# -- identification ---------------------------------------------------------------------------


def test_rank1_accuracy_hand_computed() -> None:
    # 2 of 4 right: Bo's search found no face (None), Cy's ranked Al first.
    assert rank1_accuracy(["Al", None, "Al", "Di"], ["Al", "Bo", "Cy", "Di"]) == 0.5
    assert rank1_accuracy(["Al"], ["Al"]) == 1.0
    assert rank1_accuracy([None], ["Al"]) == 0.0
    with pytest.raises(ValueError, match="2 predictions for 1 searches"):
        rank1_accuracy(["Al", "Bo"], ["Al"])


@pytest.mark.parametrize(
    ("fpir", "fnir", "below"),
    [
        # 4 non-mated: FPIR 0.25 lets one (2.5) through, cut just under 5: mated 1, 2 and 4 are
        # right and under it, 3 is the wrong person: FNIR 1/4.
        (0.25, 0.25, 5.0),
        (0.0, 0.5, 2.5),  # none through: cut under 2.5, only 1 and 2 hit
    ],
)
def test_fnir_at_fpir_hand_computed(fpir: float, fnir: float, below: float) -> None:
    mated = np.array([1.0, 2.0, 3.0, 4.0])
    correct = np.array([True, True, False, True])
    got, threshold = fnir_at_fpir(mated, correct, np.array([2.5, 5.0, 6.0, 7.0, NAN]), fpir)
    assert got == pytest.approx(fnir)
    assert threshold == np.nextafter(below, -np.inf)


def test_fnir_at_fpir_counts_no_face_as_a_miss() -> None:
    got, _ = fnir_at_fpir(np.array([1.0, NAN]), np.array([True, True]), np.array([9.0, 10.0]), 0.0)
    assert got == 0.5


@pytest.mark.parametrize("seed", [5, 6])
def test_fnir_at_fpir_matches_brute_force(seed: int) -> None:
    rng = _rng(seed)
    mated = rng.normal(-6, 2, 500)
    correct = rng.random(500) < 0.9
    nonmated = rng.normal(-1, 1, 800)
    for fpir in (0.0, 1e-3, 1e-2, 0.1):
        got, _ = fnir_at_fpir(mated, correct, nonmated, fpir)
        cuts = np.concatenate([[-np.inf], np.sort(np.concatenate([mated, nonmated]))])
        allowed = [t for t in cuts if np.mean(nonmated <= t) <= fpir]
        best_hits = max(np.mean(correct & (mated <= t)) for t in allowed)
        assert got == pytest.approx(1 - best_hits)


# -- DET points -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 8])
def test_det_points_equal_sklearn_roc_curve(seed: int) -> None:
    rng = _rng(seed)
    # rounded, so genuine and impostor distances tie at some thresholds
    genuine = np.round(rng.normal(0.4, 0.15, 200), 2)
    impostor = np.round(rng.normal(0.8, 0.15, 500), 2)
    curve = error_curve("random", genuine, impostor)
    fpr, tpr, _ = roc_curve(
        np.r_[np.ones(200), np.zeros(500)], -np.r_[genuine, impostor], drop_intermediate=False
    )
    # roc_curve starts with the (0, 0) point of a threshold above every score
    np.testing.assert_allclose(curve.false_positive, fpr[1:])
    np.testing.assert_allclose(curve.false_negative, 1 - tpr[1:])


# -- clustering -------------------------------------------------------------------------------


def test_cluster_scores_hand_computed() -> None:
    # people a a a b b; clusters {0: a a}, {1: a b}, and b unclustered (a singleton).
    # BCubed precision per face: 1, 1, 1/2, 1/2, 1 -> 4/5.
    # BCubed recall per face: 2/3, 2/3, 1/3, 1/2, 1/2 -> 8/15.
    # Pairs in one cluster: (a a) and (a b), 1 of them one person: precision 1/2; pairs of
    # one person: 3 of a, 1 of b, 1 together: recall 1/4.
    truth = np.array(["a", "a", "a", "b", "b"])
    s = cluster_scores(truth, np.array([0, 0, 1, 1, -1], np.int64))
    assert (s["bp"], s["br"]) == (pytest.approx(0.8), pytest.approx(8 / 15))
    assert s["bf"] == pytest.approx(2 * 0.8 * (8 / 15) / (0.8 + 8 / 15))
    assert s["bf05"] == pytest.approx(1.25 * 0.8 * (8 / 15) / (0.25 * 0.8 + 8 / 15))
    assert (s["pp"], s["pr"]) == (pytest.approx(0.5), pytest.approx(0.25))
    assert s["pf"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert (s["clusters"], s["unclustered"]) == (2.0, 1.0)


def test_cluster_scores_perfect_and_all_apart() -> None:
    truth = np.array(["a", "a", "b", "b", "c"])
    perfect = cluster_scores(truth, np.array([0, 0, 1, 1, -1], np.int64))
    assert all(perfect[k] == pytest.approx(1.0) for k in ("bp", "br", "pp", "pr"))
    apart = cluster_scores(truth, np.full(5, -1, np.int64))
    assert (apart["bp"], apart["br"]) == (pytest.approx(1.0), pytest.approx(0.6))
    assert (apart["pp"], apart["pr"]) == (0.0, 0.0)


def test_cluster_scores_match_brute_force_on_random_labels() -> None:
    rng = _rng(9)
    truth = rng.choice(np.array(list("abcdefg")), 120)
    labels = rng.integers(-1, 10, 120).astype(np.int64)
    s = cluster_scores(truth, labels)
    cluster = [f"c{x}" if x >= 0 else f"noise{i}" for i, x in enumerate(labels)]
    n = len(truth)
    mine = [[j for j in range(n) if cluster[j] == cluster[i]] for i in range(n)]
    theirs = [[j for j in range(n) if truth[j] == truth[i]] for i in range(n)]
    both = [len(set(mine[i]) & set(theirs[i])) for i in range(n)]
    assert s["bp"] == pytest.approx(np.mean([both[i] / len(mine[i]) for i in range(n)]))
    assert s["br"] == pytest.approx(np.mean([both[i] / len(theirs[i]) for i in range(n)]))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    together = [p for p in pairs if cluster[p[0]] == cluster[p[1]]]
    same = [p for p in pairs if truth[p[0]] == truth[p[1]]]
    agree = len(set(together) & set(same))
    assert s["pp"] == pytest.approx(agree / len(together))
    assert s["pr"] == pytest.approx(agree / len(same))


def test_f_beta_weighs_precision_at_half() -> None:
    assert f_beta(1.0, 0.5, 1) == pytest.approx(2 / 3)
    assert f_beta(1.0, 0.5, 0.5) == pytest.approx(1.25 * 0.5 / (0.25 + 0.5))
    assert f_beta(0.0, 0.0, 1) == 0.0
