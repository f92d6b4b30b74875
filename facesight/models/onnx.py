"""ONNX Runtime sessions with deliberately chosen providers and threads."""

from __future__ import annotations

import logging
import os

import onnxruntime as ort

from facesight.errors import ModelError

__all__ = ["create_session"]

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
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    wanted = providers or ["CPUExecutionProvider"]
    try:
        source = model if isinstance(model, bytes) else os.fspath(model)
        session = ort.InferenceSession(source, sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load the {name} model in ONNX Runtime: {exc}") from exc
    log.info("%s model runs on %s", name, session.get_providers()[0])
    return session
