"""Choose where the networks run: OpenVINO or ONNX Runtime on the CPU, ONNX Runtime or
PyTorch on CUDA.

``device`` is one of :data:`DEVICE_CHOICES`:

* ``"cpu"`` — OpenVINO on the CPU (:mod:`facesight.vision.models.openvino`): on CPUs
  with Intel AMX the descriptor network runs in bfloat16, about five times faster than
  float32, its descriptors within 0.012 of the float32 ones (dlib's threshold is 0.6;
  measured in docs/speed.md); elsewhere in float32. Without the ``openvino`` package,
  ONNX Runtime's CPU provider;
* ``"cpu-fp32"`` — ONNX Runtime's CPU provider in float32: dlib's own descriptors to
  about 1e-6, the reference the tests check against;
* ``"cuda"`` — a GPU, or a :class:`~facesight.errors.DeviceError`: ONNX Runtime's
  ``CUDAExecutionProvider`` when ``onnxruntime-gpu`` is installed *and* starts (ONNX
  Runtime otherwise falls back to the CPU without a word, so it is tried on a tiny
  graph first), else PyTorch (``pip install 'facesight[gpu]'``) when it sees a CUDA
  device, running the same weights through :mod:`facesight.vision.models.torch_dlib_resnet`
  and :mod:`facesight.vision.models.torch_retinaface`; never a silent CPU fallback;
* ``"auto"`` — ``"cuda"`` when it works, else ``"cpu"``;
* ``"torch-cpu"`` — the PyTorch path on the CPU: slower than ONNX Runtime, there to
  test the PyTorch translation on machines without a GPU.

The choice is logged on the ``facesight`` logger (INFO), with why a GPU was passed over.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from facesight.defaults import DeviceChoice
from facesight.errors import DeviceError, InvalidInputError

__all__ = [
    "DEVICE_CHOICES",
    "Backend",
    "Device",
    "DeviceChoice",
    "check_device",
    "import_openvino",
    "openvino_core",
    "resolve_device",
]

log = logging.getLogger(__name__)

DEVICE_CHOICES = tuple(choice.value for choice in DeviceChoice)
"""The values ``FaceEmbedder(device=...)`` and ``FaceDetector(device=...)`` accept."""

_CUDA_EP = "CUDAExecutionProvider"
_CPU_EP = "CPUExecutionProvider"
_FIX = (
    "to run on an NVIDIA GPU install onnxruntime-gpu built for your CUDA "
    "(pip uninstall onnxruntime && pip install onnxruntime-gpu) or PyTorch with CUDA "
    "(pip install 'facesight[gpu]' with a CUDA build of torch); or ask for device='cpu' "
    "(or 'auto', which uses the GPU only when one works)"
)


class Backend(StrEnum):
    """The inference library that runs the networks."""

    ONNXRUNTIME = "onnxruntime"
    OPENVINO = "openvino"
    TORCH = "torch"


@dataclass(frozen=True)
class Device:
    """A resolved device: which backend runs the networks, and where.

    ``target`` is the ONNX Runtime execution provider (``CUDAExecutionProvider``),
    OpenVINO's device (``CPU``) or the torch device (``cuda:0``, ``cpu``).
    """

    backend: Backend
    target: str

    @property
    def name(self) -> str:
        """``backend:target``, e.g. ``onnxruntime:CPUExecutionProvider``, ``torch:cuda:0``."""
        return f"{self.backend}:{self.target}"

    @property
    def ort_providers(self) -> list[str]:
        """ONNX Runtime providers to ask for, best first (CPU takes ops CUDA lacks).

        On the OpenVINO device, the models that stay in ONNX Runtime (the detector, a
        user's registered model) run on its CPU provider.
        """
        if self.backend is Backend.OPENVINO or self.target == _CPU_EP:
            return [_CPU_EP]
        return [self.target, _CPU_EP]


def check_device(requested: str) -> None:
    """Refuse a ``device`` argument that is not one of :data:`DEVICE_CHOICES`.

    Raises:
        InvalidInputError: naming the choices.
    """
    if requested not in DEVICE_CHOICES:
        raise InvalidInputError(
            f"device must be one of {', '.join(map(repr, DEVICE_CHOICES))}, got {requested!r}"
        )


def resolve_device(requested: str) -> Device:
    """Turn a ``device`` argument into the backend and device that will run the models.

    Args:
        requested: one of :data:`DEVICE_CHOICES`.

    Returns:
        The device; its choice is logged on the ``facesight`` logger.

    Raises:
        InvalidInputError: ``requested`` is not one of :data:`DEVICE_CHOICES`.
        DeviceError: ``"cuda"`` with no working GPU, or ``"torch-cpu"`` without PyTorch;
            the message lists what was tried and how to fix it.
    """
    check_device(requested)
    if requested == DeviceChoice.CPU_FP32:
        device = Device(Backend.ONNXRUNTIME, _CPU_EP)
    elif requested == DeviceChoice.CPU:
        device = _cpu_device()
    elif requested == DeviceChoice.TORCH_CPU:
        if (problem := _torch_problem(cuda=False)) is not None:
            raise DeviceError(f"device='torch-cpu' needs PyTorch, but {problem}; {_FIX}")
        device = Device(Backend.TORCH, "cpu")
    elif requested == DeviceChoice.AUTO and not _nvidia_driver_present():
        log.info("device='auto' found no NVIDIA driver (/proc/driver/nvidia, /dev/nvidia0)")
        device = _cpu_device()
    else:
        found = _cuda_device()
        if isinstance(found, Device):
            device = found
        elif requested == DeviceChoice.CUDA:
            raise DeviceError(
                f"device='cuda' asked for a GPU but none works: {found}. "
                f"Nothing falls back to the CPU silently: {_FIX}"
            )
        else:
            log.info("device='auto' found no usable GPU: %s", found)
            device = _cpu_device()
    log.info("device=%r runs the models on %s", requested, device.name)
    return device


@lru_cache(maxsize=1)
def openvino_core() -> Any:
    """This process's one OpenVINO ``Core`` (thread-safe): its CPU plugin loads once.

    Raises:
        ImportError: the ``openvino`` package is not installed.
    """
    return import_openvino().Core()


# openvino's __init__ imports its model converter, and with it its telemetry, inside
# ``try: ... except ImportError``; facesight reads ONNX graphs and converts nothing
_CONVERTER = "openvino.tools.ovc"


def import_openvino() -> ModuleType:
    """``import openvino``, without the model converter its ``__init__`` also imports.

    That converter (``openvino.convert_model``) and its telemetry made ``import
    openvino`` take 0.10 s instead of 0.03 s, in every scan worker's start
    (``bench/worker_start.py``). A ``None`` in ``sys.modules`` (Python's documented way
    to make an import fail) makes openvino's own ``except ImportError`` skip it while
    the package loads; it is taken out again, so a later ``import openvino.tools.ovc``
    works as usual.

    Raises:
        ImportError: the ``openvino`` package is not installed.
    """
    loaded = sys.modules.get("openvino")
    if loaded is not None:
        return loaded
    blocked = _CONVERTER not in sys.modules
    if blocked:
        sys.modules[_CONVERTER] = None  # type: ignore[assignment]
    try:
        import openvino
    finally:
        if blocked and sys.modules.get(_CONVERTER, False) is None:
            del sys.modules[_CONVERTER]
    module: ModuleType = openvino
    return module


def _cpu_device() -> Device:
    """OpenVINO on the CPU when it is installed and sees one, else ONNX Runtime's CPU provider."""
    try:
        import_openvino()  # whether it is installed: openvino_core is cached
    except ImportError as exc:
        log.info("OpenVINO cannot be imported (%s); ONNX Runtime runs on the CPU", exc)
        return Device(Backend.ONNXRUNTIME, _CPU_EP)
    try:  # the CPU plugin alone: listing every device probes GPU and NPU plugins too
        openvino_core().get_property("CPU", "FULL_DEVICE_NAME")
    except Exception as exc:  # openvino raises its own untyped errors
        log.info("OpenVINO has no CPU here (%s); ONNX Runtime runs on the CPU", exc)
        return Device(Backend.ONNXRUNTIME, _CPU_EP)
    return Device(Backend.OPENVINO, "CPU")


def _nvidia_driver_present() -> bool:
    """A cheap look for the NVIDIA kernel driver, so ``auto`` on a machine without a GPU
    does not import PyTorch (a second and some 200 MB in every scan worker) to learn it."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def _cuda_device() -> Device | str:
    """ONNX Runtime's CUDA provider, else torch's CUDA device, else why neither works."""
    ort_problem = _ort_cuda_problem()
    if ort_problem is None:
        return Device(Backend.ONNXRUNTIME, _CUDA_EP)
    torch_problem = _torch_problem(cuda=True)
    if torch_problem is None:
        log.info("onnxruntime cannot use CUDA (%s); PyTorch can", ort_problem)
        return Device(Backend.TORCH, "cuda:0")
    return f"{ort_problem}; and {torch_problem}"


def _ort_cuda_problem() -> str | None:
    """None when onnxruntime-gpu really runs a graph on CUDA, else why not."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return f"onnxruntime cannot be imported ({exc})"
    available = ort.get_available_providers()
    if _CUDA_EP not in available:
        return (
            f"onnxruntime {ort.__version__} offers only {', '.join(available)} "
            "(the CPU-only 'onnxruntime' package, not 'onnxruntime-gpu')"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # its fallback warning is reported by us, not printed
    try:
        probe = _tiny_graph()
    except ImportError as exc:
        return f"the onnx package, needed to try onnxruntime-gpu, cannot be imported ({exc})"
    try:
        session = ort.InferenceSession(probe, sess_options=options, providers=[_CUDA_EP])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        return f"onnxruntime-gpu {ort.__version__} cannot start CUDA ({exc})"
    if session.get_providers()[0] != _CUDA_EP:
        return (
            f"onnxruntime-gpu {ort.__version__} falls back to the CPU: its CUDA or cuDNN "
            "libraries are missing or do not match it"
        )
    return None


def _tiny_graph() -> bytes:
    """A one-Relu ONNX graph: just enough to see where ONNX Runtime places it."""
    from onnx import TensorProto, helper

    value = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "probe", value[:1], value[1:]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _torch_problem(*, cuda: bool) -> str | None:
    """None when PyTorch imports (and, if ``cuda``, runs on a CUDA device), else why not."""
    try:
        import torch
    except ImportError as exc:
        return f"PyTorch cannot be imported ({exc})"
    if not cuda:
        return None
    if not torch.cuda.is_available():
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return f"PyTorch {torch.__version__} sees no CUDA device ({build})"
    try:
        torch.zeros(1, device="cuda").add_(1)
    except Exception as exc:  # a broken driver surfaces as a RuntimeError of any shape
        return f"PyTorch {torch.__version__} cannot run on CUDA ({exc})"
    return None
