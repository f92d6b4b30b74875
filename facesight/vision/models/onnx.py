"""ONNX Runtime sessions with deliberately chosen providers and threads."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from facesight.errors import DeviceError, ModelError

__all__ = ["OrtSession", "create_session"]

log = logging.getLogger(__name__)


def create_session(
    model: bytes | str | os.PathLike[str],
    *,
    name: str,
    intra_op_threads: int = 0,
    providers: list[str] | None = None,
) -> ort.InferenceSession:
    """Open an ONNX Runtime session and log the provider it really uses.

    Args:
        model: serialized ONNX bytes or a path to an ``.onnx`` file.
        name: a short model name for logs and errors.
        intra_op_threads: threads for one operator; 0 lets ONNX Runtime use
            every core (best for one big batch), 1 suits one session per worker.
        providers: execution providers in order of preference; defaults to CPU.
            The first one must really be used: ONNX Runtime quietly falls back to
            the CPU when, say, CUDA's libraries are missing, and that is an error here.

    Raises:
        ModelError: ONNX Runtime cannot load the model.
        DeviceError: the first provider asked for could not be used.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    wanted = providers or ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise DeviceError(
            f"ONNX Runtime {ort.__version__} cannot run the {name} model on {wanted[0]}: it "
            f"offers only {', '.join(available)}; for CUDA install onnxruntime-gpu instead of "
            "onnxruntime, or ask for device='cpu'"
        )
    try:
        source = model if isinstance(model, bytes) else os.fspath(model)
        session = ort.InferenceSession(source, sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load the {name} model in ONNX Runtime: {exc}") from exc
    used = session.get_providers()[0]
    if used != wanted[0]:
        raise DeviceError(
            f"ONNX Runtime ran the {name} model on {used}, not the requested {wanted[0]}: "
            "the provider's libraries (for CUDA: a matching CUDA and cuDNN) are missing or "
            "broken; fix them, or ask for device='cpu'"
        )
    log.info("%s model runs on %s", name, used)
    return session


class OrtSession:
    """A :class:`~facesight.vision.models.session.ModelSession` over an ONNX Runtime session.

    Args:
        session: an open session, e.g. from :func:`create_session`.
        input_name: the graph's one input.
        output_names: outputs to return, in order; None returns all, in graph order.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        input_name: str,
        output_names: list[str] | None = None,
    ) -> None:
        self.session = session
        self.input_name = input_name
        self.output_names = output_names

    @property
    def provider(self) -> str:
        """``onnxruntime:<the execution provider that runs the graph>``."""
        return f"onnxruntime:{self.session.get_providers()[0]}"

    def run(self, batch: NDArray[Any]) -> list[NDArray[np.float32]]:
        """Run one batch fed to ``input_name``; outputs as float32 arrays."""
        feed = {self.input_name: np.ascontiguousarray(batch)}
        outputs = self.session.run(self.output_names, feed)
        return [np.asarray(out, np.float32) for out in outputs]
