"""Nearest-face search at scale: FaceIndex (exact BLAS, then faiss IVF) against exact search.

The stored set is built from REAL descriptors: every lfw-dev image and the shared
people/group/distractors images, described by the package's pipeline (cached in
``--cache``). Some real descriptors are held out as queries; the rest, plus perturbed
copies of them (Gaussian noise, sigma 0.02 per coordinate, back to length 1.43: a copy
lies ~0.22 from its original and ~0.31 from another copy, inside the 0.2-0.5 of genuine
pairs), fill the index to ``--size``. Queries are the held-out real descriptors and
fresh perturbed copies of stored ones.

recall@k is measured against exact search the ann-benchmarks way: the share of the k
returned faces whose true distance is within the exact k-th distance (so exact ties
count). Latency is one query per call, after a warm-up, on the calling thread.

Modes:
  (default)     FaceIndex at --size (in a fresh process) and exact search at the same
                size, one table.
  --compare     each candidate library (faiss HNSW and IVF, hnswlib, usearch) in its own
                process (so memory deltas are clean), with a sweep of its search knob.
  --crossover   exact vs IVF latency (single queries and batches of 32) and IVF recall
                over a range of sizes: where FaceIndex should switch.
  --nprobe N..  FaceIndex's IVF at 50k..--size, searched scanning N lists: recall (all
                queries and held-out faces only) and latency, to choose NPROBE.

Usage: PYTHONPATH=. python bench/index_search.py [--size N] [--queries Q] [--cache PATH]
       [--compare [SPEC ...]] [--crossover] [--nprobe N ...] [--json]
       --compare needs hnswlib and usearch too: pip install hnswlib usearch
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
LENGTH = 1.43
SIGMA = 0.02
K = 10
DEFAULT_SPECS = ["faiss-hnsw:16:128", "faiss-ivf:4096", "hnswlib:16:128", "usearch:16:128"]
CROSSOVER_SIZES = (2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000)
SWEEP = {"ef": [16, 32, 64, 128, 256, 512, 1024], "nprobe": [8, 16, 32, 64, 128]}


def image_paths() -> list[Path]:
    paths = sorted((FACES / "lfw-dev" / "people").glob("*/*.jpg"))
    for folder in ("people", "group", "distractors"):
        paths += sorted(p for p in (FACES / folder).rglob("*") if p.is_file())
    return paths


def real_descriptors(cache: Path) -> NDArray[np.float32]:
    """(n, 128) descriptors of every image's subject, described by FacePipeline."""
    from facesight.eval.described import DescriptorCache, describe_images
    from facesight.vision.detect import FaceDetector
    from facesight.vision.embed import FaceEmbedder
    from facesight.vision.pipeline import FacePipeline

    store = DescriptorCache(cache)
    try:
        pipeline = FacePipeline(FaceDetector(), FaceEmbedder())
        items = describe_images(image_paths(), pipeline, cache=store)
    finally:
        store.close()
    return np.stack([item.descriptor for item in items if item.descriptor is not None])


def perturb(base: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    noisy = base + rng.normal(0.0, SIGMA, base.shape).astype(np.float32)
    noisy *= LENGTH / np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy.astype(np.float32)


@dataclass
class Dataset:
    """Stored vectors (id = row + 1), queries and their exact top-K answers."""

    vectors: NDArray[np.float32]
    queries: NDArray[np.float32]
    truth_distances: NDArray[np.float64]  # (q, K)
    real_count: int

    @property
    def ids(self) -> NDArray[np.int64]:
        return np.arange(1, len(self.vectors) + 1, dtype=np.int64)

    def subset(self, size: int) -> Dataset:
        vectors = self.vectors[:size]
        return Dataset(vectors, self.queries, exact_topk(vectors, self.queries)[0], size)


def make_dataset(real: NDArray[np.float32], size: int, queries: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    held_out, kept = real[order[: queries // 2]], real[order[queries // 2 :]]
    parts, total = [kept], len(kept)
    while total < size:
        parts.append(perturb(kept[: size - total], rng))
        total += len(parts[-1])
    vectors = np.concatenate(parts)[rng.permutation(size)]  # stored in no particular order
    fresh = perturb(kept[rng.choice(len(kept), queries - len(held_out), replace=False)], rng)
    query_set = np.concatenate([held_out, fresh])
    return Dataset(vectors, query_set, exact_topk(vectors, query_set)[0], len(kept))


def exact_topk(
    base: NDArray[np.float32], queries: NDArray[np.float32], k: int = K, chunk: int = 131072
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Exact (q, k) distances (float64) and row numbers, by chunked float32 BLAS + re-rank."""
    candidates = []
    for start in range(0, len(base), chunk):
        block = base[start : start + chunk]
        squared = (block**2).sum(1)[None, :] - 2.0 * (queries @ block.T)
        top = np.argpartition(squared, min(2 * k, len(block) - 1), axis=1)[:, : 2 * k]
        candidates.append(top + start)
    rows = np.concatenate(candidates, axis=1)
    distances = true_distances(base, queries, rows + 1)
    order = np.argsort(distances, axis=1)[:, :k]
    return np.take_along_axis(distances, order, 1), np.take_along_axis(rows, order, 1)


def true_distances(
    base: NDArray[np.float32], queries: NDArray[np.float32], ids: NDArray[np.int64]
) -> NDArray[np.float64]:
    """float64 distances from each query to the stored faces ``ids`` (id = row + 1; -1: inf)."""
    found = base[np.maximum(ids - 1, 0)].astype(np.float64)
    distances = np.linalg.norm(found - queries[:, None, :].astype(np.float64), axis=2)
    return np.where(ids > 0, distances, np.inf)


def recall(data: Dataset, ids: NDArray[np.int64]) -> dict[str, float]:
    distances = true_distances(data.vectors, data.queries, ids)
    result = {}
    for k in (1, K):
        bound = data.truth_distances[:, k - 1 : k] + 1e-6
        result[f"recall@{k}"] = float((distances[:, :k] <= bound).mean())
    return result


def timed_queries(
    search: Callable[[NDArray[np.float32]], NDArray[np.int64]], queries: NDArray[np.float32]
) -> tuple[NDArray[np.int64], dict[str, float]]:
    for query in queries[: min(100, len(queries))]:
        search(query[None])
    found, spent = [], []
    for query in queries:
        started = time.perf_counter_ns()
        found.append(search(query[None]))
        spent.append(time.perf_counter_ns() - started)
    ms = np.array(spent) / 1e6
    pad = [np.pad(f, (0, K - len(f)), constant_values=-1) for f in found]
    return np.stack(pad), {"p50_ms": float(np.median(ms)), "p99_ms": float(np.quantile(ms, 0.99))}


def batch_ms_per_query(
    search: Callable[[NDArray[np.float32]], object], queries: NDArray[np.float32], size: int = 32
) -> float:
    """Time per query when queries come in batches of ``size`` (a photo, a person's refs)."""
    started = time.perf_counter()
    for start in range(0, len(queries), size):
        search(queries[start : start + size])
    return (time.perf_counter() - started) * 1000 / len(queries)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def run_backend(spec: str, data_file: Path) -> dict[str, Any]:
    """One library: build, sweep its knob, save; called in a child process."""
    from ann_backends import make_backend  # type: ignore[import-not-found]

    with np.load(data_file) as saved:
        data = Dataset(saved["vectors"], saved["queries"], saved["truth"], 0)
    if spec == "facesight":
        return measure_face_index(data)
    backend = make_backend(spec)
    gc.collect()
    before, started = rss_bytes(), time.perf_counter()
    backend.build(data.ids, data.vectors)
    build_s, rss_delta = time.perf_counter() - started, rss_bytes() - before
    rows = []
    for value in SWEEP[backend.knob]:
        backend.tune(value)
        ids, latency = timed_queries(lambda q, b=backend: b.search(q, K), data.queries)
        rows.append({"knob": f"{backend.knob}={value}", **recall(data, ids), **latency})
    with tempfile.TemporaryDirectory() as tmp:
        disk = backend.save(Path(tmp) / "index.bin")
    return {
        "backend": backend.name,
        "build_s": build_s,
        "rss_delta_bytes": rss_delta,
        "disk_bytes": disk,
        "sweep": rows,
    }


def in_children(data: Dataset, specs: list[str]) -> list[dict[str, Any]]:
    """``run_backend`` for each spec in a fresh process, so RSS deltas are the index's own."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "data.npz"
        np.savez(data_file, vectors=data.vectors, queries=data.queries, truth=data.truth_distances)
        for spec in specs:
            child = [sys.executable, __file__, "--backend", spec, "--data", str(data_file)]
            done = subprocess.run(child, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{spec} failed:\n{done.stderr}")
            results.append(json.loads(done.stdout))
            print(json.dumps(results[-1]), file=sys.stderr)
    return results


def measure_face_index(data: Dataset, exact_up_to: int | None = None) -> dict[str, Any]:
    """Build FaceIndex, save, reopen; latency and recall of the reopened index."""
    from facesight.index.face_index import FaceIndex

    extra = {} if exact_up_to is None else {"exact_up_to": exact_up_to}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "index"
        gc.collect()
        before, started = rss_bytes(), time.perf_counter()
        index = FaceIndex.build(directory, "bench", data.ids, data.vectors, **extra)
        build_s, rss_delta = time.perf_counter() - started, rss_bytes() - before
        started = time.perf_counter()
        index.save()
        save_s = time.perf_counter() - started
        disk = sum(p.stat().st_size for p in directory.iterdir())
        del index
        gc.collect()
        open_rss = open_rss_delta(directory)
        started = time.perf_counter()
        index = FaceIndex.open(directory, "bench", **extra)
        open_s = time.perf_counter() - started
        ids, latency = timed_queries(lambda q: index.search(q, K)[1][0], data.queries)
        latency["batch32_ms"] = batch_ms_per_query(lambda q: index.search(q, K), data.queries)
        mode = index.mode
    return {
        "backend": f"FaceIndex ({mode})",
        "build_s": build_s,
        "save_s": save_s,
        "open_s": open_s,
        "rss_delta_bytes": rss_delta,
        "open_rss_delta_bytes": open_rss,
        "disk_bytes": disk,
        **recall(data, ids),
        **latency,
    }


def open_rss_delta(directory: Path) -> int:
    """RSS added by FaceIndex.open in a fresh process (no allocator memory to reuse)."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "import index_search as b; from facesight.index.face_index import FaceIndex;"
        "before = b.rss_bytes(); index = FaceIndex.open(Path(sys.argv[1]), 'bench');"
        "print(b.rss_bytes() - before)"
    )
    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory), here], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"reopening in a child failed:\n{done.stderr}")
    return int(done.stdout)


def crossover(data: Dataset, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        part = data.subset(size)
        exact = measure_face_index(part, exact_up_to=size)
        ann = measure_face_index(part, exact_up_to=0)
        rows.append(
            {
                "size": size,
                "exact_p50_ms": exact["p50_ms"],
                "exact_p99_ms": exact["p99_ms"],
                "exact_batch32_ms": exact["batch32_ms"],
                "ivf_p50_ms": ann["p50_ms"],
                "ivf_p99_ms": ann["p99_ms"],
                "ivf_batch32_ms": ann["batch32_ms"],
                "ivf_recall@1": ann["recall@1"],
                "ivf_recall@10": ann["recall@10"],
                "ivf_build_s": ann["build_s"],
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def nprobe_sweep(data: Dataset, sizes: list[int], values: list[int]) -> list[dict[str, Any]]:
    """FaceIndex's IVF at each size, searched with each number of lists scanned."""
    import facesight.index.vector_sets as vector_sets
    from facesight.index.face_index import FaceIndex

    rows, default = [], vector_sets.NPROBE
    for size in sizes:
        part = data.subset(size)
        with tempfile.TemporaryDirectory() as tmp:
            index = FaceIndex(Path(tmp), exact_up_to=0)
            index.add(part.ids, part.vectors)
            for value in values:
                vector_sets.NPROBE = value  # the module constant FaceIndex reads per search
                ids, latency = timed_queries(
                    lambda q, ix=index: ix.search(q, K)[1][0], part.queries
                )
                held_out = slice(0, len(part.queries) // 2)
                strangers = Dataset(
                    part.vectors, part.queries[held_out], part.truth_distances[held_out], 0
                )
                rows.append(
                    {
                        "size": size,
                        "nprobe": value,
                        **recall(part, ids),
                        "held_out_recall@1": recall(strangers, ids[held_out])["recall@1"],
                        **latency,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
    vector_sets.NPROBE = default
    return rows


def format_compare(results: list[dict[str, Any]]) -> str:
    lines = [
        "| library | build s | RSS delta MB | disk MB | knob | recall@1 | recall@10 | "
        "p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        head = (
            f"{result['backend']} | {result['build_s']:.0f} | "
            f"{result['rss_delta_bytes'] / 2**20:.0f} | {result['disk_bytes'] / 2**20:.0f}"
        )
        for row in result["sweep"]:
            lines.append(
                f"| {head} | {row['knob']} | {row['recall@1']:.4f} | "
                f"{row['recall@10']:.4f} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} |"
            )
    return "\n".join(lines)


def format_rows(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from facesight.config import resolve_library_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = resolve_library_dir(None) / "cache" / "eval-descriptors.db"
    parser.add_argument("--size", type=int, default=1_000_000, help="stored faces")
    parser.add_argument("--queries", type=int, default=2000, help="half held out, half perturbed")
    parser.add_argument("--cache", type=Path, default=default_cache, help="descriptor cache")
    parser.add_argument("--compare", nargs="*", metavar="SPEC", help=f"e.g. {DEFAULT_SPECS}")
    parser.add_argument("--crossover", action="store_true")
    parser.add_argument("--nprobe", nargs="+", type=int, help="sweep IVF lists scanned")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(run_backend(args.backend, args.data)))
        return
    real = real_descriptors(args.cache)
    data = make_dataset(real, args.size, args.queries)
    report: dict[str, Any] = {
        "size": args.size,
        "queries": len(data.queries),
        "real_descriptors": len(real),
        "sigma": SIGMA,
    }
    if args.compare is not None:
        report["compare"] = in_children(data, args.compare or DEFAULT_SPECS)
        text = format_compare(report["compare"])
    elif args.nprobe:
        sizes = [s for s in CROSSOVER_SIZES if 50_000 <= s <= args.size] or [args.size]
        report["nprobe"] = nprobe_sweep(data, sizes, args.nprobe)
        text = format_rows(report["nprobe"])
    elif args.crossover:
        sizes = [s for s in CROSSOVER_SIZES if s <= args.size]
        report["crossover"] = crossover(data, sizes)
        text = format_rows(report["crossover"])
    else:
        report["results"] = [*in_children(data, ["facesight"]), measure_exact(data)]
        text = format_rows(report["results"])
    print(json.dumps(report, indent=2) if args.json else text)


def measure_exact(data: Dataset, queries: int = 200) -> dict[str, Any]:
    """Exact BLAS search over the whole set (FaceIndex below its threshold), fewer queries."""
    from facesight.index.face_index import FaceIndex

    with tempfile.TemporaryDirectory() as tmp:
        gc.collect()
        before = rss_bytes()
        index = FaceIndex(Path(tmp), exact_up_to=len(data.vectors))
        index.add(data.ids, data.vectors)
        rss_delta = rss_bytes() - before
        part = Dataset(data.vectors, data.queries[:queries], data.truth_distances[:queries], 0)
        ids, latency = timed_queries(lambda q: index.search(q, K)[1][0], part.queries)
        latency["batch32_ms"] = batch_ms_per_query(lambda q: index.search(q, K), part.queries)
    return {
        "backend": "exact BLAS (float32)",
        "build_s": 0.0,
        "save_s": float("nan"),
        "open_s": float("nan"),
        "rss_delta_bytes": rss_delta,
        "open_rss_delta_bytes": 0,
        "disk_bytes": 0,
        **recall(part, ids),
        **latency,
    }


if __name__ == "__main__":
    main()
