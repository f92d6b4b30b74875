"""The descriptor models a pipeline can run: dlib's built-in one or a registered ONNX one.

``FacePipeline`` asks a :class:`DescriptorModel` for its chips and descriptors and
never knows which it holds; :func:`make_embedder` builds the right one from a
``face_models.ModelSpec`` (None: the built-in dlib model), in this process or in a
scan's worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

import numpy as np
from numpy.typing import NDArray

from facesight.face_models import ModelSpec
from facesight.vision.embed import FaceEmbedder
from facesight.vision.onnx_embedder import OnnxFaceEmbedder

__all__ = ["DescriptorModel", "make_embedder"]


class DescriptorModel(Protocol):
    """What a pipeline asks of a descriptor model (``FaceEmbedder``, ``OnnxFaceEmbedder``)."""

    @property
    def spec(self) -> ModelSpec | None: ...

    @property
    def metric(self) -> str: ...

    @property
    def cache_dir(self) -> Path | None: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def device(self) -> str: ...

    @property
    def descriptor_version(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    @property
    def provider(self) -> str: ...

    def unloaded_copy(self) -> Self: ...
    def load(self) -> None: ...

    def chips_for(
        self, pixels: NDArray[np.uint8], kps5: NDArray[np.float32], dlib_chips: NDArray[np.uint8]
    ) -> NDArray[np.uint8]: ...

    def describe(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]: ...


def make_embedder(
    spec: ModelSpec | None,
    *,
    cache_dir: Path | None = None,
    intra_op_threads: int = 0,
    batch_size: int = 32,
    device: str = "cpu",
) -> DescriptorModel:
    """The descriptor model ``spec`` names (None: dlib's), not loaded yet."""
    if spec is None:
        return FaceEmbedder(
            cache_dir, intra_op_threads=intra_op_threads, batch_size=batch_size, device=device
        )
    return OnnxFaceEmbedder(
        spec,
        cache_dir=cache_dir,
        intra_op_threads=intra_op_threads,
        batch_size=batch_size,
        device=device,
    )
