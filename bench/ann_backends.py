"""The candidate nearest-neighbour libraries behind one small interface, for index_search.py.

Each adapter builds from (ids, vectors), takes one search knob (HNSW ``ef`` or IVF
``nprobe``), answers single queries with ids, and saves itself so its size on disk can be
read. Distances are Euclidean on the 128-d float32 descriptors (every library is given
squared L2, which ranks the same).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

THREADS = os.cpu_count() or 1


class Backend(Protocol):
    name: str
    knob: str

    def build(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None: ...
    def tune(self, value: int) -> None: ...
    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]: ...
    def save(self, path: Path) -> int: ...


class HnswlibBackend:
    knob = "ef"

    def __init__(self, m: int, ef_construction: int) -> None:
        self.name = f"hnswlib M={m} efC={ef_construction}"
        self.m, self.ef_construction = m, ef_construction

    def build(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="l2", dim=vectors.shape[1])
        self.index.init_index(len(ids), M=self.m, ef_construction=self.ef_construction)
        self.index.set_num_threads(THREADS)
        self.index.add_items(vectors, ids)
        self.index.set_num_threads(1)

    def tune(self, value: int) -> None:
        self.index.set_ef(value)

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        labels, _ = self.index.knn_query(query, k=k)
        return labels[0].astype(np.int64)

    def save(self, path: Path) -> int:
        self.index.save_index(str(path))
        return path.stat().st_size


class UsearchBackend:
    knob = "ef"

    def __init__(self, m: int, ef_construction: int, dtype: str = "f32") -> None:
        self.name = f"usearch M={m} efC={ef_construction} {dtype}"
        self.m, self.ef_construction, self.dtype = m, ef_construction, dtype

    def build(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        from usearch.index import Index

        self.index = Index(
            ndim=vectors.shape[1],
            metric="l2sq",
            dtype=self.dtype,
            connectivity=self.m,
            expansion_add=self.ef_construction,
        )
        self.index.add(ids.astype(np.uint64), vectors, threads=THREADS)

    def tune(self, value: int) -> None:
        self.index.expansion_search = value

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        found = self.index.search(query[0], k, threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    def save(self, path: Path) -> int:
        self.index.save(str(path))
        return path.stat().st_size


class FaissHnswBackend:
    knob = "ef"

    def __init__(self, m: int, ef_construction: int) -> None:
        self.name = f"faiss HNSWFlat M={m} efC={ef_construction}"
        self.m, self.ef_construction = m, ef_construction

    def build(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        import faiss

        faiss.omp_set_num_threads(THREADS)
        self.hnsw = faiss.IndexHNSWFlat(vectors.shape[1], self.m)
        self.hnsw.hnsw.efConstruction = self.ef_construction
        self.index = faiss.IndexIDMap2(self.hnsw)
        self.index.add_with_ids(vectors, ids)
        faiss.omp_set_num_threads(1)

    def tune(self, value: int) -> None:
        self.hnsw.hnsw.efSearch = value

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        _, labels = self.index.search(query, k)
        return np.asarray(labels[0], dtype=np.int64)

    def save(self, path: Path) -> int:
        import faiss

        faiss.write_index(self.index, str(path))
        return path.stat().st_size


class FaissIvfBackend:
    knob = "nprobe"

    def __init__(self, nlist: int) -> None:
        self.name = f"faiss IVFFlat nlist={nlist}"
        self.nlist = nlist

    def build(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        import faiss

        faiss.omp_set_num_threads(THREADS)
        quantizer = faiss.IndexFlatL2(vectors.shape[1])
        self.index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], self.nlist)
        count = min(len(vectors), 50 * self.nlist)
        sample = np.random.default_rng(0).choice(len(vectors), count, replace=False)
        self.index.train(vectors[np.sort(sample)])
        self.index.add_with_ids(vectors, ids)
        self.quantizer = quantizer  # faiss does not own it from Python
        faiss.omp_set_num_threads(1)

    def tune(self, value: int) -> None:
        self.index.nprobe = value

    def search(self, query: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        _, labels = self.index.search(query, k)
        return np.asarray(labels[0], dtype=np.int64)

    def save(self, path: Path) -> int:
        import faiss

        faiss.write_index(self.index, str(path))
        return path.stat().st_size


def make_backend(spec: str) -> Backend:
    """``hnswlib:16:128``, ``usearch:16:128[:f16]``, ``faiss-hnsw:16:128``, ``faiss-ivf:4096``."""
    kind, *numbers = spec.split(":")
    if kind == "hnswlib":
        return HnswlibBackend(int(numbers[0]), int(numbers[1]))
    if kind == "usearch":
        dtype = numbers[2] if len(numbers) > 2 else "f32"
        return UsearchBackend(int(numbers[0]), int(numbers[1]), dtype)
    if kind == "faiss-hnsw":
        return FaissHnswBackend(int(numbers[0]), int(numbers[1]))
    if kind == "faiss-ivf":
        return FaissIvfBackend(int(numbers[0]))
    raise SystemExit(f"unknown backend {spec!r}")
