"""Nearest stored faces: exact BLAS search for small sets, a faiss IVF index beyond.

Chosen by measurement (``docs/index.md``, ``bench/index_search.py``). On 1M descriptors
made from real faces (lfw-dev and the shared images plus perturbed copies), the HNSW
graphs of faiss, hnswlib and usearch stop near recall@1 0.93 against exact search: a
collection holds many photos of each person, so stored faces form tight clusters, and
a query near several clusters (a stranger) fills the search queue with one of them.
An inverted-file index (faiss ``IVF<lists>,Flat``) scans whole k-means lists, so it
sees every face of the clusters it visits: recall@1 1.000 at 1M (64 of 4096 lists
scanned, p99 about 1.5 ms per query, vectors kept as exact float32).

Modes (:class:`IndexMode`). Up to ``exact_up_to`` faces the vectors are one float32
matrix and a search is one matrix product (exact, nothing to train). The ``add`` that
takes the index past ``exact_up_to`` trains the IVF lists (k-means into about
4*sqrt(n) lists, at least 40 faces each) on every face held and moves them in; later
adds go straight into their lists, and when the index has grown enough for twice as
many lists (about 4x) an add trains it again (0.1 s at 10k faces, 4 s at 100k, about
90 s at 1M), so lists stay short. The mode never goes back on removal: the IVF index
stays correct at any size.

Removal deletes the vectors themselves, not only their ids (the matrix row is
overwritten, the IVF entry leaves its list): a forgotten face is gone from memory at
once and from disk at the next :meth:`FaceIndex.save`.

Files, in ``directory`` (e.g. ``<library>/index/``): ``manifest.json`` (format,
descriptor version, mode, count, max id, sha256 of the sorted ids, data file name,
size and sha256) and one data file, ``faces-<token>.npz`` (exact) or
``faces-<token>.faiss`` (IVF); see :mod:`facesight.index.files`. ``open`` checks the
manifest against what the caller read from the database, the data file against its
sha256 (a truncated or damaged file is never parsed) and the loaded ids against the
manifest; any mismatch or read error is a :class:`~facesight.errors.StaleIndexError`,
and the caller rebuilds.

Keeping it in sync with the SQLite ``faces`` table (ids are ``faces.id``, vectors its
``embedding``, for media whose ``embedder`` is the version in use): after the
transaction that inserts faces commits, ``add`` them; after one that deletes faces
(forget person, rescan, removed media) commits, ``remove`` their ids; ``save`` after
a batch (a scan, an erasure) and on close. At start-up call ``open_or_build`` with
``SELECT COUNT(*), IFNULL(MAX(id), 0)`` over those faces and a ``load`` that reads
them all: a crash between a commit and ``save``, a database changed by another
program or a new descriptor version then rebuilds the index from the table. SQLite
gives a deleted top id to the next row, so a delete plus an insert can keep the count
and max id: also pass the 16 newest rows as ``spot_check`` (or ``checksum_ids`` of
every id) to catch that.

Threads: every method holds the index's lock, so one ``FaceIndex`` may be shared by
threads; searches then run one at a time (about 1 ms each at 1M faces) and wait for
an ``add`` that retrains or a ``save`` (about 3 s at 1M). Processes: one process
writes a directory at a time; readers in other processes see the last completed
``save`` (one that races a save may find the old data file gone: open again).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import zipfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError, StaleIndexError, StoreError
from facesight.files import sha256_file
from facesight.index.files import (
    DATA_PREFIX,
    MANIFEST,
    fsync_directory,
    remove_other_data_files,
    write_atomically,
)
from facesight.index.vector_sets import ExactSet, IvfSet, lists_for

__all__ = ["DEFAULT_EXACT_UP_TO", "FaceIndex", "IndexMode"]

#: Exact search up to this many faces: where IVF gets faster (``bench/index_search.py
#: --crossover``, docs/index.md).
DEFAULT_EXACT_UP_TO = 10_000
FORMAT = 1
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile)

FaceRows = tuple[NDArray[np.int64], NDArray[np.float32]]


class IndexMode(StrEnum):
    """How a :class:`FaceIndex` searches: ``exact`` (one BLAS product) or ``ivf`` (faiss)."""

    EXACT = "exact"
    IVF = "ivf"


class FaceIndex:
    """Stored face descriptors by id, searchable by Euclidean distance.

    Args:
        directory: where ``save`` writes the index (created when needed).
        dim: descriptor length (128 for the dlib ResNet descriptor).
        exact_up_to: search exactly while the index holds at most this many faces; the
            add that goes past it builds the IVF index. Exact search is perfect and
            needs no training, but its cost grows with the count (about 0.017 ms per
            1000 faces per query on 2 cores) while IVF stays at 0.2-0.5 ms up to 200k
            faces and about 1.2 ms at 1M, finding the true nearest face for 997 to
            1000 queries in 1000. The default is where the two cross (measured
            between 10k and 20k faces, single queries and batches of 32).
        version: descriptor version the vectors come from (``FaceEmbedder.
            descriptor_version``), written to the manifest so that vectors of another
            model are never searched together.
    """

    def __init__(
        self,
        directory: Path,
        *,
        dim: int = 128,
        exact_up_to: int = DEFAULT_EXACT_UP_TO,
        version: str = "",
    ) -> None:
        if dim < 1:
            raise InvalidInputError(f"dim must be at least 1, got {dim}")
        if exact_up_to < 0:
            raise InvalidInputError(f"exact_up_to must be >= 0, got {exact_up_to}")
        self.directory = Path(directory)
        self.dim = dim
        self.exact_up_to = exact_up_to
        self.version = version
        #: Why ``open_or_build`` rebuilt this index (None: it was opened as saved).
        self.rebuilt_because: str | None = None
        self._set: ExactSet | IvfSet = ExactSet(dim)
        self._trained_lists = 0
        self._lock = threading.RLock()

    # -- building and opening ---------------------------------------------------------

    @classmethod
    def build(
        cls,
        directory: Path,
        version: str,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        *,
        dim: int = 128,
        exact_up_to: int = DEFAULT_EXACT_UP_TO,
    ) -> FaceIndex:
        """A new index of ``ids`` (n,) int64 and ``vectors`` (n, dim) float32, saved."""
        index = cls(directory, dim=dim, exact_up_to=exact_up_to, version=version)
        index.add(ids, vectors)
        index.save()
        return index

    @classmethod
    def open(
        cls,
        directory: Path,
        version: str,
        *,
        expected_count: int | None = None,
        expected_max_id: int | None = None,
        expected_checksum: str | None = None,
        spot_check: FaceRows | None = None,
        dim: int = 128,
        exact_up_to: int = DEFAULT_EXACT_UP_TO,
    ) -> FaceIndex:
        """The index saved in ``directory``, if it matches what the database holds.

        Args:
            version: the descriptor version the caller searches with.
            expected_count: number of stored faces in the database (None: not checked).
            expected_max_id: their largest id, 0 when there are none (None: not checked).
            expected_checksum: ``FaceIndex.checksum_ids`` of every id (None: not checked).
            spot_check: (ids, vectors) rows read from the database, e.g. the 16 newest;
                each must be in the index with the same vector.

        Raises:
            StaleIndexError: no index, another version, a count, id or vector that
                differs, or a file that is damaged or cannot be read.
        """
        index = cls(directory, dim=dim, exact_up_to=exact_up_to, version=version)
        manifest = index._load()
        wanted = {"count": expected_count, "max_id": expected_max_id}
        for key, value in wanted.items():
            if value is not None and manifest[key] != value:
                raise StaleIndexError(
                    directory, f"{key} is {manifest[key]}, the database has {value}"
                )
        if expected_checksum is not None and manifest["ids_sha256"] != expected_checksum:
            raise StaleIndexError(directory, "the ids differ from the database's")
        if spot_check is not None:
            index._spot_check(*spot_check)
        return index

    @classmethod
    def open_or_build(
        cls,
        directory: Path,
        version: str,
        *,
        expected_count: int,
        expected_max_id: int,
        load: Callable[[], FaceRows],
        expected_checksum: str | None = None,
        spot_check: FaceRows | None = None,
        dim: int = 128,
        exact_up_to: int = DEFAULT_EXACT_UP_TO,
    ) -> FaceIndex:
        """``open``, or when that finds the index stale, ``build`` from ``load()``.

        ``load`` returns every stored (ids, vectors) of ``version`` and is only called
        when a rebuild is needed; the reason is kept in ``rebuilt_because``.
        """
        try:
            return cls.open(
                directory,
                version,
                expected_count=expected_count,
                expected_max_id=expected_max_id,
                expected_checksum=expected_checksum,
                spot_check=spot_check,
                dim=dim,
                exact_up_to=exact_up_to,
            )
        except StaleIndexError as stale:
            ids, vectors = load()
            index = cls.build(directory, version, ids, vectors, dim=dim, exact_up_to=exact_up_to)
            index.rebuilt_because = stale.reason
            return index

    # -- contents ---------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._set.count

    @property
    def mode(self) -> IndexMode:
        """``exact`` while at most ``exact_up_to`` faces have been held, then ``ivf``."""
        with self._lock:
            return IndexMode.EXACT if isinstance(self._set, ExactSet) else IndexMode.IVF

    def ids(self) -> NDArray[np.int64]:
        """(n,) int64: every id held, ascending."""
        with self._lock:
            return np.sort(self._set.keys())

    @property
    def max_id(self) -> int:
        """The largest id held, 0 when empty (as ``IFNULL(MAX(id), 0)`` in SQLite)."""
        ids = self.ids()
        return int(ids[-1]) if len(ids) else 0

    @staticmethod
    def checksum_ids(ids: NDArray[np.int64]) -> str:
        """sha256 (hex) of the sorted, distinct ids: the same set gives the same value."""
        unique = np.unique(np.asarray(ids, np.int64)).astype("<i8")
        return hashlib.sha256(unique.tobytes()).hexdigest()

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add (n,) int64 ``ids`` >= 0 with their (n, dim) float32 ``vectors``.

        An id already held gets the new vector. The add that takes the index past
        ``exact_up_to`` builds the IVF index; one that finds it ~4x larger than when it
        was trained trains it again (seconds to a minute: see the module docstring).
        """
        keys = _check_ids(ids)
        rows = _check_vectors(vectors, self.dim, len(keys))
        with self._lock:
            grown = self._set.count + len(keys)
            if isinstance(self._set, ExactSet) and grown > self.exact_up_to:
                held_ids, held_vectors = self._set.items()
                self._train(np.concatenate([held_ids, keys]), np.concatenate([held_vectors, rows]))
            elif isinstance(self._set, IvfSet) and lists_for(grown) >= 2 * self._trained_lists:
                self._set.add(keys, rows)
                self._train(*self._set.items())
            else:
                self._set.add(keys, rows)

    def _train(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        # The held set is replaced only once training has worked: a failure loses nothing.
        # The same id twice (held, then added again) keeps its last vector.
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        self._set = IvfSet.train(ids[keep], vectors[keep])
        self._trained_lists = self._set.lists

    def remove(self, ids: NDArray[np.int64]) -> int:
        """Delete the faces ``ids`` (vectors included); returns how many were held.

        Ids that are not held are ignored, so an interrupted erasure can be repeated.
        """
        keys = _check_ids(ids, unique=False)
        with self._lock:
            return self._set.remove(keys)

    def search(
        self, vectors: NDArray[np.float32], k: int = 10
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The ``k`` stored faces nearest each of (q, dim) ``vectors``.

        Returns:
            (q, k) float32 Euclidean distances, nearest first, and (q, k) int64 ids;
            rows are padded with ``inf`` / ``-1`` when fewer than ``k`` faces are held.
        """
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        queries = _check_vectors(vectors, self.dim, None)
        with self._lock:
            squared, found = self._set.search(queries, k)
        return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32), found

    # -- persistence ------------------------------------------------------------------

    def save(self) -> None:
        """Write the index and its manifest to ``directory``, atomically.

        Raises:
            StoreError: the directory cannot be written (permissions, disk full).
        """
        with self._lock:
            ids = self.ids()
            suffix = ".npz" if isinstance(self._set, ExactSet) else ".faiss"
            name = f"{DATA_PREFIX}{secrets.token_hex(8)}{suffix}"
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                data_bytes, data_sha256 = write_atomically(self.directory / name, self._set.write)
                manifest = {
                    "format": FORMAT,
                    "version": self.version,
                    "dim": self.dim,
                    "mode": self.mode.value,
                    "count": len(ids),
                    "max_id": int(ids[-1]) if len(ids) else 0,
                    "ids_sha256": self.checksum_ids(ids),
                    "data": name,
                    "data_bytes": data_bytes,
                    "data_sha256": data_sha256,
                }
                text = json.dumps(manifest, indent=2).encode()
                write_atomically(self.directory / MANIFEST, lambda p: p.write_bytes(text))
                fsync_directory(self.directory)
            except OSError as exc:
                raise StoreError(
                    f"cannot save the face index in {self.directory}: {exc}; "
                    "check the free space and permissions"
                ) from exc
            remove_other_data_files(self.directory, keep=name)

    def _load(self) -> dict[str, Any]:
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text())
        except FileNotFoundError:
            raise StaleIndexError(self.directory, "there is no saved index") from None
        except _READ_ERRORS as exc:
            raise StaleIndexError(self.directory, f"the manifest cannot be read: {exc}") from exc
        problem = _manifest_problem(manifest, self.version, self.dim)
        if problem:
            raise StaleIndexError(self.directory, problem)
        path = self.directory / manifest["data"]
        try:
            if path.stat().st_size != manifest["data_bytes"] or (
                sha256_file(path) != manifest["data_sha256"]
            ):
                raise StaleIndexError(self.directory, f"{path.name} is damaged (checksum)")
            reader = ExactSet if manifest["mode"] == IndexMode.EXACT else IvfSet
            self._set = reader.read(path, self.dim)
        except _READ_ERRORS as exc:
            raise StaleIndexError(self.directory, f"{path.name} cannot be read: {exc}") from exc
        self._trained_lists = self._set.lists if isinstance(self._set, IvfSet) else 0
        if self.checksum_ids(self.ids()) != manifest["ids_sha256"]:
            raise StaleIndexError(self.directory, "the data file does not hold the manifest's ids")
        return dict(manifest)

    def _spot_check(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        keys = _check_ids(ids, unique=False)
        expected = _check_vectors(vectors, self.dim, len(keys))
        held = self._set.get(keys) if len(keys) else expected
        if held is None or not np.allclose(held, expected, rtol=0.0, atol=1e-6):
            raise StaleIndexError(self.directory, "a spot-checked face differs from the database")


def _manifest_problem(manifest: Any, version: str, dim: int) -> str | None:
    fields = {
        "format": int,
        "version": str,
        "dim": int,
        "mode": str,
        "count": int,
        "max_id": int,
        "ids_sha256": str,
        "data": str,
        "data_bytes": int,
        "data_sha256": str,
    }
    if not isinstance(manifest, dict) or any(
        not isinstance(manifest.get(key), kind) for key, kind in fields.items()
    ):
        return "the manifest is malformed"
    if manifest["format"] != FORMAT:
        return f"format {manifest['format']} is not {FORMAT}"
    if manifest["version"] != version:
        return f"it holds descriptors of {manifest['version']!r}, not {version!r}"
    if manifest["dim"] != dim:
        return f"it holds {manifest['dim']}-d vectors, not {dim}-d"
    if manifest["mode"] not in set(IndexMode):
        return f"unknown mode {manifest['mode']!r}"
    name = manifest["data"]
    if not name.startswith(DATA_PREFIX) or Path(name).name != name:
        return f"the data file name {name!r} is not one facesight writes"
    return None


def _check_ids(ids: NDArray[np.int64], *, unique: bool = True) -> NDArray[np.int64]:
    array = np.asarray(ids)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise InvalidInputError(f"ids must be a 1-d integer array, got {array.dtype} {array.shape}")
    keys = np.ascontiguousarray(array, np.int64)
    if len(keys) and keys.min() < 0:
        raise InvalidInputError("ids must be >= 0 (faiss uses -1 for 'no result')")
    if unique and len(np.unique(keys)) != len(keys):
        raise InvalidInputError("ids must be distinct within one call")
    return keys


def _check_vectors(
    vectors: NDArray[np.float32], dim: int, count: int | None
) -> NDArray[np.float32]:
    array = np.asarray(vectors)
    rows = array.shape[0] if array.ndim == 2 else -1
    if array.ndim != 2 or array.shape[1] != dim or (count is not None and rows != count):
        wanted = f"({'n' if count is None else count}, {dim})"
        raise InvalidInputError(
            f"vectors must have shape {wanted}, got {array.shape}; one vector v is v[None]"
        )
    result = np.ascontiguousarray(array, np.float32)
    if not np.isfinite(result).all():
        raise InvalidInputError("vectors must be finite (found NaN or inf)")
    return result
