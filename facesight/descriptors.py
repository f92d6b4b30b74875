"""The descriptor contract the layers share: size, length, fusing, distances, the gallery.

``vision.embed`` makes descriptors of ``EMBEDDING_DIM`` numbers scaled to
``DESCRIPTOR_LENGTH``; ``vision.track`` fuses a track's ``FUSED_FACES`` best
faces with :func:`fuse`; ``store`` hands enrolled references back as a
:class:`Gallery`; ``identity.match`` compares them with
:func:`pairwise_distances`. Kept in the kernel (numpy only) so that none of
those layers has to import another for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DESCRIPTOR_LENGTH",
    "EMBEDDING_DIM",
    "FUSED_FACES",
    "Gallery",
    "NearestFaces",
    "Templates",
    "fuse",
    "pairwise_distances",
]

EMBEDDING_DIM = 128
"""Length of one face descriptor."""

DESCRIPTOR_LENGTH = 1.43
"""Euclidean length given to every stored descriptor: the median length of dlib's raw
descriptors on lfw-dev (1.430; flip-averaged 1.426), so distances keep dlib's scale and
its customary 0.6 threshold keeps its meaning (see :meth:`FaceEmbedder.describe`)."""

FUSED_FACES = 3
"""A track is identified from the centroid of its this many best-quality faces."""


class NearestFaces(Protocol):
    """A search of stored faces: ``index.face_index.FaceIndex`` (faiss files, a SQLite
    library) or ``store.postgres_search.VectorSearch`` (pgvector, a PostgreSQL one)."""

    def __len__(self) -> int: ...

    def search(
        self, vectors: NDArray[np.float32], k: int = 10
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(q, k) Euclidean distances, nearest first, and face ids (padded inf / -1)."""
        ...


def fuse(embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
    """One template from (k, d) reference descriptors: their centroid at descriptor length."""
    mean = np.asarray(embeddings, np.float64).mean(axis=0)
    length = max(float(np.linalg.norm(mean)), 1e-12)
    fused: NDArray[np.float32] = (mean / length * DESCRIPTOR_LENGTH).astype(np.float32)
    return fused


def pairwise_distances(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """(n, m) Euclidean distances between rows of (n, d) ``a`` and (m, d) ``b`` (BLAS)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    squared = (a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :] - 2.0 * (a64 @ b64.T)
    result: NDArray[np.float32] = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
    return result


@dataclass(frozen=True)
class Templates:
    """One fused template per person, parallel arrays in person order."""

    person_ids: NDArray[np.int64]
    names: list[str]
    vectors: NDArray[np.float32]
    sizes: NDArray[np.int64]


@dataclass(frozen=True)
class Gallery:
    """Enrolled references as parallel arrays (one row per reference image).

    Attributes:
        embeddings: (r, d) float32 reference descriptors.
        person_ids: (r,) int64 owner of each reference.
        person_names: r names, parallel to ``person_ids``.
        reference_ids: (r,) int64 store ids of the references.
        reference_paths: r source image paths.
    """

    embeddings: NDArray[np.float32]
    person_ids: NDArray[np.int64]
    person_names: list[str]
    reference_ids: NDArray[np.int64]
    reference_paths: list[str]

    def __len__(self) -> int:
        return len(self.person_ids)

    @property
    def people_count(self) -> int:
        return len(np.unique(self.person_ids))

    def templates(self) -> Templates:
        """Each person's fused template, in order of first appearance (computed once)."""
        return self._templates

    @cached_property
    def _templates(self) -> Templates:
        ids, first = np.unique(self.person_ids, return_index=True)
        order = np.argsort(first)
        ids = ids[order]
        vectors = [fuse(self.embeddings[self.person_ids == i]) for i in ids]
        return Templates(
            person_ids=ids.astype(np.int64),
            names=[self.person_names[int(first[j])] for j in order],
            vectors=np.stack(vectors) if vectors else np.zeros((0, 128), np.float32),
            sizes=np.array([(self.person_ids == i).sum() for i in ids], dtype=np.int64),
        )

    def cross_person_distances(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Distances from each template to every reference of the *other* people.

        Returns the distances and, parallel to them, the template's size: the
        gallery's own impostor comparisons, for ``calibrate.gallery_factor``.
        """
        templates = self.templates()
        if len(templates.person_ids) < 2:
            return np.zeros(0), np.zeros(0, np.int64)
        distances = pairwise_distances(templates.vectors, self.embeddings).astype(np.float64)
        other = templates.person_ids[:, None] != self.person_ids[None, :]
        sizes = np.broadcast_to(templates.sizes[:, None], distances.shape)
        return distances[other], sizes[other]
