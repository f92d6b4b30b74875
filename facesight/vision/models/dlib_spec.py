"""The type of dlib's face descriptor ResNet and the inference form both translators share.

Kept apart from :mod:`facesight.vision.models.dlib_resnet` (which needs ``onnx``) so that the
PyTorch translation (:mod:`facesight.vision.models.torch_dlib_resnet`) imports with only numpy
and torch: the machines that benchmark it on a GPU may have nothing else installed.
"""

from __future__ import annotations

import numpy as np

from facesight.errors import ModelError
from facesight.vision.models.dlib_format import Affine, Conv, Layer, LayerKind, LayerSpec, NetSpec

__all__ = ["DLIB_RESNET_V1", "Shape", "fold_affines", "out_size"]

_Specs = list[LayerSpec]

Shape = tuple[int, int, int]
"""(k, nr, nc) of one sample, as dlib's tensors have it; the batch axis stays dynamic."""


def _con(n: int, size: int, stride: int) -> LayerSpec:
    return LayerSpec(LayerKind.CON, (n, size, size, stride, stride))


def _block(n: int, stride: int, sub: _Specs) -> _Specs:
    """``BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>`` with BN = affine."""
    affine, relu = LayerSpec(LayerKind.AFFINE), LayerSpec(LayerKind.RELU)
    return [affine, _con(n, 3, 1), relu, affine, _con(n, 3, stride), *sub]


def _ares(n: int, sub: _Specs) -> _Specs:
    """``relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>``."""
    head = [LayerSpec(LayerKind.RELU), LayerSpec(LayerKind.ADD_PREV, (1,))]
    return [*head, *_block(n, 1, [LayerSpec(LayerKind.TAG, (1,)), *sub])]


def _ares_down(n: int, sub: _Specs) -> _Specs:
    """``relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>``."""
    head = [
        LayerSpec(LayerKind.RELU),
        LayerSpec(LayerKind.ADD_PREV, (2,)),
        LayerSpec(LayerKind.AVG_POOL, (2, 2, 2, 2)),
        LayerSpec(LayerKind.SKIP, (1,)),
        LayerSpec(LayerKind.TAG, (2,)),
    ]
    return [*head, *_block(n, 2, [LayerSpec(LayerKind.TAG, (1,)), *sub])]


def _anet_type() -> NetSpec:
    """``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``, built from the input up."""
    net: _Specs = [
        LayerSpec(LayerKind.MAX_POOL, (3, 3, 2, 2)),
        LayerSpec(LayerKind.RELU),
        LayerSpec(LayerKind.AFFINE),
        _con(32, 7, 2),
    ]
    net = _ares(32, _ares(32, _ares(32, net)))  # alevel4
    net = _ares(64, _ares(64, _ares(64, _ares_down(64, net))))  # alevel3
    net = _ares(128, _ares(128, _ares_down(128, net)))  # alevel2
    net = _ares(256, _ares(256, _ares_down(256, net)))  # alevel1
    net = _ares_down(256, net)  # alevel0
    head = [LayerSpec(LayerKind.FC, (128, 0)), LayerSpec(LayerKind.AVG_POOL, (0, 0, 1, 1))]
    return NetSpec(layers=(*head, *net), input_nr=150, input_nc=150)


DLIB_RESNET_V1: NetSpec = _anet_type()
"""The type of ``dlib_face_recognition_resnet_model_v1.dat``: loss_metric<fc_no_bias<128, ...>>."""


def fold_affines(layers: tuple[Layer, ...]) -> list[Layer]:
    """Merge each per-channel affine into the convolution right below it (exact maths).

    dlib's inference-form batch norm is ``gamma * conv(x) + beta``; folding it gives one
    convolution with weights * gamma and bias * gamma + beta, computed in float64.

    Args:
        layers: a parsed network's layers, from the input upwards.

    Returns:
        The same layers with every foldable ``Affine`` merged into its ``Conv``.
    """
    folded: list[Layer] = []
    for layer in layers:
        below = folded[-1] if folded else None
        if isinstance(layer, Affine) and layer.gamma.ndim == 1 and isinstance(below, Conv):
            gamma, beta = layer.gamma.astype(np.float64), layer.beta.astype(np.float64)
            bias = np.zeros(len(gamma)) if below.bias is None else below.bias.astype(np.float64)
            weights = below.weights.astype(np.float64) * gamma[:, None, None, None]
            folded[-1] = Conv(
                weights=weights.astype(np.float32),
                bias=(bias * gamma + beta).astype(np.float32),
                stride=below.stride,
                padding=below.padding,
            )
        else:
            folded.append(layer)
    return folded


def out_size(size: int, window: int, stride: int, pad: int) -> int:
    """dlib's (and ONNX's and PyTorch's floor-mode) output size of a strided window.

    Raises:
        ModelError: the window does not fit the input at all.
    """
    out = (size + 2 * pad - window) // stride + 1
    if out < 1:
        raise ModelError(f"a {window}-wide window leaves no output on a {size}-wide input")
    return out
