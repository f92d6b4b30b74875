"""OpenVINO sessions: the same ONNX graphs, compiled by OpenVINO for the CPU.

On CPUs with Intel AMX (Sapphire Rapids and newer Xeons) OpenVINO runs the convolutions
in bfloat16 on the AMX tiles, which is what makes it fast here; elsewhere the descriptor
runs in float32, at about ONNX Runtime's speed (:func:`bf16_is_fast`). Which precision
ran is part of :attr:`OvSession.provider`.
"""

from __future__ import annotations

import logging
import os
import queue
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.vision.device import openvino_core

__all__ = ["OvSession", "bf16_is_fast", "create_ov_session"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def bf16_is_fast(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU runs OpenVINO's bfloat16 convolutions on Intel AMX tiles.

    There the descriptor runs about five times faster than in float32. With AVX-512
    BF16 alone (no AMX) bfloat16 ran at float32's speed (4.7 ms a chip against 4.4, one
    thread, oneDNN capped at ``AVX512_CORE_BF16``): precision lost for nothing. Read
    from ``/proc/cpuinfo`` (Linux); False elsewhere, or when OpenVINO has no bfloat16.
    """
    try:
        lines = cpuinfo.read_text(errors="replace").splitlines()
    except OSError:
        return False
    flags = {flag for line in lines if line.startswith("flags") for flag in line.split()}
    if "amx_bf16" not in flags:
        return False
    return "BF16" in openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def create_ov_session(
    model: bytes | str | os.PathLike[str],
    *,
    name: str,
    threads: int = 0,
    precision: str = "bf16",
) -> OvSession:
    """Compile an ONNX graph with OpenVINO for the CPU.

    Args:
        model: serialized ONNX bytes or a path to an ``.onnx`` file.
        name: a short model name for logs and errors.
        threads: CPU threads for one inference; 0 lets OpenVINO use every core.
        precision: ``"bf16"`` (used where OpenVINO's CPU plugin has bfloat16, else float32)
            or ``"f32"``.

    Raises:
        ModelError: OpenVINO cannot read or compile the model.
    """
    try:
        core = openvino_core()
        graph = core.read_model(model if isinstance(model, bytes) else os.fspath(model))
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            # OpenVINO pins its threads to cores by default: every scan worker's on the
            # same first core, each then got half of it
            "ENABLE_CPU_PINNING": False,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = core.compile_model(graph, "CPU", config)
    except Exception as exc:  # openvino raises its own untyped errors
        raise ModelError(f"cannot compile the {name} model with OpenVINO: {exc}") from exc
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type
    used = str(hint.get_type_name()) if hasattr(hint, "get_type_name") else str(hint)
    log.info("%s model runs on OpenVINO CPU in %s", name, used)
    return OvSession(compiled, used, _onnx_metadata(graph))


def _onnx_metadata(graph: Any) -> dict[str, str]:
    """The ONNX graph's ``metadata_props`` (OpenVINO keeps them under ``framework``)."""
    try:
        framework = graph.get_rt_info()["framework"]
        return {str(key): graph.get_rt_info(["framework", key]).astype(str) for key in framework}
    except Exception:  # a graph without metadata, or an OpenVINO that keeps none
        return {}


class OvSession:
    """A :class:`~facesight.vision.models.session.ModelSession` over an OpenVINO compiled model."""

    def __init__(self, compiled: Any, precision: str, metadata: dict[str, str]) -> None:
        self.compiled = compiled
        self.precision = precision
        self.metadata = metadata
        """The ONNX graph's ``metadata_props``."""
        # an infer request serves one call at a time and holds its buffers: requests are
        # reused, one per call running at once (not one per thread that ever called)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @property
    def provider(self) -> str:
        """``openvino:CPU <precision>``, e.g. ``openvino:CPU bf16``."""
        return f"openvino:CPU {self.precision}"

    def run(self, batch: NDArray[Any]) -> list[NDArray[np.float32]]:
        """Run one batch; outputs as float32 arrays, in graph order."""
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            results = request.infer({0: np.ascontiguousarray(batch)})
            # copied out before the request (whose buffers they are) serves another call
            return [np.array(results[out], np.float32) for out in self.compiled.outputs]
        finally:
            self._idle.put(request)
