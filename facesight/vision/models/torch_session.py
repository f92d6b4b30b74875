"""PyTorch sessions: a network module on a device, in fp32 or fp16, optionally compiled.

The PyTorch path exists for GPUs where ``onnxruntime-gpu`` is not installed (or does not
start); the networks are translated from the same weights ONNX Runtime runs
(:mod:`facesight.vision.models.torch_dlib_resnet`, :mod:`facesight.vision.models.torch_retinaface`).
Imports only numpy and torch, so it also runs on bare GPU machines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = ["TorchSession"]

log = logging.getLogger(__name__)


class TorchSession:
    """A :class:`~facesight.vision.models.session.ModelSession` running a ``torch.nn.Module``.

    Floating-point inputs are cast to the session's precision; integer inputs (the
    descriptor's uint8 chips) go in as they are and the module converts them. Outputs
    come back as float32 numpy arrays.

    On CUDA, PyTorch's own defaults apply: on Ampere and newer GPUs its fp32
    convolutions use TF32 unless ``torch.backends.cudnn.allow_tf32`` is set to False
    (``bench/gpu_throughput.py`` measures what that changes).

    Args:
        module: the network; put in eval mode and moved to ``device``.
        name: a short model name for logs.
        device: a torch device string, e.g. ``"cuda:0"`` or ``"cpu"``.
        half: run in fp16: about twice as fast on tensor-core GPUs, outputs differ
            from fp32 by roughly 1e-3 relative.
        compile: wrap the module in ``torch.compile``; the first batch of each new shape
            then takes tens of seconds to compile, later ones run faster.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        name: str,
        device: str = "cpu",
        half: bool = False,
        compile: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        module = module.eval().to(self.device, self.dtype)
        if self.device.type == "cuda":
            # NHWC is what tensor cores want; the descriptor's uint8 NHWC input is already so
            for tensor in (*module.parameters(), *module.buffers()):
                if tensor.dim() == 4:
                    tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        self.module = module
        self._forward: Callable[[torch.Tensor], Any] = torch.compile(module) if compile else module
        log.info("%s model runs on %s", name, self.provider)

    @property
    def provider(self) -> str:
        """``torch:<device> <fp32|fp16>``, e.g. ``torch:cuda:0 fp16``."""
        precision = "fp16" if self.dtype == torch.float16 else "fp32"
        return f"torch:{self.device} {precision}"

    def run(self, batch: NDArray[Any]) -> list[NDArray[np.float32]]:
        """Run one batch; the module's output tensor (or tuple of them) as float32 arrays."""
        if not batch.flags.writeable:  # torch.from_numpy warns on read-only memory
            batch = batch.copy()
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
            if x.is_floating_point():
                x = x.to(self.dtype)
            out = self._forward(x)
            outputs = out if isinstance(out, tuple | list) else (out,)
            return [o.float().cpu().numpy() for o in outputs]
