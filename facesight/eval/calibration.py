"""Building the impostor tables on one half of the people and checking them on the other.

``scripts/data/build_calibration.py`` measures the shipped tables on the people of
one half of lfw-dev (split by sha1(name)); ``scripts/data/check_calibration.py``
measures tables the same way on either half and checks the decision rule's
FPIR on the *other* half's people, in random galleries of a given size and
template size:

* a gallery of N people is drawn at random among the people with at least k
  images; each gets k random references, fused as the library fuses them, and
  the gallery is calibrated as the library calibrates it (``calibrate_gallery``);
* every face of a person outside the gallery is a stranger search; every
  non-reference face of a gallery person is a stranger search against the
  other N - 1 people (leave one person out, which multiplies the searches);
* a search is a false positive when any person's estimated FMR (with the
  probe's quality factor, as a scan applies it) is at most the gallery's
  per-person level alpha. The claim of a search is 1 - (1 - alpha)^n for the n
  people it was searched against; observed / claimed is summed over searches,
  each weighted by one over its person's faces (every stranger counts once).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import Gallery, fuse, pairwise_distances
from facesight.errors import InvalidInputError
from facesight.face_models import Metric
from facesight.identity.calibrate import ImpostorTable, ReferenceCalibration
from facesight.identity.match import calibrate_gallery
from facesight.quality import QUALITY_BANDS, quality_band

__all__ = [
    "FaceSet",
    "FpirCheck",
    "check_fpir",
    "impostor_distances",
    "measure_tables",
    "name_half",
    "poisson_interval",
    "quality_factors",
    "shared_distance",
    "template_scale",
]

TEMPLATE_SIZES = (1, 2, 3, 4)
SUBSETS = 8
"""Random k-subsets of a person's faces fused into templates for the size-k table: a
person's references vary, and one fixed subset per person leaves the tail to chance."""
QUALITY_LEVELS = (1e-2, 1e-3)


def name_half(name: str) -> int:
    """0 or 1: the half of the people a name falls in (sha1(name)'s first byte, mod 2).

    Half 0 measures the shipped tables; half 1 checks them.
    """
    return hashlib.sha1(name.encode()).digest()[0] % 2


@dataclass(frozen=True)
class FaceSet:
    """Subject descriptors of labelled images: (n, d) float32, owners and quality scores."""

    vectors: NDArray[np.float32]
    owners: NDArray[np.str_]
    quality: NDArray[np.float64]

    def half(self, which: int) -> FaceSet:
        """The faces of the people in half ``which`` (:func:`name_half`)."""
        keep = np.array([name_half(str(n)) == which for n in self.owners], bool)
        return FaceSet(self.vectors[keep], self.owners[keep], self.quality[keep])

    def people(self) -> dict[str, NDArray[np.float32]]:
        """Each person's descriptors, in image order."""
        return {str(n): self.vectors[self.owners == n] for n in dict.fromkeys(self.owners)}


def impostor_distances(
    people: Mapping[str, NDArray[np.float32]], size: int, metric: str = Metric.L2
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Template-of-``size`` to face distances between different people, and their weights.

    Size 1: every pair of faces of two different people. Size k > 1: each
    person with at least k faces gets up to ``SUBSETS`` templates from random
    k of them (``match.fuse``), compared with every face of every other person.

    Weights make every *person* count once: a comparison's weight is one over
    the number of faces its people bring (both sides for size 1; for templates,
    the face side times one over the person's templates). Without them the few people
    with hundreds of photos (lfw-dev: Colin Powell 236, Tony Blair 144, both in
    half 0) decide the tail, and tables from one half misjudge the other's
    strangers several-fold (docs/accuracy.md).
    """
    names = list(people)
    faces = np.concatenate([people[n] for n in names])
    owner = np.concatenate([np.full(len(people[n]), i) for i, n in enumerate(names)])
    share = 1.0 / np.array([len(people[n]) for n in names], np.float64)[owner]
    if size == 1:
        d = pairwise_distances(faces, faces, metric)
        upper = np.triu(owner[:, None] != owner[None, :], 1)
        weights = (share[:, None] * share[None, :])[upper]
        return d[upper].astype(np.float64), weights / weights.mean()
    rng = np.random.default_rng(size)
    template_owner, vectors = [], []
    for i, n in enumerate(names):
        count = len(people[n])
        if count < size:
            continue
        subsets = {tuple(sorted(rng.choice(count, size, replace=False))) for _ in range(SUBSETS)}
        template_owner += [i] * len(subsets)
        vectors += [fuse(people[n][list(s)]) for s in sorted(subsets)]
    owners_t = np.array(template_owner)
    per_person = np.bincount(owners_t, minlength=len(names)).astype(np.float64)
    d = pairwise_distances(np.stack(vectors), faces, metric)
    other = owners_t[:, None] != owner[None, :]
    weights = ((1.0 / per_person[owners_t])[:, None] * share[None, :])[other]
    return d[other].astype(np.float64), weights / weights.mean()


def measure_tables(
    people: Mapping[str, NDArray[np.float32]], metric: str = Metric.L2, min_events: int = 25
) -> dict[int, ImpostorTable]:
    """One impostor table per template size in ``TEMPLATE_SIZES``, every person counted once.

    ``metric``: the model's distance; ``min_events``: the rarest measured knot
    (``ImpostorTable.measure``; a small folder of the user's needs fewer).

    Size 1 is measured directly. A size-k table is the size-1 table with its
    distances times ``template_scale``: a centroid of k faces sits closer to
    everyone by a nearly constant ratio, and the size-1 tail rests on every person
    of the half on both sides while a size-k tail measured directly rests only on
    the ~200 people with k faces: so measured, 3-reference galleries built on half 1
    were named 0.0-0.4x as often as claimed on half 0 (``scripts/data/check_calibration.py``
    at commit 1b9d109; docs/accuracy.md has the rows since).
    """
    distances, weights = impostor_distances(people, 1, metric)
    single = ImpostorTable.measure(distances, weights=weights, min_events=min_events)
    tables = {1: single}
    for size in TEMPLATE_SIZES[1:]:
        if sum(len(v) >= size for v in people.values()) < 2:
            break  # a small folder: larger templates use the largest size measured
        distances, weights = impostor_distances(people, size, metric)
        try:
            fused = ImpostorTable.measure(distances, weights=weights, min_events=min_events)
        except InvalidInputError:
            break
        tables[size] = single.scaled(template_scale(single, fused))
    return tables


SCALE_LEVELS = np.logspace(-2, -3, 7)
"""FMR levels where a size-k table's distances are compared with size 1's: a 10-person
gallery's per-person levels, where even a size-4 table still counts hundreds of pairs."""


def template_scale(single: ImpostorTable, fused: ImpostorTable) -> float:
    """Geometric mean of ``fused``'s distances over ``single``'s at ``SCALE_LEVELS``.

    Only the levels both tables measured count (lfw-dev's reach all of them; a small
    folder's rarest knot may sit above 1e-3, and its extrapolated tail is no ratio).
    """
    floor = max(float(single.log10_fmr[0]), float(fused.log10_fmr[0]))
    levels = [level for level in SCALE_LEVELS if math.log10(level) >= floor] or [10**floor]
    ratios = [fused.distance_at(level) / single.distance_at(level) for level in levels]
    return float(np.exp(np.log(ratios).mean()))


def quality_factors(
    table: ImpostorTable, faces: FaceSet, metric: str = Metric.L2
) -> dict[str, float]:
    """Per quality band of the poorer face: observed / estimated impostor rate (>= 1).

    The geometric mean of the ratios at the table's 1e-2 and 1e-3 distances.
    """
    vectors, owners = faces.vectors, faces.owners
    bands = np.array([QUALITY_BANDS.index(quality_band(q)) for q in faces.quality])
    cuts = [table.distance_at(level) for level in QUALITY_LEVELS]
    below = np.zeros((len(QUALITY_BANDS), len(QUALITY_LEVELS)))
    total = np.zeros(len(QUALITY_BANDS))
    for start in range(0, len(vectors), 512):
        rows = np.arange(start, min(start + 512, len(vectors)))
        d = pairwise_distances(vectors[rows], vectors, metric)
        pair = (np.arange(len(vectors))[None, :] > rows[:, None]) & (
            owners[rows][:, None] != owners[None, :]
        )
        worse = np.maximum(bands[rows][:, None], bands[None, :])
        for b in range(len(QUALITY_BANDS)):
            mine = pair & (worse == b)
            total[b] += mine.sum()
            for k, cut in enumerate(cuts):
                below[b, k] += (mine & (d <= cut)).sum()
    factors = {}
    for b, band in enumerate(QUALITY_BANDS):
        ratios = below[b] / np.maximum(total[b], 1) / np.array(QUALITY_LEVELS)
        factors[band] = float(max(1.0, np.exp(np.log(np.maximum(ratios, 1e-9)).mean())))
    return factors


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for the mean of a Poisson variable observed as ``count``."""
    tail = (1.0 - confidence) / 2.0

    def cdf(k: int, mean: float) -> float:  # P(X <= k)
        if k < 0:
            return 0.0
        terms = np.arange(k + 1)
        factorials = np.array([math.lgamma(t + 1) for t in terms])
        logs = terms * math.log(max(mean, 1e-300)) - mean - factorials
        return float(np.exp(logs).sum())

    def solve(target: float, k: int) -> float:  # the mean where P(X <= k) = target
        low, high = 0.0, 10.0 * (k + 10)
        for _ in range(100):
            middle = (low + high) / 2.0
            low, high = (middle, high) if cdf(k, middle) > target else (low, middle)
        return (low + high) / 2.0

    lower = 0.0 if count == 0 else solve(1.0 - tail, count - 1)
    return lower, solve(tail, count)


@dataclass(frozen=True)
class FpirCheck:
    """Observed against claimed FPIR for one gallery configuration.

    Attributes:
        people: gallery size asked for; ``drawn`` the size used (fewer when the
            half has fewer people with ``references`` images).
        searches: stranger searches over all trials.
        claimed: expected false positives (sum of each search's claimed FPIR).
        observed: false positives.
        persons: searches counted by person (each search weighs one over its
            person's faces, as ``claimed`` and ``observed`` do).
        pairs: distinct (stranger, gallery person) pairs behind the false positives.
        events: the false positives' effective number of independent events: the
            same two look-alike people meet again in every gallery that draws them,
            so events are counted by person pair, (sum o)^2 / sum o^2 over the
            pairs' weighted counts o (Kish).
    """

    people: int
    drawn: int
    references: int
    target_fpir: float
    trials: int
    searches: int
    claimed: float
    observed: float
    persons: float
    pairs: int
    events: float

    @property
    def ratio(self) -> float:
        return self.observed / self.claimed if self.claimed > 0 else float("nan")

    @property
    def observed_fpir(self) -> float:
        return self.observed / max(self.persons, 1e-12)

    @property
    def interval(self) -> tuple[float, float]:
        """95 % interval of ``ratio``: Garwood's on ``events``, at ``observed / events``
        false positives per event. Without events no interval is measured: (0, inf)."""
        count = round(self.events)
        if count == 0 or self.claimed <= 0:
            return 0.0, float("inf")
        low, high = poisson_interval(count)
        return self.ratio * low / count, self.ratio * high / count


def check_fpir(
    reference: ReferenceCalibration,
    faces: FaceSet,
    *,
    people: int,
    references: int,
    targets: Sequence[float],
    trials: int,
    seed: int = 0,
    per_person: bool = True,
    metric: str = Metric.L2,
) -> list[FpirCheck]:
    """Observed vs claimed FPIR of random galleries drawn from ``faces`` (module docstring).

    ``per_person=False`` counts every search once instead (a person with many photos
    then counts as often as they appear).
    """
    rng = np.random.default_rng(seed)
    by_person = {n: np.flatnonzero(faces.owners == n) for n in dict.fromkeys(faces.owners)}
    eligible = [n for n, rows in by_person.items() if len(rows) >= references]
    drawn = min(people, len(eligible))
    factors = np.array([reference.probe_factor(float(q)) for q in faces.quality])
    # every stranger person counts once, however many photos they have
    weight = np.zeros(len(faces.owners))
    for rows_of in by_person.values():
        weight[rows_of] = 1.0 / len(rows_of) if per_person else 1.0
    searches = 0
    claimed = np.zeros(len(targets))
    observed = np.zeros(len(targets))
    weighted = np.zeros(len(targets))
    by_pair: list[dict[tuple[int, int], float]] = [{} for _ in targets]
    person_index = {n: i for i, n in enumerate(by_person)}
    for _ in range(trials):
        chosen = rng.choice(len(eligible), drawn, replace=False)
        names = [eligible[i] for i in chosen]
        refs = [rng.permutation(by_person[n])[:references] for n in names]
        ref_rows = np.concatenate(refs)
        person_of_ref = np.repeat(np.arange(drawn), references)
        gallery = Gallery(
            embeddings=faces.vectors[ref_rows],
            person_ids=person_of_ref.astype(np.int64),
            person_names=[names[i] for i in person_of_ref],
            reference_ids=ref_rows.astype(np.int64),
            reference_paths=[""] * len(ref_rows),
            metric=metric,
        )
        probe = np.ones(len(faces.owners), bool)
        probe[ref_rows] = False
        # which gallery person each probe belongs to (-1: a stranger to all of them)
        member = np.full(len(faces.owners), -1)
        for i, n in enumerate(names):
            member[by_person[n]] = i
        rows = np.flatnonzero(probe)
        templates = gallery.templates()
        distances = pairwise_distances(faces.vectors[rows], templates.vectors, metric)
        for t, target in enumerate(targets):
            calibration = calibrate_gallery(gallery, reference, target)
            fmr = calibration.fmrs(distances, references, factors[rows][:, None])
            own = member[rows]
            inside = own >= 0
            fmr[np.flatnonzero(inside), own[inside]] = np.inf  # leave the probe's own person out
            w = weight[rows]
            named = fmr.min(axis=1) <= calibration.alpha
            observed[t] += float((w * named).sum())
            nearest = fmr.argmin(axis=1)
            for row in np.flatnonzero(named):
                stranger = person_index[str(faces.owners[rows[row]])]
                met = person_index[names[nearest[row]]]
                pair = (min(stranger, met), max(stranger, met))  # A on B or B on A: one pair
                by_pair[t][pair] = by_pair[t].get(pair, 0.0) + float(w[row])
            n_searched = np.where(inside, drawn - 1, drawn)
            claim = -np.expm1(n_searched * np.log1p(-calibration.alpha))
            claimed[t] += float((w * claim).sum())
            weighted[t] += float(w.sum())
        searches += len(rows)
    results = []
    for target, c, o, p, counts in zip(targets, claimed, observed, weighted, by_pair, strict=True):
        o_pair = np.array(list(counts.values()))
        events = float(o_pair.sum() ** 2 / (o_pair**2).sum()) if len(o_pair) else 0.0
        results.append(
            FpirCheck(
                people,
                drawn,
                references,
                target,
                trials,
                searches,
                float(c),
                float(o),
                float(p),
                len(counts),
                events,
            )
        )
    return results


@dataclass(frozen=True)
class SharedDistance:
    """The one distance that comes closest to FMR ``level`` on two sets of people at once.

    Attributes:
        distance: the distance minimising the worse of the two ratios' departure from 1
            (|log ratio|).
        ratios: observed / ``level`` on each set at that distance.
    """

    level: float
    distance: float
    ratios: tuple[float, float]


def shared_distance(
    first: tuple[NDArray[np.float64], NDArray[np.float64]],
    second: tuple[NDArray[np.float64], NDArray[np.float64]],
    level: float,
) -> SharedDistance:
    """The best any table can do on both sets: an oracle that sees both halves' strangers.

    ``first`` and ``second`` are (impostor distances, weights) as :func:`impostor_distances`
    gives them. Every decision the tables make is a distance; if no single distance holds
    both sets within a bound at ``level``, no table built from either set, or from both,
    can (the gallery's own correction aside). The distances tried are every impostor
    distance of either set between a tenth and ten times ``level``.
    """
    curves = []
    for distances, weights in (first, second):
        order = np.argsort(distances, kind="stable")
        curves.append((distances[order], np.cumsum(weights[order]) / weights.sum()))

    def rates(x: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        out = []
        for d, cumulative in curves:
            at = np.searchsorted(d, x, side="right") - 1
            out.append(np.where(at >= 0, cumulative[np.maximum(at, 0)], 0.0) / level)
        return out

    bounds = [
        (
            float(d[int(np.searchsorted(c, level / 10))]),
            float(d[min(int(np.searchsorted(c, level * 10)), len(d) - 1)]),
        )
        for d, c in curves
    ]
    low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
    tried = np.unique(np.concatenate([d[(d >= low) & (d <= high)] for d, _ in curves]))
    a, b = rates(tried)
    worse = np.maximum(np.abs(np.log(np.maximum(a, 1e-12))), np.abs(np.log(np.maximum(b, 1e-12))))
    best = int(np.argmin(worse))
    return SharedDistance(level, float(tried[best]), (float(a[best]), float(b[best])))
