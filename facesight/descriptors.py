"""The descriptor contract the layers share: size, length, fusing, distances, the gallery.

``vision.embed`` makes descriptors of ``EMBEDDING_DIM`` numbers (a registered model's
have its own length) scaled to ``DESCRIPTOR_LENGTH``; ``vision.track`` fuses a track's
``FUSED_FACES`` best faces with :func:`fuse`; ``store`` hands enrolled references back as a
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

from facesight.errors import InvalidInputError
from facesight.face_models import Metric

__all__ = [
    "DESCRIPTOR_LENGTH",
    "EMBEDDING_DIM",
    "FUSED_FACES",
    "Gallery",
    "NearestFaces",
    "Templates",
    "from_euclidean",
    "fuse",
    "pairwise_distances",
]

EMBEDDING_DIM = 128
"""Length of one descriptor of the built-in dlib model (a registered model's is its
``ModelSpec.length``)."""

DESCRIPTOR_LENGTH = 1.43
"""Euclidean length given to every stored descriptor, of every model: the median length
of dlib's raw descriptors on lfw-dev (1.430; flip-averaged 1.426), so distances keep
dlib's scale and its customary 0.6 threshold keeps its meaning (see
:meth:`FaceEmbedder.describe`)."""

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


def pairwise_distances(
    a: NDArray[np.float32], b: NDArray[np.float32], metric: str = Metric.L2
) -> NDArray[np.float32]:
    """(n, m) distances between rows of (n, d) ``a`` and (m, d) ``b`` (BLAS).

    ``metric``: ``l2`` (Euclidean, dlib's) or ``cosine`` (1 - cosine similarity, in
    [0, 2]; a registered model's choice, ``face_models.Metric``).
    """
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if metric == Metric.COSINE:
        a64 = a64 / np.maximum(np.linalg.norm(a64, axis=1, keepdims=True), 1e-12)
        b64 = b64 / np.maximum(np.linalg.norm(b64, axis=1, keepdims=True), 1e-12)
        cosine: NDArray[np.float32] = np.clip(1.0 - a64 @ b64.T, 0.0, 2.0).astype(np.float32)
        return cosine
    if metric != Metric.L2:
        raise InvalidInputError(f"a distance is 'l2' or 'cosine', not {metric!r}")
    squared = (a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :] - 2.0 * (a64 @ b64.T)
    result: NDArray[np.float32] = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
    return result


def from_euclidean(distances: NDArray[np.float32], metric: str) -> NDArray[np.float32]:
    """Euclidean distances between stored descriptors (the face index's) in ``metric``.

    Every stored descriptor has length ``DESCRIPTOR_LENGTH``, so 1 - cos = d^2 / (2 L^2)
    exactly.
    """
    if metric == Metric.COSINE:
        converted: NDArray[np.float32] = (
            np.asarray(distances, np.float64) ** 2 / (2 * DESCRIPTOR_LENGTH**2)
        ).astype(np.float32)
        return converted
    return distances


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
        metric: how the model that made ``embeddings`` compares them.
    """

    embeddings: NDArray[np.float32]
    person_ids: NDArray[np.int64]
    person_names: list[str]
    reference_ids: NDArray[np.int64]
    reference_paths: list[str]
    metric: str = Metric.L2

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
            vectors=(
                np.stack(vectors)
                if vectors
                else np.zeros((0, self.embeddings.shape[-1]), np.float32)
            ),
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
        distances = pairwise_distances(templates.vectors, self.embeddings, self.metric)
        distances = distances.astype(np.float64)
        other = templates.person_ids[:, None] != self.person_ids[None, :]
        sizes = np.broadcast_to(templates.sizes[:, None], distances.shape)
        return distances[other], sizes[other]
