"""What a face-descriptor model is: its name, file, preprocessing and distance.

A library describes faces with one *active* model at a time. The shipped one is dlib's
ResNet (:data:`DLIB_MODEL`, built in, calibrated by ``facesight/data/calibration.json``);
a user may register ONNX face-embedding models they supply (``facesight models add``),
each a :class:`ModelSpec` kept in the library's ``models`` table (``store.models``) and
run by ``vision.onnx_embedder.OnnxFaceEmbedder``. Kept in the kernel because the store
writes it, vision runs it and the library chooses it; none of them imports another for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from facesight.errors import InvalidInputError

__all__ = [
    "ARCFACE_PRESET",
    "DLIB_MODEL",
    "Alignment",
    "Metric",
    "ModelSpec",
    "check_model_name",
]

DLIB_MODEL = "dlib"
"""The built-in model's registry name: dlib's ResNet, 150 px chips, Euclidean distance."""


class Alignment(StrEnum):
    """Where the five landmarks are put before the network sees the face."""

    ARCFACE = "arcface"  # the common ArcFace 112 x 112 five-point template (scaled to input)
    DLIB = "dlib"  # dlib's get_face_chip geometry (vision.align.CHIP_KPS5, scaled to input)


class Metric(StrEnum):
    """How two descriptors of a model are compared (``descriptors.pairwise_distances``)."""

    L2 = "l2"  # Euclidean distance
    COSINE = "cosine"  # 1 - cosine similarity, in [0, 2]


ARCFACE_PRESET: dict[str, Any] = {
    "input_px": 112,
    "align": Alignment.ARCFACE,
    "mean": 127.5,
    "std": 127.5,
    "bgr": False,
    "metric": Metric.COSINE,
}
"""``--preset arcface``: the usual ArcFace export: 112 x 112 RGB, (x - 127.5) / 127.5,
five-point template, cosine."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_model_name(name: str) -> str:
    """``name`` when it can name a model (letters, digits, ``_.-``; 1-64), else an error."""
    if not _NAME.match(name):
        raise InvalidInputError(
            f"a model name is 1-64 letters, digits, '_', '.' or '-' (starting with a letter "
            f"or digit), got {name!r}"
        )
    return name


@dataclass(frozen=True)
class ModelSpec:
    """A registered ONNX face-embedding model and how to feed it.

    Attributes:
        name: what the user calls it (``models use NAME``).
        path: the ONNX file, absolute; never copied, never downloaded.
        sha256: the file's content hash when it was registered: a changed file is refused.
        input_px: side of the square chip the network takes (NCHW float32 input).
        align: the landmark template the chip is cut to.
        mean, std: each channel value becomes ``(x - mean) / std`` (x in 0-255).
        bgr: feed channels as BGR (many InsightFace exports) instead of RGB.
        metric: how descriptors are compared.
        length: the number of values the model outputs per face (read from the model).
        calibration: the model's impostor tables (``ReferenceCalibration.to_json``), or
            None: uncalibrated, so nothing is matched automatically.
        added_at: when it was registered (UTC, ISO 8601).
    """

    name: str
    path: str
    sha256: str
    input_px: int
    align: Alignment
    mean: float
    std: float
    bgr: bool
    metric: Metric
    length: int
    calibration: dict[str, Any] | None = None
    added_at: str = ""

    def __post_init__(self) -> None:
        check_model_name(self.name)
        if not 16 <= self.input_px <= 1024:
            raise InvalidInputError(f"--input must be 16-1024 pixels, got {self.input_px}")
        if not self.std > 0:
            raise InvalidInputError(f"--std must be positive, got {self.std}")
        if self.length < 2:
            raise InvalidInputError(f"a descriptor has at least 2 values, got {self.length}")
        object.__setattr__(self, "align", Alignment(self.align))
        object.__setattr__(self, "metric", Metric(self.metric))

    @property
    def version(self) -> str:
        """The model's version as stored beside its descriptors: name and file hash."""
        return f"{self.name}:{self.sha256[:12]}"

    def calibration_text(self) -> str | None:
        """The calibration as stored (JSON text), or None."""
        return None if self.calibration is None else json.dumps(self.calibration)
