"""Keeping the index of stored faces (``<library>/index/``) in step with the database.

The index is a cache of the store's descriptors: faces stored since it was saved are
added; an index that is missing, damaged, of another descriptor version or holding faces
the database no longer has is rebuilt from the store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facesight.descriptors import EMBEDDING_DIM
from facesight.errors import StaleIndexError
from facesight.index.face_index import FaceIndex
from facesight.store.sqlite import Store

__all__ = ["catch_up", "synced_face_index"]

_TIES = 8
"""Nearest faces looked at to find a face itself among its exact copies."""


def synced_face_index(
    store: Store, directory: Path, version: str, dim: int = EMBEDDING_DIM
) -> FaceIndex:
    """The index of the faces ``store`` holds described by ``version`` (``dim`` values
    each: the model's length), opened from ``directory`` and brought in step (saved when
    faces were added, else rebuilt)."""
    count, max_id = store.face_count(version)
    try:
        index = FaceIndex.open(directory, version, dim=dim)
    except StaleIndexError:
        return _rebuild(store, directory, version, dim)
    new_ids, new_vectors, _ = store.face_embeddings(version, after_id=index.max_id)
    if len(index) + len(new_ids) != count or (len(new_ids) and new_ids[-1] != max_id):
        return _rebuild(store, directory, version, dim)  # faces were deleted or replaced
    if not _holds_newest(store, index, version):
        return _rebuild(store, directory, version, dim)  # an id was reused for another face
    if len(new_ids):
        index.add(new_ids, new_vectors)
        index.save()
    return index


def catch_up(store: Store, index: FaceIndex, version: str, max_id: int) -> int | None:
    """Add to ``index`` (in memory) the faces stored after ``max_id``, the largest id it
    holds; returns the new largest id, or None when the newest faces it holds are no
    longer themselves (rebuild it with :func:`synced_face_index`).

    Unlike :func:`synced_face_index` it counts nothing: its queries walk the newest
    rows only (a few milliseconds at 1,000,000 faces), so a search request may call it.
    Faces deleted below the top stay in the index until met: a search drops the ids the
    database no longer has.
    """
    # SQLite gives a new row the largest id + 1, so a reused id is always the newest row at
    # or under ``max_id``: one row tells (a full sync looks at 16)
    if not _holds_newest(store, index, version, max_id, rows=1):
        return None
    new_ids, new_vectors, _ = store.face_embeddings(version, after_id=max_id)
    if len(new_ids):
        index.add(new_ids, new_vectors)
        return int(new_ids[-1])
    return max_id


def _holds_newest(
    store: Store, index: FaceIndex, version: str, max_id: int | None = None, rows: int = 16
) -> bool:
    """Whether the newest faces the index should hold come back as themselves.

    SQLite hands a deleted top id to the next row, so replaced faces can keep
    the count and the largest id: their vectors tell.
    """
    top = index.max_id if max_id is None else max_id
    ids, vectors = store.newest_face_embeddings(version, top, rows)
    if len(ids) == 0:
        return True
    # a few nearest, not one: the same picture stored twice (a JPEG and its TIFF copy) gives
    # two faces at distance 0, and either may come first
    distances, found = index.search(vectors, _TIES)
    itself = (found == ids[:, None]) & (distances < 1e-3)
    return bool(np.all(itself.any(axis=1)))


def _rebuild(store: Store, directory: Path, version: str, dim: int) -> FaceIndex:
    ids, vectors, _ = store.face_embeddings(version)
    if len(ids) == 0:
        vectors = vectors.reshape(0, dim)
    return FaceIndex.build(directory, version, ids, vectors, dim=dim)
