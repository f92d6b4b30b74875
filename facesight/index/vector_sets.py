"""The two ways FaceIndex holds vectors: an exact float32 matrix and a faiss IVF index.

Both map int64 ids to (d,) float32 vectors, replace the vector of an id that is added
again, *delete* removed vectors (they are not only hidden: the exact matrix overwrites
the row, the IVF index takes the entry out of its list), search by squared Euclidean
distance and give back every (id, vector) they hold. Neither is thread-safe on its own:
FaceIndex serialises access.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
from numpy.typing import NDArray

__all__ = ["ExactSet", "IvfSet", "lists_for"]

# faiss ships a stub (faiss/__init__.pyi) that covers little of the SWIG API used here
# (IndexIVF.cp, DirectMap, SearchParametersIVF keywords): use the module untyped.
faiss: Any = _faiss

# faiss's k-means asks for >= 39 training points per list (it warns on stderr below that);
# it is trained on up to TRAIN_SAMPLE_PER_LIST per list (a sample, for speed).
TRAIN_POINTS_PER_LIST = 40
TRAIN_SAMPLE_PER_LIST = 50
# 10 Lloyd iterations instead of faiss's 25: 2.5x faster training for no measurable
# change in recall (bench/index_search.py --compare).
KMEANS_ITERATIONS = 10
# Lists scanned per query, measured on descriptors from real faces (docs/index.md):
# 1M faces in 4096 lists: 32 -> recall@1 1.000; 50k-200k faces (fewer photos per person,
# so less clustered) in 1024-2048 lists: 32 -> 0.992-0.995, 64 -> 0.997-0.998. 64 keeps
# every size above the 0.99 target with margin, at about 2 ms p99 at 1M.
NPROBE = 64
# Query rows per matrix product in exact search: bounds the (rows, n) distance block.
_EXACT_BLOCK = 1 << 24


def lists_for(count: int) -> int:
    """IVF lists for ``count`` vectors: the power of two nearest 4*sqrt(count), at most
    count/40 (enough training points per list), at least 1."""
    wanted = 1 << round(math.log2(max(4.0 * math.sqrt(max(count, 1)), 1.0)))
    trainable = 1 << int(math.log2(max(count // TRAIN_POINTS_PER_LIST, 1)))
    return max(1, min(wanted, trainable))


class ExactSet:
    """Vectors in one growable float32 matrix, searched by one BLAS product per block.

    Removing an id moves the last row into its place and zeroes the old last row, so
    the removed vector is really gone from memory.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.count = 0
        self._ids = np.empty(0, np.int64)
        self._vectors = np.zeros((0, dim), np.float32)
        self._norms = np.empty(0, np.float32)
        self._rows: dict[int, int] = {}

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        self.remove(ids)
        end = self.count + len(ids)
        if end > len(self._ids):
            self._grow(max(end, 2 * len(self._ids), 1024))
        self._ids[self.count : end] = ids
        self._vectors[self.count : end] = vectors
        self._norms[self.count : end] = np.einsum("ij,ij->i", vectors, vectors)
        self._rows.update(zip(ids.tolist(), range(self.count, end), strict=True))
        self.count = end

    def _grow(self, capacity: int) -> None:
        ids = np.full(capacity, -1, np.int64)
        vectors = np.zeros((capacity, self.dim), np.float32)
        norms = np.zeros(capacity, np.float32)
        ids[: self.count] = self._ids[: self.count]
        vectors[: self.count] = self._vectors[: self.count]
        norms[: self.count] = self._norms[: self.count]
        self._ids, self._vectors, self._norms = ids, vectors, norms

    def remove(self, ids: NDArray[np.int64]) -> int:
        removed = 0
        for key in ids.tolist():
            row = self._rows.pop(key, None)
            if row is None:
                continue
            last = self.count - 1
            if row != last:
                self._ids[row] = self._ids[last]
                self._vectors[row] = self._vectors[last]
                self._norms[row] = self._norms[last]
                self._rows[int(self._ids[row])] = row
            self._ids[last], self._vectors[last], self._norms[last] = -1, 0.0, 0.0
            self.count = last
            removed += 1
        return removed

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(q, k) squared distances and ids, nearest first, padded with inf / -1."""
        squared = np.full((len(queries), k), np.inf, np.float32)
        found = np.full((len(queries), k), -1, np.int64)
        if self.count == 0:
            return squared, found
        step = max(1, _EXACT_BLOCK // self.count)
        for start in range(0, len(queries), step):
            block = slice(start, start + step)
            squared[block, : min(k, self.count)], found[block, : min(k, self.count)] = (
                self._search_block(queries[block], k)
            )
        return squared, found

    def _search_block(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        n = self.count
        # |q|^2 is the same for every row of a query, so it is left out of the ranking.
        scores = self._norms[:n][None, :] - 2.0 * (queries @ self._vectors[:n].T)
        if k < n:
            rows = np.argpartition(scores, k - 1, axis=1)[:, :k]
        else:
            rows = np.broadcast_to(np.arange(n), (len(queries), n))
        # The few chosen distances again in float64: exact, and free of the cancellation
        # in |q|^2 + |x|^2 - 2 q.x.
        differences = self._vectors[rows].astype(np.float64) - queries[:, None, :]
        squared = np.einsum("qkd,qkd->qk", differences, differences)
        order = np.argsort(squared, axis=1, kind="stable")
        best = np.take_along_axis(rows, order, 1)
        return np.take_along_axis(squared, order, 1).astype(np.float32), self._ids[best]

    def get(self, ids: NDArray[np.int64]) -> NDArray[np.float32] | None:
        """The vectors of ``ids``, or None when one of them is not held."""
        rows = [self._rows.get(key) for key in ids.tolist()]
        if any(row is None for row in rows):
            return None
        return self._vectors[np.array(rows, np.int64)].copy()

    def keys(self) -> NDArray[np.int64]:
        return self._ids[: self.count].copy()

    def items(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        return self._ids[: self.count].copy(), self._vectors[: self.count].copy()

    def write(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez(file, ids=self._ids[: self.count], vectors=self._vectors[: self.count])

    @classmethod
    def read(cls, path: Path, dim: int) -> ExactSet:
        with np.load(path, allow_pickle=False) as saved:
            ids, vectors = saved["ids"], saved["vectors"]
        if ids.dtype != np.int64 or vectors.dtype != np.float32 or vectors.shape != (len(ids), dim):
            raise ValueError(f"unexpected arrays {ids.dtype} {vectors.dtype} {vectors.shape}")
        exact = cls(dim)
        exact.add(ids, vectors)
        return exact


def _fill_lists(index: Any, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
    """Put every vector in its list with one allocation per list.

    ``add_with_ids`` appends entry by entry, so each list's storage doubles as it grows
    and the heap keeps the freed pieces: 1.08 GB of RSS for 1M faces, against 0.63 GB
    for the same index read from its file. Assigning all vectors first and writing
    each list in one call gets close to the latter.
    """
    _, assigned = index.quantizer.search(vectors, 1)
    order = np.argsort(assigned[:, 0], kind="stable")
    counts = np.bincount(assigned[:, 0], minlength=index.nlist)
    rows, keys = np.ascontiguousarray(vectors[order]), np.ascontiguousarray(ids[order])
    start = 0
    for number, count in enumerate(counts.tolist()):
        if count:
            codes = rows[start : start + count].view(np.uint8)
            index.invlists.add_entries(
                number, count, faiss.swig_ptr(keys[start : start + count]), faiss.swig_ptr(codes)
            )
            start += count
    index.ntotal = len(keys)  # what IndexIVF.add_core would have counted


class IvfSet:
    """A faiss ``IVF<lists>,Flat`` index: k-means lists of raw float32 vectors.

    A query scans the ``NPROBE`` lists whose centres are nearest, comparing full
    vectors, so the distances it returns are exact; only a neighbour in an unscanned
    list can be missed. A hash-table direct map makes remove and get O(1) per id.
    """

    def __init__(self, index: Any) -> None:
        self.index = index

    @classmethod
    def train(cls, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> IvfSet:
        """Train ``lists_for(len(ids))`` lists on (a sample of) ``vectors``, then add all."""
        lists = lists_for(len(ids))
        index = faiss.index_factory(vectors.shape[1], f"IVF{lists},Flat")
        index.cp.niter = KMEANS_ITERATIONS
        index.cp.seed = 1234
        index.cp.min_points_per_centroid = 1  # lists_for keeps 40 per list; no stderr warning
        sample_size = min(len(vectors), TRAIN_SAMPLE_PER_LIST * lists)
        sample = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
        index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
        _fill_lists(index, ids, vectors)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # built from the lists
        return cls(index)

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def lists(self) -> int:
        return int(self.index.nlist)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        self.remove(ids)  # faiss would keep both copies of an id added twice
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: NDArray[np.int64]) -> int:
        keys = np.ascontiguousarray(ids, np.int64)
        return int(self.index.remove_ids(faiss.IDSelectorArray(len(keys), faiss.swig_ptr(keys))))

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        params = faiss.SearchParametersIVF(nprobe=min(NPROBE, self.lists))
        squared, found = self.index.search(queries, k, params=params)
        found = np.asarray(found, np.int64)
        squared = np.where(found >= 0, np.asarray(squared, np.float32), np.float32(np.inf))
        return squared.astype(np.float32), found

    def get(self, ids: NDArray[np.int64]) -> NDArray[np.float32] | None:
        try:
            return np.stack([self.index.reconstruct(int(key)) for key in ids.tolist()])
        except RuntimeError:  # faiss: the id is not in the direct map
            return None

    def keys(self) -> NDArray[np.int64]:
        lists, found = self.index.invlists, [np.empty(0, np.int64)]
        for number in range(self.lists):
            size = int(lists.list_size(number))
            if size:
                found.append(np.array(faiss.rev_swig_ptr(lists.get_ids(number), size), np.int64))
        return np.concatenate(found)

    def items(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        dim, lists = int(self.index.d), self.index.invlists
        all_ids, all_vectors = [np.empty(0, np.int64)], [np.empty((0, dim), np.float32)]
        for number in range(self.lists):
            size = int(lists.list_size(number))
            if size:
                ids = faiss.rev_swig_ptr(lists.get_ids(number), size)
                codes = faiss.rev_swig_ptr(lists.get_codes(number), size * dim * 4)
                all_ids.append(np.array(ids, np.int64))
                all_vectors.append(np.array(codes).view(np.float32).reshape(size, dim))
        return np.concatenate(all_ids), np.concatenate(all_vectors)

    def write(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def read(cls, path: Path, dim: int) -> IvfSet:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIVFFlat) or int(index.d) != dim:
            raise ValueError(f"not an IVF-Flat index of dimension {dim}")
        if index.direct_map.type != faiss.DirectMap.Hashtable:
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index)
