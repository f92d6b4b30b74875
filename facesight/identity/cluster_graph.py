"""The k-nearest-neighbour graph of faces and Chinese whispers over it (:mod:`.cluster`).

Each face is linked to at most ``neighbours`` nearest faces closer than ``max_distance``, a
link weighing more the shorter it is (:func:`link_weights`); Chinese whispers (Biemann 2006;
dlib clusters faces with it) lets each moving face take, pass after pass in a seeded random
order, the label its links weigh most for. The choice of method, the weights and the search
sizes were measured with ``python scripts/studies/measure_clustering.py`` (docs/clustering.md).

Nearest neighbours come from :mod:`facesight.index.vector_sets`, the searches of the face
index: exact (blocked BLAS) up to ``DEFAULT_EXACT_UP_TO`` faces or for a few thousand queries,
a faiss IVF index when both sides are larger, so no n x n matrix is ever held.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from facesight.index.face_index import DEFAULT_EXACT_UP_TO
from facesight.index.vector_sets import ExactSet, IvfSet

__all__ = ["Links", "knn_links", "link_weights", "number_clusters", "whispers"]


_EXACT_QUERIES = 5_000
"""Searches for at most this many faces are exact at any size: at 100k faces, 5,000
exact queries take 7 s on 2 cores and training the IVF lists alone 8-10 s."""

_ITERATIONS = 100
"""Chinese whispers passes at most; it usually settles in under ten."""

_LINK_SCALE = 0.35
"""Distance scale of the link weights (:func:`link_weights`)."""

Links = list[list[tuple[int, float]]]
"""For each face, (other face, weight) of its links."""


def knn_links(
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
    weights = link_weights(np.concatenate([lengths[keep], lengths[keep]])[first])
    for key, weight in zip(pairs.tolist(), weights.tolist(), strict=True):
        links[key // count].append((key % count, weight))
    return links


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


def link_weights(distances: NDArray[np.float32]) -> NDArray[np.float32]:
    """Votes of links of these lengths: exp(-(d / 0.35)^2), so 1 at 0, 0.72 at 0.2, 0.19 at 0.45.

    Near faces outvote far ones. With 30 neighbours on lfw-dev the gain over
    dlib's equal votes is small: BCubed precision +0.002-0.004, F1 +0.001-0.004
    (docs/clustering.md).
    """
    weights: NDArray[np.float32] = np.exp(-((distances / _LINK_SCALE) ** 2)).astype(np.float32)
    return weights


def whispers(
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


def number_clusters(labels: NDArray[np.int64], min_size: int, start: int) -> NDArray[np.int64]:
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
