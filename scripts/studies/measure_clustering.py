"""Compare ways of clustering unknown faces on lfw-dev; the table of docs/clustering.md.

Study (a record; ``--quick`` is rerun by tests/test_cluster_frequent.py): its numbers in
docs/clustering.md came from commit a6f3816.

Every lfw-dev image is described by the full pipeline (the subject is the face
nearest the centre; descriptors are cached like ``facesight eval``'s, then kept in
``--cache``, by default ``<library>/cache/clustering-lfw-dev.npz``). Each
candidate clusters all 5,364 faces; faces it leaves out (noise, or a cluster of
one) count as singletons, which is right for the 1,312 people with one image.
Scores:

* BCubed precision / recall (per face: the share of its cluster that is its
  person, and of its person that is in its cluster), F1 and F0.5, which weighs
  precision more: for investigations, merging two people is worse than
  splitting one.
* pairwise precision / recall / F1 over the pairs of faces put together.

``--gate`` runs every candidate on the faces of quality >= 0.3 only, then lets
each poorer face join the cluster most of its close neighbours are in
(``facesight.identity.cluster.update_clusters``). ``--incremental`` reruns the chosen
method with five seeds, then adds the faces to it in five batches, as scans
would. ``--scale N`` times the
chosen method on N faces made of lfw-dev copies under random rotations (each
copy keeps its distances within itself and is a crowd of strangers to the
others).

Candidates: Chinese whispers (facesight.identity.cluster: weighted links, no self-links,
run without the linkage check it was chosen before) and as in dlib's face example
(equal votes, self-links), scikit-learn's HDBSCAN, agglomerative clustering
(average / complete linkage, with and without k-NN connectivity) and DBSCAN;
these need scikit-learn (the ``measure`` extra).

``--split`` instead measures the linkage check (``facesight.identity.cluster_linkage.trim``),
shipped against the method without it: a frequent person among 500 people of
2-5 images (Colin Powell and the two people tests/test_cluster_frequent.py
checks), the limits tried on the tuning identity half (sha1(name) starts with
an odd byte), both halves clustered on their own with each person of 12+ images
among 500 rare people of the half, and five scans against all at once.
``--quick`` prints the Colin Powell rows alone, describing only those ~1,600
images (a test runs it). Neither needs scikit-learn.

Usage: python scripts/studies/measure_clustering.py [--images DIR] [--cache FILE]
       [--gate] [--incremental] [--scale N] [--only TEXT] [--split] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress

from facesight.config import resolve_library_dir
from facesight.eval.described import DescriptorCache, describe_images
from facesight.eval.metrics import cluster_scores, f_beta  # noqa: F401 (f_beta re-exported)
from facesight.identity.cluster import cluster_faces, update_clusters
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
MIN_QUALITY = 0.3
ATTACH_DISTANCE = 0.45  # how close a poor face must be to join a cluster (--gate)

Labels = NDArray[np.int64]
Method = Callable[[NDArray[np.float32], NDArray[np.float64]], Labels]


def load_faces(
    images: Path, cache: Path
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.str_]]:
    """Descriptors, qualities and person names of every image with a face."""
    if cache.exists():
        with np.load(cache) as saved:
            return saved["descriptors"], saved["qualities"], saved["names"]
    paths = sorted(images.glob("*/*.jpg"))
    pipeline = FacePipeline(FaceDetector(), FaceEmbedder())
    described_cache = DescriptorCache(resolve_library_dir(None) / "cache" / "eval-descriptors.db")
    with Progress() as bar:
        task = bar.add_task("describing", total=len(paths))
        described = describe_images(
            paths, pipeline, cache=described_cache, on_progress=lambda n: bar.advance(task, n)
        )
    described_cache.close()
    found = [(p, d) for p, d in zip(paths, described, strict=True) if d.descriptor is not None]
    vectors = np.stack([d.descriptor for _, d in found if d.descriptor is not None])
    qualities = np.array([d.quality_score for _, d in found], np.float64)
    names = np.array([p.parent.name for p, _ in found])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, descriptors=vectors, qualities=qualities, names=names)
    return vectors, qualities, names


# -- scores ----------------------------------------------------------------------------


# BCubed and pairwise scores live in the package (tested in tests/test_metrics.py); the
# script's old names stay importable.
scores = cluster_scores


# -- candidates -------------------------------------------------------------------------


def _sized(labels: NDArray[np.intp]) -> Labels:
    """Clusters of one become -1 (agglomerative clustering labels every face)."""
    labels = np.asarray(labels, np.int64)
    sizes = np.bincount(labels[labels >= 0])
    return np.where((labels >= 0) & (sizes[np.maximum(labels, 0)] >= 2), labels, -1)


def whispers(max_distance: float, neighbours: int = 30) -> Method:
    """facesight.identity.cluster with the gate and the linkage check off (weighted links): the
    comparison of methods was made before the check was added (see --split)."""

    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        return cluster_faces(
            x, q, min_quality=0.0, max_distance=max_distance, neighbours=neighbours, **BEFORE
        )

    return run


def dlib_whispers(max_distance: float, neighbours: int, seed: int = 0) -> Method:
    """dlib's face example on the same k-NN links: equal votes, each face voting for itself."""

    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        from sklearn.neighbors import kneighbors_graph  # type: ignore[import-untyped]

        graph = kneighbors_graph(x, neighbours, mode="distance")
        graph = graph.maximum(graph.T).tocsr()  # symmetric
        graph.data[graph.data >= max_distance] = 0
        graph.eliminate_zeros()
        links = np.split(graph.indices, graph.indptr[1:-1])
        label = list(range(len(x)))
        rng = np.random.default_rng(seed)
        for _ in range(100):
            changed = False
            for node in rng.permutation(len(x)).tolist():
                votes = {label[node]: 1}  # the self-link
                for other in links[node].tolist():
                    votes[label[other]] = votes.get(label[other], 0) + 1
                best = min(votes, key=lambda lab: (-votes[lab], lab))
                changed |= best != label[node]
                label[node] = best
            if not changed:
                break
        return _sized(np.unique(label, return_inverse=True)[1])

    return run


def hdbscan(min_samples: int, epsilon: float, method: str) -> Method:
    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        from sklearn.cluster import HDBSCAN  # type: ignore[import-untyped]

        model = HDBSCAN(
            min_cluster_size=2,
            min_samples=min_samples,
            cluster_selection_epsilon=epsilon,
            cluster_selection_method=method,
            metric="euclidean",
            copy=True,
        )
        return np.asarray(model.fit_predict(x.astype(np.float64)), np.int64)

    return run


def agglomerative(linkage: str, threshold: float, neighbours: int | None = None) -> Method:
    """scikit-learn's agglomerative clustering; ``neighbours``: merge only along k-NN links."""

    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.neighbors import kneighbors_graph

        graph = None if neighbours is None else kneighbors_graph(x, neighbours)
        model = AgglomerativeClustering(
            n_clusters=None, linkage=linkage, distance_threshold=threshold, connectivity=graph
        )
        return _sized(model.fit_predict(x))

    return run


def dbscan(eps: float) -> Method:
    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        from sklearn.cluster import DBSCAN  # type: ignore[import-untyped]

        return np.asarray(DBSCAN(eps=eps, min_samples=2).fit_predict(x), np.int64)

    return run


def candidates() -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for k, d in ((10, 0.45), (30, 0.45)):
        methods[f"dlib-style whispers (equal votes, self-links), {k}-NN, d < {d:.2f}"] = (
            dlib_whispers(d, k)
        )
    for k, d in ((10, 0.45), (20, 0.45)):
        methods[f"**whispers, weighted links**, {k}-NN, d < {d:.2f}"] = whispers(d, k)
    for d in (0.40, 0.44, 0.45, 0.46, 0.47, 0.48, 0.50):
        methods[f"**whispers, weighted links**, 30-NN, d < {d:.2f}"] = whispers(d)
    for samples, epsilon, method in (
        (1, 0.0, "eom"),
        (2, 0.0, "eom"),
        (3, 0.0, "eom"),
        (1, 0.0, "leaf"),
        (2, 0.0, "leaf"),
    ):
        # cluster_selection_epsilon > 0 raises TypeError with NumPy 2.4 (scikit-learn#33219)
        methods[f"HDBSCAN min_samples={samples} eps={epsilon} {method}"] = hdbscan(
            samples, epsilon, method
        )
    for linkage, thresholds in (
        ("average", (0.45, 0.48, 0.49, 0.50, 0.51, 0.55)),
        ("complete", (0.50, 0.55, 0.60, 0.65)),
    ):
        for t in thresholds:
            methods[f"agglomerative {linkage}, d < {t:.2f}"] = agglomerative(linkage, t)
    for k, t in ((30, 0.48), (30, 0.50)):
        methods[f"agglomerative average, {k}-NN connectivity, d < {t:.2f}"] = agglomerative(
            "average", t, k
        )
    for eps in (0.40, 0.42, 0.45, 0.50):
        methods[f"DBSCAN eps={eps:.2f} min_samples=2"] = dbscan(eps)
    return methods


def gated(method: Method, attach_distance: float) -> Method:
    """``method`` on good faces only; poor faces then join clusters (update_clusters)."""

    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        good = q >= MIN_QUALITY
        labels = np.full(len(x), -1, np.int64)
        labels[good] = method(x[good], q[good])
        # Only clustered faces and poor faces go in: poor faces are joined to clusters,
        # never clustered among themselves, and left-over good faces stay left over.
        keep = (labels >= 0) | ~good
        labels[keep] = update_clusters(
            np.flatnonzero(keep).astype(np.int64),
            x[keep],
            q[keep],
            labels[keep],
            min_quality=MIN_QUALITY,
            max_distance=attach_distance,
            **BEFORE,
        )
        return labels

    return run


# -- reports ----------------------------------------------------------------------------


def table(
    methods: dict[str, Method],
    x: NDArray[np.float32],
    q: NDArray[np.float64],
    names: NDArray[np.str_],
) -> None:
    print(
        "| method | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 | pairwise P | pairwise R "
        "| pairwise F1 | clusters | unclustered | seconds |"
    )
    print("| --- | " + " | ".join(["---:"] * 10) + " |")
    for name, method in methods.items():
        started = time.perf_counter()
        labels = method(x, q)
        seconds = time.perf_counter() - started
        s = scores(names, labels)
        print(
            f"| {name} | {s['bp']:.3f} | {s['br']:.3f} | {s['bf']:.3f} | {s['bf05']:.3f} "
            f"| {s['pp']:.3f} | {s['pr']:.3f} | {s['pf']:.3f} | {s['clusters']:.0f} "
            f"| {s['unclustered']:.0f} | {seconds:.2f} |",
            flush=True,
        )


def incremental(x: NDArray[np.float32], q: NDArray[np.float64], names: NDArray[np.str_]) -> None:
    """The chosen method (with its gate) on five batches in a random order, as scans."""
    order = np.random.default_rng(0).permutation(len(x))
    labels = np.full(len(x), -1, np.int64)
    started = time.perf_counter()
    for batch in np.array_split(np.arange(len(x)), 5):
        seen = order[: batch[-1] + 1]
        labels[seen] = update_clusters(seen.astype(np.int64), x[seen], q[seen], labels[seen])
    seconds = time.perf_counter() - started
    s = scores(names, labels)
    batch_scores = scores(names, cluster_faces(x, q))
    for title, t in (("all at once", batch_scores), ("in 5 batches", s)):
        print(
            f"| {title} | {t['bp']:.3f} | {t['br']:.3f} | {t['bf']:.3f} | {t['bf05']:.3f} "
            f"| {t['clusters']:.0f} | {t['unclustered']:.0f} |"
        )
    print(f"5 batches took {seconds:.2f} s in all")


def seeded(seed: int) -> Method:
    def run(x: NDArray[np.float32], q: NDArray[np.float64]) -> Labels:
        return cluster_faces(x, q, seed=seed, **BEFORE)

    return run


def seed_spread(x: NDArray[np.float32], q: NDArray[np.float64], names: NDArray[np.str_]) -> None:
    """Five whispers seeds: how much the visiting order matters, weighted vs dlib-style
    (both without the linkage check, as compared before it was added)."""
    shipped = [seeded(seed) for seed in range(5)]
    dlib = [gated(dlib_whispers(0.45, 30, seed), ATTACH_DISTANCE) for seed in range(5)]
    titles = ("whispers, weighted links (gate on)", "dlib-style, 30-NN (gate on)")
    for title, methods in zip(titles, (shipped, dlib), strict=True):
        runs = np.array(
            [[scores(names, m(x, q))[k] for k in ("bp", "br", "bf", "bf05")] for m in methods]
        )
        low, mean, high = runs.min(0), runs.mean(0), runs.max(0)
        print(
            f"| {title} | "
            + " | ".join(
                f"{a:.3f} ({b:.3f}-{c:.3f})" for a, b, c in zip(mean, low, high, strict=True)
            )
            + " |"
        )


def scale(x: NDArray[np.float32], q: NDArray[np.float64], count: int) -> None:
    """Time cluster_faces on ``count`` faces (randomly rotated copies of lfw-dev, shuffled),
    then update_clusters adding the last 5% to the clusters of the rest."""
    rng = np.random.default_rng(0)
    copies: list[NDArray[np.float32]] = []
    while sum(len(c) for c in copies) < count:
        rotation, _ = np.linalg.qr(rng.normal(size=(x.shape[1], x.shape[1])))
        copies.append((x @ rotation).astype(np.float32))
    order = rng.permutation(count)
    big = np.concatenate(copies)[:count][order]
    qualities = np.tile(q, len(copies))[:count][order]
    started = time.perf_counter()
    labels = cluster_faces(big, qualities)
    seconds = time.perf_counter() - started
    clusters = len(np.unique(labels[labels >= 0]))
    print(f"cluster_faces on {count} faces: {seconds:.1f} s, {clusters} clusters")
    old = count - count // 20
    before = np.full(count, -1, np.int64)
    before[:old] = cluster_faces(big[:old], qualities[:old])
    started = time.perf_counter()
    after = update_clusters(np.arange(count, dtype=np.int64), big, qualities, before)
    seconds = time.perf_counter() - started
    print(
        f"update_clusters adding {count - old} faces to {old} "
        f"({(before[:old] < 0).sum()} of them in no cluster): {seconds:.1f} s, "
        f"{(after[old:] >= 0).sum()} of the new faces placed"
    )


# -- a frequent person among rare ones, and the identity split ---------------------------

FREQUENT = "Colin_Powell"  # 236 lfw-dev images, by far the most
TESTED = (FREQUENT, "Megawati_Sukarnoputri", "Lleyton_Hewitt")  # tests/test_cluster_frequent.py
BEFORE = {"max_rms_distance": math.inf, "max_rms_ratio": math.inf}  # no linkage check


def tuning_half(name: str) -> bool:
    """The people the linkage check's limits were tuned on: sha1(name) starts with an odd
    byte. The other half (which holds Colin Powell) only checks them; the calibration
    tables (scripts/data/build_calibration.py) were built on that even half instead."""
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 1


def frequent_scenario(
    names: NDArray[np.str_],
    person: str,
    *,
    count: int = 500,
    photos: tuple[int, int] = (2, 5),
    seed: int = 0,
    pool: Callable[[str], bool] | None = None,
) -> NDArray[np.intp]:
    """Rows of ``person``'s faces and of all faces of ``count`` people (drawn at random
    from those with ``photos`` images, in ``pool``): a frequent person among rare ones."""
    people, counts = np.unique(names, return_counts=True)
    few = people[(counts >= photos[0]) & (counts <= photos[1]) & (people != person)]
    if pool is not None:
        few = few[[pool(str(p)) for p in few]]
    chosen = np.random.default_rng(seed).choice(few, min(count, len(few)), replace=False)
    return np.flatnonzero(np.isin(names, np.append(chosen, person)))


def purity(names: NDArray[np.str_], labels: Labels, person: str) -> float:
    """The share of ``person``'s cluster (the one holding most of their faces) that is theirs."""
    mine = labels[names == person]
    clusters, sizes = np.unique(mine[mine >= 0], return_counts=True)
    if len(clusters) == 0:
        return 1.0
    return float(np.mean(names[labels == clusters[np.argmax(sizes)]] == person))


def frequent_line(
    title: str,
    x: NDArray[np.float32],
    q: NDArray[np.float64],
    names: NDArray[np.str_],
    person: str = FREQUENT,
    **kw: float,
) -> str:
    labels = cluster_faces(x, q, **kw)  # type: ignore[arg-type]
    s = scores(names, labels)
    return (
        f"| {title} | {len(x)} | {purity(names, labels, person):.3f} | {s['bp']:.3f} "
        f"| {s['br']:.3f} | {s['bf']:.3f} |"
    )


def frequent_table(x: NDArray[np.float32], q: NDArray[np.float64], names: NDArray[np.str_]) -> None:
    """Each of ``TESTED`` with 500 people of 2-5 images (seed 0), before and with the check."""
    print("| person | method | faces | their cluster is theirs | BCubed P | BCubed R | BCubed F1 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for person in TESTED:
        rows = frequent_scenario(names, person)
        for title, kw in (("before (no linkage check)", BEFORE), ("shipped", {})):
            line = frequent_line(title, x[rows], q[rows], names[rows], person, **kw)
            print(f"| {person} {line}")


def rms_spread(x: NDArray[np.float32], names: NDArray[np.str_]) -> None:
    """How far (RMS) faces are from their own person's other faces, and from the nearest
    other person's faces (people with 3+ images), on the tuning half."""
    people, counts = np.unique(names, return_counts=True)
    people = people[counts >= 3]
    sums = np.stack([x[names == p].sum(0) for p in people]).astype(np.float64)
    squares = np.array([float((x[names == p].astype(np.float64) ** 2).sum()) for p in people])
    sizes = np.array([(names == p).sum() for p in people], np.float64)
    points = x.astype(np.float64)
    norms = (points**2).sum(1)
    total = norms[:, None] * sizes[None] - 2 * points @ sums.T + squares[None]
    own = names[:, None] == people[None]
    # to the others of one's own person (n - 1 faces; the face itself adds 0), else to all n
    mean_square = total / np.where(own, sizes[None] - 1, sizes[None])
    genuine = np.sqrt(np.maximum(mean_square[own & (sizes[None] > 1)], 0))
    nearest = np.sqrt(np.maximum(np.where(own, np.inf, mean_square).min(1), 0))
    print(
        f"RMS distance to one's own person's other faces: median {np.median(genuine):.3f}, "
        f"90th percentile {np.quantile(genuine, 0.9):.3f}; to the nearest other person's "
        f"faces: 1st percentile {np.quantile(nearest, 0.01):.3f}, "
        f"5th {np.quantile(nearest, 0.05):.3f}"
    )


def tuning_table(x: NDArray[np.float32], q: NDArray[np.float64], names: NDArray[np.str_]) -> None:
    """The limits tried on the tuning half."""
    print("| max_rms_distance | max_rms_ratio | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for limit in (0.48, 0.50, 0.52):
        for ratio in (1.2, 1.3, 1.4, math.inf):
            s = scores(names, cluster_faces(x, q, max_rms_distance=limit, max_rms_ratio=ratio))
            print(
                f"| {limit:.2f} | {ratio} | {s['bp']:.3f} | {s['br']:.3f} | {s['bf']:.3f} "
                f"| {s['bf05']:.3f} |",
                flush=True,
            )


def split_table(x: NDArray[np.float32], q: NDArray[np.float64], names: NDArray[np.str_]) -> None:
    """Each identity half clustered alone, before and with the linkage check; then each
    person with 12+ images of the half among 500 people of 1-5 images of that half."""
    tuning = np.array([tuning_half(str(n)) for n in names])
    print(
        "| half | method | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 | frequent people "
        "| lowest share of their cluster | below 0.98 | lowest BCubed P |"
    )
    print("| --- | --- | " + " | ".join(["---:"] * 8) + " |")
    for half, inside in (("tuning", tuning), ("held out", ~tuning)):
        hx, hq, hn = x[inside], q[inside], names[inside]
        people, counts = np.unique(hn, return_counts=True)
        frequent = people[counts >= 12]
        for title, kw in (("before (no linkage check)", BEFORE), ("shipped", {})):
            s = scores(hn, cluster_faces(hx, hq, **kw))  # type: ignore[arg-type]
            shares, precisions = [], []
            for person in frequent:
                rows = frequent_scenario(
                    hn,
                    str(person),
                    photos=(1, 5),
                    pool=lambda p, t=half: tuning_half(p) == (t == "tuning"),
                )
                labels = cluster_faces(hx[rows], hq[rows], **kw)  # type: ignore[arg-type]
                shares.append((purity(hn[rows], labels, str(person)), str(person)))
                precisions.append(scores(hn[rows], labels)["bp"])
            print(
                f"| {half} | {title} | {s['bp']:.3f} | {s['br']:.3f} | {s['bf']:.3f} "
                f"| {s['bf05']:.3f} | {len(frequent)} | {min(shares)[0]:.3f} ({min(shares)[1]}) "
                f"| {sum(v < 0.98 for v, _ in shares)} | {min(precisions):.3f} |",
                flush=True,
            )


def quick(images: Path) -> None:
    """The Colin Powell scenario alone, describing only its ~1,600 images (eval cache)."""
    folders = sorted(p for p in images.iterdir() if p.is_dir())
    paths = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    names = np.array([name for name, files in paths.items() for _ in files])
    rows = frequent_scenario(names, FREQUENT)
    flat = [path for files in paths.values() for path in files]
    x, q, found = describe([flat[i] for i in rows])
    print(f"{FREQUENT} and 500 people of 2-5 images: {len(x)} faces\n")
    print("| method | faces | his cluster is his | BCubed P | BCubed R | BCubed F1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for title, kw in (("before (no linkage check)", BEFORE), ("shipped", {})):
        print(frequent_line(title, x, q, names[rows][found], **kw))


def describe(
    paths: list[Path],
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.bool_]]:
    """Descriptors and qualities of the images with a face, and which had one."""
    pipeline = FacePipeline(FaceDetector(), FaceEmbedder())
    cache = DescriptorCache(resolve_library_dir(None) / "cache" / "eval-descriptors.db")
    try:
        described = describe_images(paths, pipeline, cache=cache)
    finally:
        cache.close()
    found = np.array([d.descriptor is not None for d in described])
    x = np.stack([d.descriptor for d in described if d.descriptor is not None])
    q = np.array([d.quality_score for d in described if d.descriptor is not None], np.float64)
    return x, q, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument(
        "--cache",
        type=Path,
        default=resolve_library_dir(None) / "cache" / "clustering-lfw-dev.npz",
        help="the described faces, written on the first run",
    )
    parser.add_argument("--gate", action="store_true", help="also the quality-gated table")
    parser.add_argument("--incremental", action="store_true", help="batches vs all at once")
    parser.add_argument("--scale", type=int, default=0, help="time the chosen method on N faces")
    parser.add_argument("--only", default="", help="only the methods whose name has this text")
    parser.add_argument(
        "--split", action="store_true", help="only: each identity half, before and with the check"
    )
    parser.add_argument(
        "--quick", action="store_true", help="only: Colin Powell among 500 rare people"
    )
    args = parser.parse_args()
    if args.quick:
        quick(args.images)
        return
    x, q, names = load_faces(args.images, args.cache)
    if args.split:
        print("Frequent people among 500 people of 2-5 images (all of lfw-dev):\n")
        frequent_table(x, q, names)
        tuning = np.array([tuning_half(str(n)) for n in names])
        print("\nTuning half:")
        rms_spread(x[tuning], names[tuning])
        print()
        tuning_table(x[tuning], q[tuning], names[tuning])
        print("\nIdentity halves (tuned on the first):\n")
        split_table(x, q, names)
        print("\nShipped cluster_faces, all at once vs five scans (all of lfw-dev):\n")
        print("| | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 | clusters | unclustered |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        incremental(x, q, names)
        if args.scale:
            scale(x, q, args.scale)
        return
    people, counts = np.unique(names, return_counts=True)
    print(
        f"{len(x)} faces of {len(people)} people ({(counts == 1).sum()} with one image); "
        f"{(q < MIN_QUALITY).sum()} faces of quality < {MIN_QUALITY}\n"
    )
    methods = {k: m for k, m in candidates().items() if args.only in k}
    warnings.simplefilter("ignore", FutureWarning)
    print("All faces, no quality gate:\n")
    table(methods, x, q, names)
    if args.gate:
        print(f"\nQuality gate: faces of quality < {MIN_QUALITY} only join clusters:\n")
        table({k: gated(m, ATTACH_DISTANCE) for k, m in methods.items()}, x, q, names)
    if args.incremental:
        print("\nSeeds 0-4 (mean, lowest-highest):\n")
        print("| | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 |")
        print("| --- | ---: | ---: | ---: | ---: |")
        seed_spread(x, q, names)
        print("\nShipped cluster_faces (gate on), all at once vs five scans:\n")
        print("| | BCubed P | BCubed R | BCubed F1 | BCubed F0.5 | clusters | unclustered |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        incremental(x, q, names)
    if args.scale:
        scale(x, q, args.scale)


if __name__ == "__main__":
    main()
