"""Grouping faces that match nobody into unknown people (recurring strangers).

The method is Chinese whispers (Biemann 2006; dlib clusters faces with it) on a
k-nearest-neighbour graph: each face is linked to at most ``neighbours``
nearest faces closer than ``max_distance``, a link weighing more the shorter it
is (:func:`link_weights`). Every face starts as its own cluster and, in a
seeded random order, repeatedly takes the label whose links to it weigh most,
until no label changes. A cluster of fewer than ``min_size`` faces is no
cluster: those faces stay unclustered (-1).

It was chosen by measurement on lfw-dev (``python scripts/measure_clustering.py``,
``docs/clustering.md``) against scikit-learn's HDBSCAN, DBSCAN and average /
complete-linkage agglomerative clustering: see that page for the numbers.

Linkage check (:func:`_trim`): whispers follow links, so a face with a few
links into a frequently seen person's cluster can join it while far from most
of its faces, and bring its own look-alikes along. After each whispering, a
face placed in a cluster leaves it, worst first, when its root-mean-square
distance to the cluster's other faces is above ``max_rms_distance`` or, in a
cluster of five faces or more, above ``max_rms_ratio`` times the members'
median (never below ``max_distance``). The mean squared distance to a
cluster's faces comes from their sum and squared lengths, so the check costs
O(n d), never an n x n matrix. A face that leaves is barred from that cluster
and placed again (it may join another or form a new one). On lfw-dev's
held-out identity half, BCubed precision goes from 0.993 to 0.994 and recall
from 0.916 to 0.910, and every person with 12+ images keeps a cluster that is
98 %+ theirs among 500 rare people (docs/clustering.md,
``python scripts/measure_clustering.py --split``).

Quality gate: faces whose quality is below ``min_quality`` (tiny, blurred,
turned away; NaN = not measured) take no part in the whispers, so they never
seed a cluster nor carry a label from one face to another; afterwards each
joins the cluster its close clustered neighbours' links weigh most for, if any.
Poor faces are matched by strangers more often (about 1.3x on lfw-dev, see
``facesight.quality``), and a chain of them could otherwise join two people.

Incremental use (:func:`update_clusters`): faces already in a cluster keep
their label and take part as fixed voters; only faces in no cluster (new, left
over before, split out by a user) move. One whispering thus attaches faces to
existing clusters and forms new ones (numbered after the existing ones) from
the rest; a tie goes to the existing cluster. Existing clusters are never
merged with each other or renumbered: merging unknown people is a decision
for a person.

Constraints: ``cannot_link`` pairs of face ids are never put in one cluster,
and ``cannot_join`` (face id, cluster label) pairs keep a face out of a
cluster, so what a user split out of a cluster is never merged back.

Nearest neighbours come from :mod:`facesight.index.vector_sets`, the searches of the
face index: exact (blocked BLAS) up to ``DEFAULT_EXACT_UP_TO`` faces or for a
few thousand queries, a faiss IVF index when both sides are larger, so no n x n
matrix is ever held. On two cores shared with seven other jobs, clustering
100,000 faces from scratch took 96 s; an update placing 5,000 new faces among
95,000 (30,000 of them in no cluster, all of which move again) 23 s, nearly all
of it the neighbour search (docs/clustering.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError
from facesight.index.face_index import DEFAULT_EXACT_UP_TO
from facesight.index.vector_sets import ExactSet, IvfSet

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MAX_RMS_DISTANCE",
    "DEFAULT_MAX_RMS_RATIO",
    "DEFAULT_MIN_QUALITY",
    "DEFAULT_NEIGHBOURS",
    "cluster_faces",
    "update_clusters",
]

DEFAULT_MAX_DISTANCE = 0.45
"""Faces closer than this are linked (same person typically < 0.5, strangers > 0.6)."""

DEFAULT_MAX_RMS_DISTANCE = 0.52
"""A face stays in a cluster only if its root-mean-square distance to the cluster's
other faces is below this (:func:`_trim`). On lfw-dev's tuning half (scripts/
measure_clustering.py --split), 90 % of faces are within 0.487 of their own person's
other faces this way, and 1 % of faces come within 0.491 of the nearest other
person's; of 0.48, 0.50 and 0.52, 0.52 gave the best BCubed F0.5."""

DEFAULT_MIN_QUALITY = 0.3
"""Faces of lower quality (the ``poor`` band) never seed a cluster."""

DEFAULT_NEIGHBOURS = 30
"""Links per face at most: bounds the graph (and the work) for people with many photos."""

_EXACT_QUERIES = 5_000
"""Searches for at most this many faces are exact at any size: at 100k faces, 5,000
exact queries take 7 s on 2 cores and training the IVF lists alone 8-10 s."""

_ITERATIONS = 100
"""Chinese whispers passes at most; it usually settles in under ten."""

_LINK_SCALE = 0.35
"""Distance scale of the link weights (:func:`_link_weights`)."""

DEFAULT_MAX_RMS_RATIO = 1.3
"""A face also leaves a cluster of ``_RELATIVE_FROM`` or more faces when its
root-mean-square distance to the others is this many times the members' median:
within one person's tight cluster a look-alike stands out before it passes the
absolute limit (scripts/measure_clustering.py --split)."""

_RELATIVE_FROM = 5
"""Clusters this large have a median spread worth comparing with."""

_TRIM_ROUNDS = 4
"""Times faces trimmed out of a cluster are placed again (elsewhere) at most."""

Links = list[list[tuple[int, float]]]
"""For each face, (other face, weight) of its links."""


def cluster_faces(
    descriptors: NDArray[np.float32],
    qualities: NDArray[np.float64],
    *,
    min_quality: float = DEFAULT_MIN_QUALITY,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    max_rms_distance: float = DEFAULT_MAX_RMS_DISTANCE,
    max_rms_ratio: float = DEFAULT_MAX_RMS_RATIO,
    neighbours: int = DEFAULT_NEIGHBOURS,
    min_size: int = 2,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Cluster faces from scratch: (n,) int64 labels 0, 1, ... and -1 for unclustered.

    Args:
        descriptors: (n, 128) float32 face descriptors.
        qualities: (n,) float64 quality scores in [0, 1] (``quality.assess_quality``);
            NaN means not measured and is treated as poor.
        min_quality: faces below this never seed a cluster but may join one. Higher
            keeps doubtful faces from bridging two people, but leaves more faces out.
        max_distance: faces closer than this are linked. Lower splits a person's
            photos into more clusters (or none); higher merges look-alikes.
        max_rms_distance: a face stays in a cluster only if its root-mean-square
            distance to the cluster's other faces is below this. Lower keeps a
            frequently seen person from taking in look-alikes, but leaves more of
            a person's unusual photos out.
        max_rms_ratio: in a cluster of five faces or more, a face also leaves when that
            distance is more than this many times the members' median: a look-alike
            stands out in a tight cluster before it passes ``max_rms_distance``.
            ``math.inf`` for both turns the check off (the method before it).
        neighbours: links per face at most (the k of the k-NN graph).
        min_size: the fewest faces that make a cluster; smaller groups are -1.
        seed: the order of the whispers; the same input and seed give the same labels.

    Returns:
        Labels numbered in order of each cluster's first face.
    """
    count = len(np.asarray(descriptors))
    return update_clusters(
        np.arange(count, dtype=np.int64),
        descriptors,
        qualities,
        np.full(count, -1, np.int64),
        min_quality=min_quality,
        max_distance=max_distance,
        max_rms_distance=max_rms_distance,
        max_rms_ratio=max_rms_ratio,
        neighbours=neighbours,
        min_size=min_size,
        seed=seed,
    )


def update_clusters(
    face_ids: NDArray[np.int64],
    descriptors: NDArray[np.float32],
    qualities: NDArray[np.float64],
    labels: NDArray[np.int64],
    *,
    cannot_link: Iterable[tuple[int, int]] = (),
    cannot_join: Iterable[tuple[int, int]] = (),
    next_label: int | None = None,
    min_quality: float = DEFAULT_MIN_QUALITY,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    max_rms_distance: float = DEFAULT_MAX_RMS_DISTANCE,
    max_rms_ratio: float = DEFAULT_MAX_RMS_RATIO,
    neighbours: int = DEFAULT_NEIGHBOURS,
    min_size: int = 2,
    seed: int = 0,
) -> NDArray[np.int64]:
    """New cluster labels after faces were added: existing clusters keep theirs.

    Pass every face that can be clustered (all unknown faces of the library, in
    any order): those already in a cluster as fixed context, the others to place.

    Args:
        face_ids: (n,) int64 distinct ids of the faces (the caller's, e.g. ``faces.id``).
        descriptors: (n, 128) float32 descriptors, parallel to ``face_ids``.
        qualities: (n,) float64 quality scores (NaN: not measured, treated as poor).
        labels: (n,) int64 each face's current cluster, -1 for a face in none (new
            faces, faces left over before, faces a user split out of a cluster).
        cannot_link: (face id, face id) pairs never to put in one cluster; ids that
            are not in ``face_ids`` are ignored.
        cannot_join: (face id, cluster label) pairs: the face never joins that cluster.
        next_label: the first label a new cluster gets (default: one more than the
            largest in ``labels`` or ``cannot_join``); pass the store's counter so
            labels of deleted clusters are not reused.
        min_quality, max_distance, max_rms_distance, max_rms_ratio, neighbours, min_size,
        seed: as in
            :func:`cluster_faces`. Only faces placed now are held to
            ``max_rms_distance``; a face trimmed out of a cluster never returns to it.

    Returns:
        (n,) int64 labels: the same as ``labels`` wherever that was >= 0; a face that
        was -1 now has an existing cluster's label, a new cluster's label
        (``next_label``, ``next_label + 1``, ... in order of the clusters' first
        faces; clusters formed by faces the linkage check moved come after) or -1.

    Raises:
        InvalidInputError: arrays of the wrong shape, non-finite descriptors, repeated
            ids, a parameter out of range, a ``next_label`` not above every label, or
            two faces of one existing cluster that a constraint keeps apart (give
            the split-out faces the label -1 first).
    """
    ids, vectors, quality, current = _check_arrays(face_ids, descriptors, qualities, labels)
    _check_parameters(min_quality, max_distance, neighbours, min_size)
    if max_rms_distance <= 0.0:
        raise InvalidInputError(f"max_rms_distance must be > 0, got {max_rms_distance}")
    if max_rms_ratio < 1.0:
        raise InvalidInputError(f"max_rms_ratio must be at least 1, got {max_rms_ratio}")
    apart = _partners(ids, cannot_link)
    barred = _barred(ids, cannot_join)
    _check_existing(current, apart, barred, ids)
    highest = int(current.max(initial=-1))
    # Labels above every one in use or barred: new clusters never take a barred number.
    own = max([highest, *(c for clusters in barred.values() for c in clusters)]) + 1
    if next_label is not None and next_label < own:
        raise InvalidInputError(
            f"next_label must exceed every label in use or in cannot_join ({own - 1}), "
            f"got {next_label}"
        )
    free = current < 0
    good = quality >= min_quality  # NaN compares False: a face not measured is poor
    links = _links(vectors, np.flatnonzero(free), max_distance, neighbours)
    result = current.copy()
    start = own if next_label is None else next_label
    movers = free & good
    for _ in range(_TRIM_ROUNDS):
        result, start = _place(result, movers, links, apart, barred, start, min_size, seed)
        limits = _Limits(max_rms_distance**2, max_rms_ratio**2, max_distance**2)
        trimmed = _trim(result, vectors, movers, limits)
        for face, cluster in trimmed:
            barred.setdefault(face, set()).add(cluster)  # never back into that cluster
        result[[face for face, _ in trimmed]] = -1
        result[movers & ~_sized(result, min_size)] = -1
        movers = np.zeros(len(ids), bool)
        movers[[face for face, _ in trimmed]] = True
        if not movers.any():
            break
    _attach(result, free & ~good, links, apart, barred, vectors, max_rms_distance)
    return result


# -- steps ---------------------------------------------------------------------------


def _search(
    held: NDArray[np.float32], queries: NDArray[np.float32], k: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(q, k) distances and row numbers into ``held`` of each query's nearest rows.

    Exact unless both sides are large (``_EXACT_QUERIES``): IVF training costs more
    than a few thousand exact queries at any size.
    """
    rows = np.arange(len(held), dtype=np.int64)
    found: ExactSet | IvfSet
    if len(held) > DEFAULT_EXACT_UP_TO and len(queries) > _EXACT_QUERIES:
        found = IvfSet.train(rows, held)
    else:
        found = ExactSet(held.shape[1])
        found.add(rows, held)
    squared, neighbour = found.search(queries, min(k, len(held)))
    return np.sqrt(np.maximum(squared, 0.0)), neighbour


def _place(
    labels: NDArray[np.int64],
    movers: NDArray[np.bool_],
    links: Links,
    apart: dict[int, set[int]],
    barred: dict[int, set[int]],
    start: int,
    min_size: int,
    seed: int,
) -> tuple[NDArray[np.int64], int]:
    """One whispering of the ``movers`` among the clustered faces, which stay put.

    Returns the new labels (movers that joined a cluster have its label, those that
    form clusters of ``min_size`` or more new labels from ``start``, the rest -1)
    and the next free label.
    """
    settled = labels >= 0
    # Each mover starts with a label of its own, above every label in use or barred.
    above = max([int(labels.max(initial=-1)), start - 1, *_all(barred)]) + 1
    initial = np.where(movers, above + np.arange(len(labels)), labels)
    whispered = _whispers(links, initial, movers, settled | movers, apart, barred, seed)
    result = labels.copy()
    joined = movers & (whispered < above)
    result[joined] = whispered[joined]
    founded = movers & (whispered >= above)
    result[founded] = _number(whispered[founded], min_size, start)
    return result, max(start, int(result.max(initial=-1)) + 1)


def _all(barred: dict[int, set[int]]) -> list[int]:
    return [c for clusters in barred.values() for c in clusters]


def _sized(labels: NDArray[np.int64], min_size: int) -> NDArray[np.bool_]:
    """Faces in a cluster of at least ``min_size`` faces."""
    clustered = labels >= 0
    _, inverse, sizes = np.unique(labels[clustered], return_inverse=True, return_counts=True)
    big: NDArray[np.bool_] = np.zeros(len(labels), bool)
    big[clustered] = sizes[inverse.ravel()] >= min_size
    return big


@dataclass(frozen=True)
class _Limits:
    """Squared limits of :func:`_trim`: absolute, relative to the median, relative floor."""

    mean_square: float
    ratio_square: float
    floor_square: float


def _trim(
    labels: NDArray[np.int64],
    vectors: NDArray[np.float32],
    movable: NDArray[np.bool_],
    limits: _Limits,
) -> list[tuple[int, int]]:
    """(face, cluster) of the movable faces that must leave their cluster.

    A cluster-level linkage check: Chinese whispers follows links, so a face
    with a few links into a large cluster (a frequently seen person, many
    of whose faces sit near a stranger's) can join it while being far from
    most of its faces, and can bring its own look-alikes along. Each cluster
    with a movable face loses, worst first, movable faces whose root-mean-square
    distance to the cluster's other faces is above ``max_rms_distance`` (or, in
    clusters of ``_RELATIVE_FROM`` faces or more, ``max_rms_ratio`` times the
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
    limits: _Limits,
) -> list[int]:
    """Members to take out of one cluster, worst first (see :func:`_trim`).

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
        if count >= _RELATIVE_FROM:
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


def _links(
    vectors: NDArray[np.float32], rows: NDArray[np.intp], max_distance: float, neighbours: int
) -> Links:
    """The weighted k-NN links of the faces at ``rows``, made symmetric.

    Only those faces are searched (the others do not move): a link from an
    unsearched face to a searched one is kept when the searched face found it.
    """
    count = len(vectors)
    links: Links = [[] for _ in range(count)]
    if len(rows) == 0 or count < 2:
        return links
    distance, neighbour = _search(vectors, vectors[rows], neighbours + 1)
    sources = np.repeat(rows.astype(np.int64), neighbour.shape[1])
    targets, lengths = neighbour.ravel(), distance.ravel()
    keep = (lengths < max_distance) & (targets >= 0) & (targets != sources)
    both = np.concatenate(
        [sources[keep] * count + targets[keep], targets[keep] * count + sources[keep]]
    )
    pairs, first = np.unique(both, return_index=True)
    weights = _link_weights(np.concatenate([lengths[keep], lengths[keep]])[first])
    for key, weight in zip(pairs.tolist(), weights.tolist(), strict=True):
        links[key // count].append((key % count, weight))
    return links


def _link_weights(distances: NDArray[np.float32]) -> NDArray[np.float32]:
    """Votes of links of these lengths: exp(-(d / 0.35)^2), so 1 at 0, 0.72 at 0.2, 0.19 at 0.45.

    Near faces outvote far ones. With 30 neighbours on lfw-dev the gain over
    dlib's equal votes is small: BCubed precision +0.002-0.004, F1 +0.001-0.004
    (docs/clustering.md).
    """
    weights: NDArray[np.float32] = np.exp(-((distances / _LINK_SCALE) ** 2)).astype(np.float32)
    return weights


def _whispers(
    links: Links,
    initial: NDArray[np.int64],
    movers: NDArray[np.bool_],
    voters: NDArray[np.bool_],
    apart: dict[int, set[int]],
    barred: dict[int, set[int]],
    seed: int,
) -> NDArray[np.int64]:
    """Chinese whispers: each mover takes the label its voting neighbours weigh most for.

    Movers are visited in a random order seeded by ``seed``, pass after pass, until
    a pass changes nothing (at most ``_ITERATIONS``). A tie goes to the smaller
    label, as in dlib. There are no self-links (dlib's face example adds them,
    with equal weights): a self-link would outweigh every lighter link. A label
    held by a face the mover is kept ``apart`` from, or ``barred`` to it, is never
    taken; labels start distinct, so faces kept apart never share one.
    """
    label = initial.tolist()
    voting = voters.tolist()
    # Ballots of the movers only: after the linkage check, a few faces move again
    # among a great many that stay.
    ballots = {
        node: [(o, w) for o, w in links[node] if voting[o]]
        for node in np.flatnonzero(movers).tolist()
    }
    active = np.array([node for node, ballot in ballots.items() if ballot], np.int64)
    rng = np.random.default_rng(seed)
    for _ in range(_ITERATIONS):
        changed = False
        for node in rng.permutation(active).tolist():
            votes: dict[int, float] = {}
            for other, weight in ballots[node]:
                votes[label[other]] = votes.get(label[other], 0.0) + weight
            for other in apart.get(node, ()):
                votes.pop(label[other], None)
            for cluster in barred.get(node, ()):
                votes.pop(cluster, None)
            if votes:
                best = min(votes, key=lambda lab: (-votes[lab], lab))
                if best != label[node]:
                    label[node], changed = best, True
        if not changed:
            break
    return np.array(label, np.int64)


def _number(labels: NDArray[np.int64], min_size: int, start: int) -> NDArray[np.int64]:
    """Clusters of ``min_size`` or more numbered from ``start`` by first member; others -1."""
    _, first, inverse, sizes = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    big = sizes >= min_size
    rank = np.full(len(sizes), -1, np.int64)
    order = np.argsort(first[big], kind="stable")
    rank[np.flatnonzero(big)[order]] = start + np.arange(big.sum(), dtype=np.int64)
    numbered: NDArray[np.int64] = rank[inverse.ravel()]
    return numbered


def _attach(
    labels: NDArray[np.int64],
    candidates: NDArray[np.bool_],
    links: Links,
    apart: dict[int, set[int]],
    barred: dict[int, set[int]],
    vectors: NDArray[np.float32],
    max_rms_distance: float,
) -> None:
    """Put each candidate in the cluster its clustered neighbours' links weigh most for.

    Only faces clustered before this step vote, so candidates do not draw each
    other in (no chains of poor faces). The most strongly drawn candidates go
    first, so of two candidates kept apart the surer one joins. A candidate
    joins only a cluster whose faces are within ``max_rms_distance`` of it
    (root mean square, as :func:`_trim`). Updates ``labels``.
    """
    settled = labels.copy()
    choices = []
    for face in np.flatnonzero(candidates).tolist():
        votes: dict[int, float] = {}
        for other, weight in links[face]:
            if settled[other] >= 0:
                votes[int(settled[other])] = votes.get(int(settled[other]), 0.0) + weight
        if votes:
            ranked = sorted(votes, key=lambda lab: (-votes[lab], lab))
            choices.append((-votes[ranked[0]], face, ranked))
    spread = _Spread(settled, vectors)
    for _, face, ranked in sorted(choices):
        excluded = barred.get(face, set()) | {int(labels[o]) for o in apart.get(face, ())}
        allowed = [
            c
            for c in ranked
            if c not in excluded and spread.mean_square(c, vectors[face]) <= max_rms_distance**2
        ]
        if allowed:
            labels[face] = allowed[0]


class _Spread:
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


# -- checks --------------------------------------------------------------------------


def _check_arrays(
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


def _check_parameters(
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


def _partners(ids: NDArray[np.int64], pairs: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
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


def _barred(ids: NDArray[np.int64], pairs: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    """Cannot-join (face id, cluster) pairs as position -> barred cluster labels."""
    position = {face: i for i, face in enumerate(ids.tolist())}
    barred: dict[int, set[int]] = {}
    for face, cluster in pairs:
        i = position.get(int(face))
        if i is not None:
            barred.setdefault(i, set()).add(int(cluster))
    return barred


def _check_existing(
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
