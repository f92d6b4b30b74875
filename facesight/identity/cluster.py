"""Grouping faces that match nobody into unknown people (recurring strangers).

The method is Chinese whispers (Biemann 2006; dlib clusters faces with it) on a
k-nearest-neighbour graph (:mod:`facesight.identity.cluster_graph`): each face is
linked to at most ``neighbours`` nearest faces closer than ``max_distance``, a link
weighing more the shorter it is. Every face starts as its own cluster and, in a
seeded random order, repeatedly takes the label whose links to it weigh most,
until no label changes. A cluster of fewer than ``min_size`` faces is no
cluster: those faces stay unclustered (-1).

It was chosen by measurement on lfw-dev (``python scripts/studies/measure_clustering.py``,
``docs/clustering.md``) against scikit-learn's HDBSCAN, DBSCAN and average /
complete-linkage agglomerative clustering: see that page for the numbers.

Linkage check (:mod:`facesight.identity.cluster_linkage`): whispers follow links,
so a face with a few links into a frequently seen person's cluster can join it
while far from most of its faces, and bring its own look-alikes along. After each
whispering, a face placed in a cluster leaves it, worst first, when its root-mean-square
distance to the cluster's other faces is above ``max_rms_distance`` or, in a
cluster of five faces or more, above ``max_rms_ratio`` times the members'
median (never below ``max_distance``). The mean squared distance to a
cluster's faces comes from their sum and squared lengths, so the check costs
O(n d), never an n x n matrix. A face that leaves is barred from that cluster
and placed again (it may join another or form a new one). On lfw-dev's
held-out identity half, BCubed precision goes from 0.993 to 0.994 and recall
from 0.916 to 0.910, and every person with 12+ images keeps a cluster that is
98 %+ theirs among 500 rare people (docs/clustering.md,
``python scripts/studies/measure_clustering.py --split``).

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

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError
from facesight.identity.calibrate import ReferenceCalibration
from facesight.identity.cluster_graph import Links, knn_links, number_clusters, whispers
from facesight.identity.cluster_inputs import (
    apart_positions,
    barred_positions,
    check_arrays,
    check_existing,
    check_parameters,
)
from facesight.identity.cluster_linkage import Limits, Spread, trim

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MAX_RMS_DISTANCE",
    "DEFAULT_MAX_RMS_RATIO",
    "DEFAULT_MIN_QUALITY",
    "DEFAULT_NEIGHBOURS",
    "cluster_distances",
    "cluster_faces",
    "update_clusters",
]


DEFAULT_MAX_DISTANCE = 0.45
"""Faces closer than this are linked (same person typically < 0.5, strangers > 0.6)."""

DEFAULT_MAX_RMS_DISTANCE = 0.52
"""A face stays in a cluster only if its root-mean-square distance to the cluster's
other faces is below this (``cluster_linkage.trim``). On lfw-dev's tuning half
(scripts/studies/measure_clustering.py --split), 90 % of faces are within 0.487 of their
own person's other faces this way, and 1 % of faces come within 0.491 of the nearest other
person's; of 0.48, 0.50 and 0.52, 0.52 gave the best BCubed F0.5."""

DEFAULT_MIN_QUALITY = 0.3
"""Faces of lower quality (the ``poor`` band) never seed a cluster."""

DEFAULT_NEIGHBOURS = 30
"""Links per face at most: bounds the graph (and the work) for people with many photos."""

DEFAULT_MAX_RMS_RATIO = 1.3
"""A face also leaves a cluster of ``cluster_linkage.RELATIVE_FROM`` or more faces when its
root-mean-square distance to the others is this many times the members' median:
within one person's tight cluster a look-alike stands out before it passes the
absolute limit (scripts/studies/measure_clustering.py --split)."""


def cluster_distances(
    reference: ReferenceCalibration, shipped: ReferenceCalibration, *, model: str = ""
) -> tuple[float, float]:
    """``(max_distance, max_rms_distance)`` for the descriptors ``reference``'s tables describe.

    The defaults were measured on dlib's descriptors (``shipped``); another model's
    distances mean something else, so its limits are the distances where *its* tables
    estimate the false-match rate dlib's tables give the defaults: the same share of
    strangers linked, the same share kept out of a cluster.

    Raises:
        InvalidInputError: ``reference`` has no tables (a registered model not calibrated
            yet): nobody measured what its distances mean.
    """
    if reference.descriptor == shipped.descriptor:
        return DEFAULT_MAX_DISTANCE, DEFAULT_MAX_RMS_DISTANCE
    if not reference.calibrated:
        raise InvalidInputError(
            f"unknown people are clustered by distances measured for the model; {model!r} has "
            f"no calibration yet: run `facesight calibrate build --model {model} PEOPLE_DIR`"
        )
    dlib, mine = shipped.table(1), reference.table(1)
    link, trim = (
        mine.distance_at(float(dlib.fmr(d)))
        for d in (DEFAULT_MAX_DISTANCE, DEFAULT_MAX_RMS_DISTANCE)
    )
    return link, trim


_TRIM_ROUNDS = 4
"""Times faces trimmed out of a cluster are placed again (elsewhere) at most."""


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
    ids, vectors, quality, current = check_arrays(face_ids, descriptors, qualities, labels)
    check_parameters(min_quality, max_distance, neighbours, min_size)
    if max_rms_distance <= 0.0:
        raise InvalidInputError(f"max_rms_distance must be > 0, got {max_rms_distance}")
    if max_rms_ratio < 1.0:
        raise InvalidInputError(f"max_rms_ratio must be at least 1, got {max_rms_ratio}")
    apart = apart_positions(ids, cannot_link)
    barred = barred_positions(ids, cannot_join)
    check_existing(current, apart, barred, ids)
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
    links = knn_links(vectors, np.flatnonzero(free), max_distance, neighbours)
    result = current.copy()
    start = own if next_label is None else next_label
    movers = free & good
    for _ in range(_TRIM_ROUNDS):
        result, start = _place(result, movers, links, apart, barred, start, min_size, seed)
        limits = Limits(max_rms_distance**2, max_rms_ratio**2, max_distance**2)
        trimmed = trim(result, vectors, movers, limits)
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
    whispered = whispers(links, initial, movers, settled | movers, apart, barred, seed)
    result = labels.copy()
    joined = movers & (whispered < above)
    result[joined] = whispered[joined]
    founded = movers & (whispered >= above)
    result[founded] = number_clusters(whispered[founded], min_size, start)
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
    (root mean square, as :func:`trim`). Updates ``labels``.
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
    spread = Spread(settled, vectors)
    for _, face, ranked in sorted(choices):
        excluded = barred.get(face, set()) | {int(labels[o]) for o in apart.get(face, ())}
        allowed = [
            c
            for c in ranked
            if c not in excluded and spread.mean_square(c, vectors[face]) <= max_rms_distance**2
        ]
        if allowed:
            labels[face] = allowed[0]
