"""A user's ONNX face-embedding model: chips cut to its template, its descriptors out.

``facesight models add`` registers a model the user supplies (``face_models.ModelSpec``);
this module inspects it (:func:`inspect_onnx_model`: one NCHW image input, one vector
output whose length is read from the model) and runs it (:class:`OnnxFaceEmbedder`).
Nothing is ever downloaded, and the file is hashed on every load: a file changed since it
was registered is refused (its descriptors would no longer be comparable with the
stored ones).

Chips are cut as dlib's are (a least-squares similarity transform of the five
RetinaFace landmarks onto a template, ``align.similarity_transform``), to either the
common ArcFace 112 x 112 template (:data:`ARCFACE_KPS5`) or dlib's chip geometry
(``align.CHIP_KPS5``), scaled to the model's input side, and sampled bilinearly. The
dlib geometry at 150 px reuses the pipeline's own chips (dlib's resampling, exactly).
Descriptors are scaled to ``DESCRIPTOR_LENGTH``, as dlib's are, so the store's length
check and the face index hold for every model; a cosine model's distances do not
depend on that length. Unlike dlib's descriptors they are not flip-averaged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.descriptors import DESCRIPTOR_LENGTH
from facesight.errors import DeviceError, InvalidInputError, ModelError
from facesight.face_models import Alignment, ModelSpec
from facesight.vision.align import CHIP_KPS5, CHIP_PX, similarity_transform
from facesight.vision.device import Backend, Device, DeviceChoice, check_device
from facesight.vision.lazy_model import LazyModel
from facesight.vision.models.session import ModelSession

__all__ = ["ARCFACE_KPS5", "OnnxFaceEmbedder", "inspect_onnx_model", "template_chips"]

ARCFACE_KPS5 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
"""(5, 2) the standard ArcFace 112 x 112 five-point template (InsightFace's
``arcface_dst``): eyes, nose tip, mouth corners, in the order of ``Faces.kps5``."""

ARCFACE_PX = 112


def template_for(spec: ModelSpec) -> NDArray[np.float32]:
    """(5, 2) the landmark template of ``spec``'s alignment, in its input's pixels."""
    if spec.align == Alignment.ARCFACE:
        base, side = ARCFACE_KPS5, ARCFACE_PX
    else:
        base, side = CHIP_KPS5, CHIP_PX
    # pixel centres at integers: scale about the chip's corner (-0.5, -0.5)
    scaled: NDArray[np.float32] = ((base + 0.5) * (spec.input_px / side) - 0.5).astype(np.float32)
    return scaled


def template_chips(
    image: NDArray[np.uint8], kps5: NDArray[np.float32], template: NDArray[np.float32], side: int
) -> NDArray[np.uint8]:
    """(n, side, side, 3) uint8 chips, each face's landmarks taken to ``template``.

    Args:
        image: (H, W, 3) uint8 RGB.
        kps5: (n, 5, 2) landmarks in image pixels.
        template: (5, 2) where they go in the chip (pixel centres at integers).
        side: the chip's side in pixels.
    """
    chips = np.zeros((len(kps5), side, side, 3), np.uint8)
    source = Image.fromarray(np.ascontiguousarray(image))
    for index, points in enumerate(np.asarray(kps5, np.float32)):
        matrix = similarity_transform(template, points)  # chip -> image
        coeffs = matrix.copy()
        # Pillow samples at pixel centres (+0.5) in both images, as in align.warp_chip
        coeffs[:, 2] += 0.5 - 0.5 * matrix[:, :2].sum(axis=1)
        chip = source.transform(
            (side, side),
            Image.Transform.AFFINE,
            data=tuple(coeffs.ravel()),
            resample=Image.Resampling.BILINEAR,
        )
        chips[index] = np.asarray(chip, np.uint8)
    return chips


def inspect_onnx_model(path: Path, input_px: int) -> int:
    """The descriptor length of the ONNX model at ``path``, after checking its input.

    The input must be one float image batch, NCHW with 3 channels (its height and width
    ``input_px`` or free); the first output's last dimension is the length, or, when the
    model leaves it free, the length of what it gives for one blank chip.

    Raises:
        ModelError: the file is not an ONNX model this can feed, or fails to run.
    """
    from facesight.vision.models.onnx import create_session

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    session = create_session(data, name=Path(path).name, intra_op_threads=1)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or not outputs:
        raise ModelError(f"{path}: a face-embedding model has one input, got {len(inputs)}")
    shape = list(inputs[0].shape)
    fixed = [d for d in shape[2:] if isinstance(d, int)]
    if len(shape) != 4 or shape[1] != 3 or any(d != input_px for d in fixed):
        raise ModelError(
            f"{path}: the model's input is {shape}, expected [batch, 3, {input_px}, {input_px}] "
            "(NCHW float32); set --input to its side"
        )
    blank = np.zeros((1, 3, input_px, input_px), np.float32)
    try:
        out = np.asarray(session.run([outputs[0].name], {inputs[0].name: blank})[0])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{path}: the model fails on a {input_px} px chip: {exc}") from exc
    if out.ndim != 2 or out.shape[0] != 1 or out.shape[1] < 2:
        raise ModelError(
            f"{path}: the model's output has shape {out.shape}, expected (batch, length)"
        )
    return int(out.shape[1])


class OnnxFaceEmbedder(LazyModel):
    """Turns faces into a registered model's descriptors (see the module docstring).

    Offers what ``FacePipeline`` asks of a descriptor model, as ``FaceEmbedder`` does:
    :meth:`chips_for`, :meth:`describe`, ``descriptor_version``, ``metric`` and ``spec``.

    Args:
        spec: the registered model.
        intra_op_threads, batch_size, device: as ``FaceEmbedder``'s; a registered model
            runs in ONNX Runtime only (on ``cuda`` it needs onnxruntime-gpu).
        cache_dir: unused (nothing is converted); kept so both models build alike.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        intra_op_threads: int = 0,
        batch_size: int = 32,
        device: str = "cpu",
        cache_dir: Path | None = None,
    ) -> None:
        if intra_op_threads < 0:
            raise InvalidInputError(f"intra_op_threads must be >= 0, got {intra_op_threads}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        check_device(device)
        self.spec = spec
        self.intra_op_threads = intra_op_threads
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.metric = str(spec.metric)
        self._template = template_for(spec)
        super().__init__(device)

    def _open(self, device: Device) -> tuple[ModelSession, str]:
        from facesight.vision.models.onnx import OrtSession, create_session

        try:
            data = Path(self.spec.path).read_bytes()
        except OSError as exc:
            raise ModelError(
                f"{self.spec.path}: the model file of {self.spec.name!r} cannot be read "
                f"({exc.strerror}); put it back or register another model"
            ) from exc
        # hash the bytes that will run, so a file swapped after the check cannot slip in
        digest = _sha256_bytes(data)
        if digest != self.spec.sha256:
            raise ModelError(
                f"{self.spec.path}: the model file of {self.spec.name!r} has changed since it "
                f"was registered (sha256 {digest[:12]}, registered {self.spec.sha256[:12]}); "
                "its descriptors would not compare with the stored ones: restore the file, or "
                "register the new one under another name (facesight models add)"
            )
        providers = self._providers(device)
        session = create_session(
            data, name=self.spec.name, intra_op_threads=self.intra_op_threads, providers=providers
        )
        inputs = session.get_inputs()
        output = session.get_outputs()[0].name
        return OrtSession(session, inputs[0].name, [output]), self.spec.version

    def _providers(self, device: Device) -> list[str]:
        if device.backend in (Backend.ONNXRUNTIME, Backend.OPENVINO):
            return device.ort_providers  # bfloat16 is measured for dlib's model only
        if self.device == DeviceChoice.AUTO:  # a GPU that works only in PyTorch: not for us
            return ["CPUExecutionProvider"]
        raise DeviceError(
            f"the registered model {self.spec.name!r} runs only in ONNX Runtime, not on "
            f"{device.name}; install onnxruntime-gpu for a GPU, or ask for device='cpu'"
        )

    @property
    def descriptor_version(self) -> str:
        """Names what :meth:`describe` returns: the model and the stored length."""
        return f"{self.spec.version}+len{DESCRIPTOR_LENGTH}"

    def chips_for(
        self, pixels: NDArray[np.uint8], kps5: NDArray[np.float32], dlib_chips: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        """(n, input, input, 3) uint8 RGB chips in the model's geometry."""
        if self.spec.align == Alignment.DLIB and self.spec.input_px == CHIP_PX:
            return dlib_chips
        return template_chips(pixels, kps5, self._template, self.spec.input_px)

    def describe(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(n, length) float32 descriptors of length ``DESCRIPTOR_LENGTH``.

        Args:
            chips: (n, input, input, 3) uint8 RGB chips from :meth:`chips_for`; n may be 0.

        Raises:
            ModelError: the model fails, or gives descriptors that are not finite, of
                another length than registered, or zero.
        """
        side = self.spec.input_px
        if chips.ndim != 4 or chips.shape[1:] != (side, side, 3) or chips.dtype != np.uint8:
            raise InvalidInputError(
                f"chips must be (n, {side}, {side}, 3) uint8, got {chips.shape} {chips.dtype}"
            )
        if len(chips) == 0:
            return np.zeros((0, self.spec.length), np.float32)
        self.load()
        raw = np.concatenate(
            [
                self._run(chips[start : start + self.batch_size])
                for start in range(0, len(chips), self.batch_size)
            ]
        )
        norms = np.linalg.norm(raw.astype(np.float64), axis=1, keepdims=True)
        if raw.shape[1] != self.spec.length or not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ModelError(
                f"the model {self.spec.name!r} gave descriptors of shape {raw.shape} that are not "
                f"finite, zero, or not {self.spec.length} values long"
            )
        described: NDArray[np.float32] = (raw / norms * DESCRIPTOR_LENGTH).astype(np.float32)
        return described

    def _run(self, batch: NDArray[np.uint8]) -> NDArray[np.float32]:
        pixels = batch[..., ::-1] if self.spec.bgr else batch
        tensor = (pixels.astype(np.float32) - self.spec.mean) / self.spec.std
        nchw = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))
        (out,) = self._run_session(nchw, f"the model {self.spec.name!r} on {len(batch)} chips")
        return out.reshape(len(batch), -1)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
