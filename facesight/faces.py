"""``Faces``: the core data type every stage takes and returns.

Modelled on supervision's ``Detections``: parallel arrays, one row per face,
indexable by an integer, a slice or a boolean mask (``faces[faces.score > 0.9]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.errors import InvalidInputError

__all__ = ["Faces", "box_iou"]


def box_iou(boxes: NDArray[np.float32], box: NDArray[np.float32]) -> NDArray[np.float64]:
    """Intersection over union of each of (n, 4) x1 y1 x2 y2 ``boxes`` with one ``box``."""
    top_left = np.maximum(boxes[:, :2], box[:2])
    bottom_right = np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    own = float(np.prod(np.clip(box[2:] - box[:2], 0, None)))
    result: NDArray[np.float64] = (inter / np.maximum(area + own - inter, 1e-9)).astype(np.float64)
    return result


def _check_shape(name: str, array: NDArray[Any], shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(
        want is None or got == want for got, want in zip(array.shape, shape, strict=True)
    )
    if not ok:
        wanted = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise InvalidInputError(f"Faces.{name} must have shape {wanted}, got {array.shape}")


@dataclass(frozen=True)
class Faces:
    """Faces found in one image, as parallel arrays of length ``n``.

    Attributes:
        xyxy: (n, 4) float32 boxes in pixels of the source image, x1 y1 x2 y2.
        score: (n,) float32 detector confidence in [0, 1].
        kps5: (n, 5, 2) float32 landmarks in pixels, in RetinaFace's order: the
            subject's right eye, left eye, nose tip, right mouth corner, left
            mouth corner (for an upright face seen from the front: image-left
            eye first, then image-right eye, nose, image-left mouth corner,
            image-right mouth corner).
        embedding: (n, d) float32 descriptors, or None before the embed stage.
    """

    xyxy: NDArray[np.float32]
    score: NDArray[np.float32]
    kps5: NDArray[np.float32]
    embedding: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = len(self.score)
        _check_shape("xyxy", self.xyxy, (n, 4))
        _check_shape("score", self.score, (n,))
        _check_shape("kps5", self.kps5, (n, 5, 2))
        if self.embedding is not None:
            _check_shape("embedding", self.embedding, (n, None))

    @classmethod
    def empty(cls) -> Faces:
        """No faces: the result for an image where nothing was found."""
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            score=np.zeros((0,), np.float32),
            kps5=np.zeros((0, 5, 2), np.float32),
        )

    def __len__(self) -> int:
        return len(self.score)

    def __getitem__(self, index: int | slice | NDArray[Any] | list[int]) -> Faces:
        if isinstance(index, int):
            index = [index]
        return Faces(
            xyxy=self.xyxy[index],
            score=self.score[index],
            kps5=self.kps5[index],
            embedding=None if self.embedding is None else self.embedding[index],
        )

    @property
    def width_px(self) -> NDArray[np.float32]:
        """(n,) box widths in pixels."""
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height_px(self) -> NDArray[np.float32]:
        """(n,) box heights in pixels."""
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    def with_embedding(self, embedding: NDArray[np.float32]) -> Faces:
        """A copy of these faces carrying (n, d) descriptors."""
        return Faces(self.xyxy, self.score, self.kps5, embedding.astype(np.float32, copy=False))

    @classmethod
    def concatenate(cls, parts: list[Faces]) -> Faces:
        """Join several ``Faces`` (e.g. from image tiles) into one."""
        if not parts:
            return cls.empty()
        embeddings = [p.embedding for p in parts]
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            score=np.concatenate([p.score for p in parts]).astype(np.float32),
            kps5=np.concatenate([p.kps5 for p in parts]).astype(np.float32),
            embedding=None
            if any(e is None for e in embeddings)
            else np.concatenate([e for e in embeddings if e is not None]),
        )
