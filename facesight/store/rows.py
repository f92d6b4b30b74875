"""The rows the store reads and writes, and how vectors are stored.

Vectors are little-endian float32 BLOBs. A descriptor is stored only when finite, of
``EMBEDDING_DIM`` values and of length ``DESCRIPTOR_LENGTH`` (issue 13); the embedder
version is stored beside it (``media.embedder``, ``reference_faces.embedder``), which is
how a second model of another length would be told apart (see ``store.protocol``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.clock import utc_now_iso
from facesight.descriptors import DESCRIPTOR_LENGTH, EMBEDDING_DIM
from facesight.errors import StoreError
from facesight.records import Candidate

__all__ = [
    "DescriptorBlob",
    "FaceRow",
    "MatchRule",
    "MediaRow",
    "Place",
    "ReferenceRow",
    "ReviewCarry",
    "blob",
    "descriptor_blob",
    "now",
    "or_nan",
    "query",
    "vector",
]

Place = tuple[tuple[float, float, float, float], float | None, float | None]
ReviewCarry = Callable[[Sequence[Place], Sequence[Place]], list[int | None]]
"""The rule that says which new face each reviewed old face of re-analysed content is
(``identity.carry.carry_reviews``): given the old and the new faces' places (box; start
and end seconds of a video track), the index of the new face, or None."""


now = utc_now_iso
"""UTC now to the second (``facesight.clock``), as every row stores it."""


def blob(array: NDArray[Any]) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


class DescriptorBlob(bytes):
    """A descriptor's little-endian float32 bytes: a BLOB in SQLite, a pgvector ``vector``
    in PostgreSQL (``store.postgres_connection`` writes and reads it as such)."""


def descriptor_blob(embedding: NDArray[Any]) -> DescriptorBlob:
    """A descriptor as stored, refused unless finite, of ``EMBEDDING_DIM`` values and of
    length ``DESCRIPTOR_LENGTH``: a damaged model must not fill the library with
    descriptors that match everyone (issue 13)."""
    vector = np.asarray(embedding, np.float64)
    length = float(np.linalg.norm(vector)) if vector.size else 0.0
    if vector.shape != (EMBEDDING_DIM,) or not np.isfinite(length):
        raise StoreError(
            f"refusing to store a descriptor of shape {vector.shape} that is not finite or "
            f"not {EMBEDDING_DIM} values; run `facesight doctor`"
        )
    if abs(length - DESCRIPTOR_LENGTH) > 0.01 * DESCRIPTOR_LENGTH:
        raise StoreError(
            f"refusing to store a descriptor of length {length:.3f}, expected "
            f"{DESCRIPTOR_LENGTH}: the model cache may be damaged; run `facesight doctor`"
        )
    return DescriptorBlob(blob(vector))


def query(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Run a read-only query and return rows addressable by column name."""
    cursor = conn.execute(sql, params)
    cursor.row_factory = sqlite3.Row
    return list(cursor.fetchall())


def or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def vector(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


@dataclass(frozen=True)
class MatchRule:
    """Which stored candidates count as matches: ``column <= limit``.

    ``fmr`` with the calibrated per-person level, or ``distance`` with a
    fixed decision distance.
    """

    column: str
    limit: float

    def __post_init__(self) -> None:
        if self.column not in ("fmr", "distance"):
            raise ValueError(f"a match rule compares fmr or distance, not {self.column!r}")


@dataclass(frozen=True)
class ReferenceRow:
    """A reference face to store for a person."""

    source_path: str
    source_sha256: str
    xyxy: NDArray[np.float32]
    kps5: NDArray[np.float32]
    score: float
    embedding: NDArray[np.float32]
    warnings: str
    detector: str
    embedder: str
    quality: float | None = None


@dataclass(frozen=True)
class MediaRow:
    """A scanned media file's metadata."""

    sha256: str
    kind: str
    width_px: int
    height_px: int
    captured_at: str | None
    gps: tuple[float, float] | None
    face_count: int
    detector: str
    embedder: str
    duration_s: float | None = None


@dataclass(frozen=True)
class FaceRow:
    """One detected face of a media file, with its ranked candidates.

    For a video, one face stands for a whole track: ``frame`` and ``time_s``
    are its best frame's, ``start_s`` / ``end_s`` the track's first and last
    sampled frames, ``frames_seen`` how many sampled frames it was found in.
    """

    frame: int | None
    face_index: int
    xyxy: NDArray[np.float32]
    kps5: NDArray[np.float32]
    score: float
    embedding: NDArray[np.float32]
    crop_path: str | None
    candidates: Sequence[Candidate]
    quality: float | None = None
    quality_reasons: str = ""
    time_s: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    frames_seen: int | None = None
