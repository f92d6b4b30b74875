"""Clustering unknown faces, on descriptors of real photos (../shared/faces/people).

The photos are described once per module by the real pipeline. Poor faces are
real faces made tiny: the photo is shrunk until the face is about 30 px wide,
which the quality stage scores below 0.3 (small and blurred).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError
from facesight.identity.cluster import cluster_faces, update_clusters
from facesight.media.images import load_image
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

from .paths import PEOPLE

# Person -> photo numbers (in sorted file order) of the good faces used here.
CHOSEN = {
    "Angelina_Jolie": (0, 1, 2, 3),
    "Barack_Obama": (0, 1, 2, 3),
    "George_Clooney": (0, 1, 2),
    "Jack_Dorsey": (0, 1, 2),
    "Katy_Perry": (0, 2, 3, 4),
    "Matt_Damon": (0, 1, 2),
    "deepface_unnamed_D": (0, 1, 2),
    "Lin_Manuel_Miranda": (0,),
}
SINGLE = "Lin_Manuel_Miranda"


@dataclass(frozen=True)
class Described:
    """Parallel arrays: the subject face of each photo."""

    people: list[str]
    vectors: NDArray[np.float32]
    qualities: NDArray[np.float64]

    def of(self, person: str) -> NDArray[np.intp]:
        return np.flatnonzero(np.array(self.people) == person)


def _photo(person: str, number: int) -> Path:
    return sorted((PEOPLE / person).glob("*.jpg"))[number]


def _describe(
    pipeline: FacePipeline, pixels: NDArray[np.uint8]
) -> tuple[NDArray[np.float32], float]:
    analyzed = pipeline.analyze(pixels)
    assert len(analyzed) >= 1
    subject = analyzed.largest()
    return analyzed.embedding[subject], analyzed.quality[subject].score


def _shrunk(
    pipeline: FacePipeline, path: Path, face_px: float
) -> tuple[NDArray[np.float32], float]:
    """The photo shrunk until its subject is ``face_px`` wide, described again."""
    pixels = load_image(path).pixels
    analyzed = pipeline.analyze(pixels)
    scale = face_px / float(analyzed.faces.width_px[analyzed.largest()])
    image = Image.fromarray(pixels)
    size = (round(image.width * scale), round(image.height * scale))
    return _describe(pipeline, np.asarray(image.resize(size, Image.Resampling.BILINEAR)))


@pytest.fixture(scope="module")
def pipeline(detector: FaceDetector, embedder: FaceEmbedder) -> FacePipeline:
    return FacePipeline(detector, embedder)


@pytest.fixture(scope="module")
def good(pipeline: FacePipeline) -> Described:
    people, vectors, qualities = [], [], []
    for person, numbers in CHOSEN.items():
        for number in numbers:
            vector, quality = _describe(pipeline, load_image(_photo(person, number)).pixels)
            people.append(person)
            vectors.append(vector)
            qualities.append(quality)
    return Described(people, np.stack(vectors), np.array(qualities))


@pytest.fixture(scope="module")
def tiny_katy(pipeline: FacePipeline) -> tuple[NDArray[np.float32], float]:
    """A Katy Perry photo that is not among the good ones, shrunk to a 32 px face."""
    return _shrunk(pipeline, _photo("Katy_Perry", 1), 32)


@pytest.fixture(scope="module")
def tiny_biden(pipeline: FacePipeline) -> Described:
    """Two tiny copies (28 and 34 px faces) of one Joe Biden photo: close, but poor."""
    path = _photo("Joe_Biden", 0)
    pairs = [_shrunk(pipeline, path, px) for px in (28, 34)]
    return Described(
        ["Joe_Biden"] * 2, np.stack([v for v, _ in pairs]), np.array([q for _, q in pairs])
    )


def _groups(people: list[str], labels: NDArray[np.int64]) -> set[frozenset[str]]:
    """The partition as sets of 'person#i' (unclustered faces alone)."""
    groups: dict[int, set[str]] = {}
    for i, (person, label) in enumerate(zip(people, labels.tolist(), strict=True)):
        groups.setdefault(label if label >= 0 else -1 - i, set()).add(f"{person}#{i}")
    return {frozenset(g) for g in groups.values()}


def _expected(people: list[str]) -> set[frozenset[str]]:
    by_person: dict[str, set[str]] = {}
    for i, person in enumerate(people):
        by_person.setdefault(person, set()).add(f"{person}#{i}")
    return {frozenset(g) for g in by_person.values()}


def test_clusters_are_the_people_on_real_faces(good: Described) -> None:
    assert (good.qualities >= 0.3).all()
    labels = cluster_faces(good.vectors, good.qualities)
    assert labels.dtype == np.int64
    assert _groups(good.people, labels) == _expected(good.people)
    assert labels[good.of(SINGLE)].tolist() == [-1]  # one photo: no cluster
    assert sorted(set(labels.tolist()) - {-1}) == list(range(len(CHOSEN) - 1))


def test_clustering_is_deterministic_and_independent_of_order(good: Described) -> None:
    first = cluster_faces(good.vectors, good.qualities)
    assert np.array_equal(first, cluster_faces(good.vectors, good.qualities))
    order = np.random.default_rng(3).permutation(len(good.people))
    shuffled = cluster_faces(good.vectors[order], good.qualities[order])
    people = [good.people[i] for i in order]
    assert _groups(people, shuffled) == _expected(people)


def test_poor_faces_do_not_seed_a_cluster(tiny_biden: Described) -> None:
    assert (tiny_biden.qualities < 0.3).all()
    ungated = cluster_faces(tiny_biden.vectors, tiny_biden.qualities, min_quality=0.0)
    assert ungated.tolist() == [0, 0]  # close enough to cluster ...
    gated = cluster_faces(tiny_biden.vectors, tiny_biden.qualities)
    assert gated.tolist() == [-1, -1]  # ... but too poor to start one


def test_poor_face_joins_the_cluster_of_its_person(
    good: Described, tiny_katy: tuple[NDArray[np.float32], float], tiny_biden: Described
) -> None:
    vector, quality = tiny_katy
    assert quality < 0.3
    vectors = np.concatenate([good.vectors, vector[None], tiny_biden.vectors])
    qualities = np.concatenate([good.qualities, [quality], tiny_biden.qualities])
    labels = cluster_faces(vectors, qualities)
    katy = labels[good.of("Katy_Perry")]
    assert len(set(katy.tolist())) == 1 and katy[0] >= 0
    assert labels[len(good.people)] == katy[0]
    assert labels[-2:].tolist() == [-1, -1]
    assert np.array_equal(labels[: len(good.people)], cluster_faces(good.vectors, good.qualities))


def test_update_keeps_existing_clusters_and_numbers_new_ones_after_them(
    good: Described, tiny_katy: tuple[NDArray[np.float32], float]
) -> None:
    people = np.array(good.people)
    # The first scan saw two photos of each person but Jack Dorsey; the second the rest.
    first_seen = np.zeros(len(people), bool)
    for person in CHOSEN:
        if person != "Jack_Dorsey":
            first_seen[good.of(person)[:2]] = True
    ids = np.arange(100, 100 + len(people), dtype=np.int64)
    before = np.full(len(people), -1, np.int64)
    first = cluster_faces(good.vectors[first_seen], good.qualities[first_seen])
    before[first_seen] = np.where(first >= 0, first + 7, -1)  # the store's own numbers
    vector, quality = tiny_katy
    after = update_clusters(
        np.append(ids, 999),
        np.concatenate([good.vectors, vector[None]]),
        np.append(good.qualities, quality),
        np.append(before, -1),
    )
    assert np.array_equal(after[:-1][before >= 0], before[before >= 0])  # nothing renumbered
    for person in CHOSEN:
        if person not in ("Jack_Dorsey", SINGLE):
            mine = after[good.of(person)]
            assert (mine == before[good.of(person)[0]]).all(), person
    dorsey = after[good.of("Jack_Dorsey")]
    assert len(set(dorsey.tolist())) == 1 and dorsey[0] == before.max() + 1
    assert after[-1] == before[good.of("Katy_Perry")[0]]  # the poor face joined its person


def test_update_starts_new_labels_at_next_label(good: Described) -> None:
    labels = np.full(len(good.people), -1, np.int64)
    labels[good.of("Barack_Obama")[:2]] = 3
    ids = np.arange(len(good.people), dtype=np.int64)
    after = update_clusters(ids, good.vectors, good.qualities, labels, next_label=50)
    assert (after[good.of("Barack_Obama")] == 3).all()
    assert set(after.tolist()) - {-1, 3} == set(range(50, 50 + len(CHOSEN) - 2))
    with pytest.raises(InvalidInputError, match="next_label"):
        update_clusters(ids, good.vectors, good.qualities, labels, next_label=3)


def test_new_clusters_never_take_a_barred_number(good: Described) -> None:
    # Cluster 0 was emptied (its faces named, say) but face 0 stays barred from it.
    ids = np.arange(len(good.people), dtype=np.int64)
    fresh = np.full(len(ids), -1, np.int64)
    labels = update_clusters(ids, good.vectors, good.qualities, fresh, cannot_join=[(0, 0)])
    assert 0 not in labels.tolist()
    assert _groups(good.people, labels) == _expected(good.people)
    with pytest.raises(InvalidInputError, match="cannot_join"):
        update_clusters(
            ids, good.vectors, good.qualities, fresh, cannot_join=[(0, 4)], next_label=4
        )


def test_a_face_split_out_of_a_cluster_is_not_merged_back(good: Described) -> None:
    ids = np.arange(10, 10 + len(good.people), dtype=np.int64)
    labels = cluster_faces(good.vectors, good.qualities)
    obama = good.of("Barack_Obama")
    cluster = int(labels[obama[0]])
    labels[obama[-1]] = -1  # the user split this face out
    again = update_clusters(ids, good.vectors, good.qualities, labels)
    assert again[obama[-1]] == cluster  # without the constraint it goes straight back
    kept_out = update_clusters(
        ids, good.vectors, good.qualities, labels, cannot_join=[(int(ids[obama[-1]]), cluster)]
    )
    assert kept_out[obama[-1]] != cluster
    assert np.array_equal(np.delete(kept_out, obama[-1]), np.delete(labels, obama[-1]))


def test_faces_kept_apart_never_share_a_new_cluster(good: Described) -> None:
    ids = np.arange(len(good.people), dtype=np.int64)
    jolie = good.of("Angelina_Jolie")
    pairs = [(int(ids[jolie[0]]), int(ids[jolie[1]]))]
    labels = update_clusters(
        ids, good.vectors, good.qualities, np.full(len(ids), -1, np.int64), cannot_link=pairs
    )
    assert labels[jolie[0]] != labels[jolie[1]] or labels[jolie[0]] == -1
    assert (labels[jolie[2:]] >= 0).all()
    others = np.setdiff1d(np.arange(len(ids)), jolie)
    assert np.array_equal(
        labels[others] >= 0, cluster_faces(good.vectors, good.qualities)[others] >= 0
    )


def test_split_face_kept_apart_from_a_member_stays_out(good: Described) -> None:
    ids = np.arange(len(good.people), dtype=np.int64)
    labels = cluster_faces(good.vectors, good.qualities)
    katy = good.of("Katy_Perry")
    labels[katy[0]] = -1
    after = update_clusters(
        ids, good.vectors, good.qualities, labels, cannot_link=[(int(katy[0]), int(katy[2]))]
    )
    assert after[katy[0]] == -1


def test_a_constraint_broken_by_the_existing_labels_is_an_error(good: Described) -> None:
    ids = np.arange(len(good.people), dtype=np.int64)
    labels = cluster_faces(good.vectors, good.qualities)
    katy = good.of("Katy_Perry")
    with pytest.raises(InvalidInputError, match="label -1 first"):
        update_clusters(ids, good.vectors, good.qualities, labels, cannot_link=[(katy[0], katy[1])])
    with pytest.raises(InvalidInputError, match="label -1 first"):
        update_clusters(
            ids, good.vectors, good.qualities, labels, cannot_join=[(katy[0], labels[katy[0]])]
        )


def test_large_collections_use_the_ivf_search_and_keep_the_clusters(good: Described) -> None:
    # 10,500 faces: 420 copies of the real descriptors with their coordinates permuted
    # and signs flipped at random, past the exact search. Each copy keeps its distances
    # inside and is a set of strangers to the others.
    rng = np.random.default_rng(0)
    copies = [
        good.vectors[:, rng.permutation(128)] * rng.choice([-1.0, 1.0], 128).astype(np.float32)
        for _ in range(420)
    ]
    vectors = np.concatenate(copies).astype(np.float32)
    labels = cluster_faces(vectors, np.tile(good.qualities, len(copies)))
    per_copy = labels.reshape(len(copies), len(good.people))
    for copy in per_copy[:: len(copies) // 8]:
        assert _groups(good.people, copy) == _expected(good.people)
    assert len(set(labels.tolist()) - {-1}) == len(copies) * (len(CHOSEN) - 1)


def test_bad_input_is_refused_with_the_fix(good: Described) -> None:
    n = len(good.people)
    ids = np.arange(n, dtype=np.int64)
    with pytest.raises(InvalidInputError, match="qualities must have shape"):
        cluster_faces(good.vectors, good.qualities[:-1])
    with pytest.raises(InvalidInputError, match="distinct"):
        update_clusters(np.zeros(n, np.int64), good.vectors, good.qualities, np.full(n, -1))
    with pytest.raises(InvalidInputError, match="max_distance"):
        cluster_faces(good.vectors, good.qualities, max_distance=0.0)
    with pytest.raises(InvalidInputError, match="finite"):
        broken = good.vectors.copy()
        broken[0, 0] = np.nan
        update_clusters(ids, broken, good.qualities, np.full(n, -1, np.int64))


def test_empty_and_single_inputs() -> None:
    empty = cluster_faces(np.zeros((0, 128), np.float32), np.zeros(0))
    assert empty.shape == (0,) and empty.dtype == np.int64
    assert cluster_faces(np.ones((1, 128), np.float32), np.ones(1)).tolist() == [-1]
