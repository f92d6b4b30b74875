"""OpenVINO sessions: the same ONNX graphs, compiled by OpenVINO for the CPU.

On CPUs with Intel AMX (Sapphire Rapids and newer Xeons) OpenVINO runs the convolutions
in bfloat16 on the AMX tiles, which is what makes it fast here; elsewhere the descriptor
runs in float32, at about ONNX Runtime's speed (:func:`bf16_is_fast`). Which precision
ran is part of :attr:`OvSession.provider`.

Compiling dlib's ResNet takes about 0.19 s (reading the ONNX graph, then OpenVINO's
transformations), in every scan worker's start; :func:`cached_ov_session` keeps the
compiled form in the library's model cache and imports it in 0.11 s, the sha256 checks
included (``bench/worker_start.py``). Each file is checked against its recorded sha256
(``cache_files``): OpenVINO itself runs a compiled model whose weights were overwritten
without a word.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.vision.device import openvino_core
from facesight.vision.models.cache_files import read_verified, write_with_digest

__all__ = [
    "BATCH_MULTIPLE",
    "OvSession",
    "bf16_is_fast",
    "cached_ov_session",
    "compiled_tag",
    "create_ov_session",
]

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


def _config(precision: str, threads: int) -> dict[str, Any]:
    """OpenVINO's compile settings for one session."""
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
    return config


def create_ov_session(
    model: bytes | str | os.PathLike[str],
    *,
    name: str,
    threads: int = 0,
    precision: str = "bf16",
    batch_multiple: int = 1,
) -> OvSession:
    """Compile an ONNX graph with OpenVINO for the CPU.

    Args:
        model: serialized ONNX bytes or a path to an ``.onnx`` file.
        name: a short model name for logs and errors.
        threads: CPU threads for one inference; 0 lets OpenVINO use every core.
        precision: ``"bf16"`` (used where OpenVINO's CPU plugin has bfloat16, else float32)
            or ``"f32"``.
        batch_multiple: batches are padded to a multiple of this many inputs
            (:class:`OvSession`; :data:`BATCH_MULTIPLE` for dlib's ResNet).

    Raises:
        ModelError: OpenVINO cannot read or compile the model.
    """
    try:
        core = openvino_core()
        graph = core.read_model(model if isinstance(model, bytes) else os.fspath(model))
        compiled = core.compile_model(graph, "CPU", _config(precision, threads))
    except Exception as exc:  # openvino raises its own untyped errors
        raise ModelError(f"cannot compile the {name} model with OpenVINO: {exc}") from exc
    return _session(compiled, name, "compiled", batch_multiple)


def cached_ov_session(
    blob: Path,
    graph: Callable[[], bytes],
    *,
    name: str,
    threads: int = 0,
    precision: str = "bf16",
    batch_multiple: int = 1,
) -> OvSession:
    """:func:`create_ov_session`, through a cache of the compiled model at ``blob``.

    ``blob`` must name everything the compiled model depends on: the graph, and
    :func:`compiled_tag` (OpenVINO's build, the CPU, the settings). The first load
    compiles ``graph()`` and writes the blob with its sha256; later loads import it.
    A blob that fails its sha256 check, or that OpenVINO refuses, is compiled again
    and rewritten; one that cannot be written is logged, and the session still works.

    Raises:
        ModelError: OpenVINO cannot read or compile the model.
    """
    data = read_verified(blob)
    if data is not None:
        try:
            compiled = openvino_core().import_model(data, "CPU", _config(precision, threads))
        except Exception as exc:  # openvino raises its own untyped errors
            log.warning("OpenVINO cannot import %s (%s): compiling the model again", blob, exc)
        else:
            return _session(compiled, name, f"imported from {blob}", batch_multiple)
    session = create_ov_session(
        graph(), name=name, threads=threads, precision=precision, batch_multiple=batch_multiple
    )
    try:
        exported = session.compiled.export_model().getvalue()
    except Exception as exc:  # openvino raises its own untyped errors
        log.warning("OpenVINO cannot export the compiled %s model (%s)", name, exc)
    else:
        write_with_digest(blob, exported)
    return session


def compiled_tag(precision: str) -> str:
    """12 hex digits for what a compiled model depends on besides its graph: OpenVINO's
    build, the CPU (its name and OpenVINO's view of its capabilities) and the settings."""
    core = openvino_core()
    parts = [
        core.get_versions("CPU")["CPU"].build_number,
        str(core.get_property("CPU", "FULL_DEVICE_NAME")),
        ",".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
        json.dumps(_config(precision, 0), sort_keys=True),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _session(compiled: Any, name: str, how: str, batch_multiple: int) -> OvSession:
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type
    used = str(hint.get_type_name()) if hasattr(hint, "get_type_name") else str(hint)
    log.info("%s model runs on OpenVINO CPU in %s (%s)", name, used, how)
    return OvSession(compiled, used, batch_multiple)


BATCH_MULTIPLE = 4
"""dlib's ResNet's batches are padded to a multiple of this many chips (:class:`OvSession`)."""


class OvSession:
    """A :class:`~facesight.vision.models.session.ModelSession` over an OpenVINO compiled model.

    OpenVINO prepares its kernels for every new input shape on that shape's first run:
    15-45 ms for each new batch size of dlib's ResNet, against 3-28 ms to run it. A
    scan's descriptor batches take every size from 1 to 32, so they are padded with
    blank inputs to a multiple of ``batch_multiple`` (:data:`BATCH_MULTIPLE`: eight
    sizes in all), whose outputs are dropped: each row's output does not depend on the
    rows beside it. Batch sizes
    1-32 once each, twice over, on one thread: 0.98 s then 0.51 s as they come, 0.62 s
    then 0.58 s padded to a multiple of 4, 0.67 s and 0.63 s of 8, 0.81 s and 0.71 s of
    16 (``bench/descriptor_throughput.py --sizes``).
    """

    def __init__(self, compiled: Any, precision: str, batch_multiple: int = 1) -> None:
        self.compiled = compiled
        self.precision = precision
        self.batch_multiple = batch_multiple
        # an infer request serves one call at a time and holds its buffers: requests are
        # reused, one per call running at once (not one per thread that ever called)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @property
    def provider(self) -> str:
        """``openvino:CPU <precision>``, e.g. ``openvino:CPU bf16``."""
        return f"openvino:CPU {self.precision}"

    def run(self, batch: NDArray[Any]) -> list[NDArray[np.float32]]:
        """Run one batch; outputs as float32 arrays, in graph order."""
        count = len(batch)
        padded = -(-count // self.batch_multiple) * self.batch_multiple
        if padded != count:
            blank = np.zeros((padded - count, *batch.shape[1:]), batch.dtype)
            batch = np.concatenate([batch, blank])
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            results = request.infer({0: np.ascontiguousarray(batch)})
            # copied out before the request (whose buffers they are) serves another call
            return [np.array(results[out][:count], np.float32) for out in self.compiled.outputs]
        finally:
            self._idle.put(request)
