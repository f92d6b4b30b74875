"""The PyTorch translations against ONNX Runtime on real faces, and device selection.

The GPU path runs the same parsed weights in PyTorch; on this CPU-only machine the same
modules run on the CPU (``device="torch-cpu"``), and must give ONNX Runtime's numbers.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from numpy.typing import NDArray
from onnx import TensorProto, helper
from PIL import Image

from facesight.errors import DeviceError, InvalidInputError, ModelError
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector, _network_input, _plan_windows
from facesight.vision.device import Backend, resolve_device
from facesight.vision.embed import FaceEmbedder
from facesight.vision.models.onnx import create_session
from facesight.vision.models.registry import retinaface_onnx_bytes
from facesight.vision.models.torch_dlib_resnet import load_torch_dlib_resnet
from facesight.vision.models.torch_retinaface import TorchOnnxGraph, read_onnx_graph
from facesight.vision.models.torch_session import TorchSession

from .paths import GROUP, PEOPLE

# measured on the dev machine: 3e-7 (descriptor), 2e-5 (RetinaFace loc / landmarks)
MAX_DESCRIPTOR_DIFF = 1e-4
MAX_RAW_DIFF = {"loc": 1e-3, "conf": 1e-4, "landmarks": 1e-3}
# measured: 3.3e-4 on descriptors of length ~1.43 (dlib's 0.6 threshold is 1,800x that)
MAX_FP16_DESCRIPTOR_DIFF = 2e-3
NO_GPU = not torch.cuda.is_available() and "CUDAExecutionProvider" not in (
    ort.get_available_providers()
)


def _rgb(path: Path) -> NDArray[np.uint8]:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def chips(detector: FaceDetector) -> NDArray[np.uint8]:
    """Aligned chips of the faces in ten photos of different people, sizes and lighting."""
    found = []
    for path in sorted(PEOPLE.glob("*/*.jpg"))[::6][:10]:
        image = _rgb(path)
        found.append(align_faces(image, detector.detect(image).kps5))
    stacked = np.concatenate(found)
    assert len(stacked) >= 8
    return stacked


@pytest.fixture(scope="module")
def torch_embedder() -> FaceEmbedder:
    return FaceEmbedder(device="torch-cpu")


def test_torch_descriptor_equals_onnxruntime_on_real_chips(
    chips: NDArray[np.uint8], embedder_fp32: FaceEmbedder
) -> None:
    session = TorchSession(load_torch_dlib_resnet(), name="dlib_resnet")
    (ours,) = session.run(chips)
    assert ours.dtype == np.float32 and ours.shape == (len(chips), 128)
    assert np.abs(ours - embedder_fp32.embed(chips)).max() < MAX_DESCRIPTOR_DIFF


def test_torch_descriptor_fp16_on_cpu_stays_close_to_fp32(
    chips: NDArray[np.uint8], embedder_fp32: FaceEmbedder
) -> None:
    session = TorchSession(load_torch_dlib_resnet(), name="dlib_resnet", half=True)
    (half,) = session.run(chips[:4])
    assert session.provider == "torch:cpu fp16"
    assert np.abs(half - embedder_fp32.embed(chips[:4])).max() < MAX_FP16_DESCRIPTOR_DIFF


def test_describe_on_torch_cpu_matches_onnxruntime(
    chips: NDArray[np.uint8], embedder_fp32: FaceEmbedder, torch_embedder: FaceEmbedder
) -> None:
    ours = torch_embedder.describe(chips)
    assert np.abs(ours - embedder_fp32.describe(chips)).max() < MAX_DESCRIPTOR_DIFF
    assert torch_embedder.provider == "torch:cpu fp32"
    assert embedder_fp32.provider == "onnxruntime:CPUExecutionProvider"
    assert torch_embedder.descriptor_version == embedder_fp32.descriptor_version


def test_torch_retinaface_raw_outputs_equal_onnxruntime(detector_fp32: FaceDetector) -> None:
    image = _rgb(GROUP / "deepface_selfie-many-people.jpg")
    window = _plan_windows(image.shape[0], image.shape[1], detector_fp32.max_side_px)[0]
    batch = np.empty((2, 3, *window.input_hw), np.float32)
    for row in batch:
        _network_input(image, window, row)
    ours = TorchSession(TorchOnnxGraph(read_onnx_graph(retinaface_onnx_bytes())), name="r")
    detector_fp32.load()
    for name, got, want in zip(
        MAX_RAW_DIFF, ours.run(batch), detector_fp32._run(batch), strict=True
    ):
        assert got.shape == want.shape
        assert np.abs(got - want).max() < MAX_RAW_DIFF[name], name


def test_detect_on_torch_cpu_finds_the_same_faces(detector_fp32: FaceDetector) -> None:
    image = _rgb(GROUP / "facenet-pytorch_multiface.jpg")
    ours = FaceDetector(device="torch-cpu").detect(image)
    theirs = detector_fp32.detect(image)
    assert len(ours) == len(theirs) == 6
    assert np.abs(ours.xyxy - theirs.xyxy).max() < 0.05
    assert np.abs(ours.score - theirs.score).max() < 1e-4


def test_interpreter_refuses_an_operator_it_does_not_run() -> None:
    value = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    node = helper.make_node("Sigmoid", ["x"], ["y"])
    model = helper.make_model(helper.make_graph([node], "g", value[:1], value[1:]))
    with pytest.raises(ModelError, match=r"Sigmoid .* supported operators \(Add, Cast, Concat"):
        TorchOnnxGraph(read_onnx_graph(model.SerializeToString()))


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_cuda_without_gpu_raises_device_error_naming_the_fixes() -> None:
    with pytest.raises(DeviceError) as caught:
        resolve_device("cuda")
    message = str(caught.value)
    for expected in ("onnxruntime", "PyTorch", "pip install onnxruntime-gpu", "device='cpu'"):
        assert expected in message
    with pytest.raises(DeviceError, match="asked for a GPU but none works"):
        FaceEmbedder(device="cuda").embed(np.zeros((1, 150, 150, 3), np.uint8))
    with pytest.raises(DeviceError, match="asked for a GPU but none works"):
        FaceDetector(device="cuda").detect(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_onnxruntime_never_falls_back_to_cpu_silently() -> None:
    with pytest.raises(DeviceError, match="cannot run the probe model on CUDAExecutionProvider"):
        create_session(retinaface_onnx_bytes(), name="probe", providers=["CUDAExecutionProvider"])


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_auto_without_gpu_uses_openvino_on_the_cpu_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="facesight"):
        device = resolve_device("auto")
    assert (device.backend, device.name) == (Backend.OPENVINO, "openvino:CPU")
    assert "found no NVIDIA driver" in caplog.text or "found no usable GPU" in caplog.text
    assert "device='auto' runs the models on openvino:CPU" in caplog.text


def test_cpu_without_openvino_uses_onnxruntime_and_logs_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with caplog.at_level(logging.INFO, logger="facesight"):
        device = resolve_device("cpu")
    assert device.name == "onnxruntime:CPUExecutionProvider"
    assert "OpenVINO cannot be imported" in caplog.text


def test_cpu_fp32_is_onnxruntime_in_float32() -> None:
    device = resolve_device("cpu-fp32")
    assert (device.backend, device.name) == (
        Backend.ONNXRUNTIME,
        "onnxruntime:CPUExecutionProvider",
    )


def test_unknown_device_is_invalid_input() -> None:
    choices = "device must be one of 'auto', 'cpu', 'cpu-fp32', 'cuda'"
    with pytest.raises(InvalidInputError, match=choices):
        FaceEmbedder(device="gpu")
    with pytest.raises(InvalidInputError, match="got 'cuda:1'"):
        FaceDetector(device="cuda:1")


def test_torch_descriptor_imports_with_only_numpy_and_torch() -> None:
    # the lent GPU machines may lack onnx, onnxruntime and pillow: bench/gpu_throughput.py
    # then imports our model modules without running facesight/__init__.py
    code = """
import sys, types
for blocked in ("onnx", "onnxruntime", "PIL"):
    sys.modules[blocked] = None
package = types.ModuleType("facesight")
package.__path__ = [sys.argv[1]]
sys.modules["facesight"] = package
from facesight.vision.models.torch_dlib_resnet import load_torch_dlib_resnet
from facesight.vision.models.torch_session import TorchSession
print(type(load_torch_dlib_resnet()).__name__)
"""
    root = Path(__file__).resolve().parents[1] / "facesight"
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TorchDlibResNet"
