"""The one interface every inference backend offers the model classes.

``FaceEmbedder`` and ``FaceDetector`` hold a :class:`ModelSession` and never know
whether ONNX Runtime (:class:`facesight.vision.models.onnx.OrtSession`) or PyTorch
(:class:`facesight.vision.models.torch_session.TorchSession`) runs behind it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["ModelSession"]


class ModelSession(Protocol):
    """A loaded network: one batch in, its outputs out, on whatever device it lives."""

    @property
    def provider(self) -> str:
        """What runs the network: ``onnxruntime:CPUExecutionProvider``, ``torch:cuda:0 fp16``..."""
        ...

    def run(self, batch: NDArray[Any]) -> list[NDArray[np.float32]]:
        """Run one batch (the network's single input) and return its outputs as float32.

        Raises whatever the backend raises; callers map it to ``ModelError``.
        """
        ...
