"""Our parser of dlib's serialization on the real weight file, and on damaged copies of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facesight.errors import ModelError
from facesight.vision.models.dlib_format import (
    AddPrev,
    Affine,
    Conv,
    FullyConnected,
    LayerKind,
    LayerSpec,
    Pool,
    Skip,
    Tag,
    parse_dlib_net,
)
from facesight.vision.models.dlib_resnet import DLIB_RESNET_V1
from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path


@pytest.fixture(scope="module")
def weights() -> bytes:
    return dlib_model_path(DLIB_RESNET_FILE).read_bytes()


def test_parse_real_file_gives_the_documented_network(weights: bytes) -> None:
    net = parse_dlib_net(weights, DLIB_RESNET_V1)
    assert net.input.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert (net.input.nr, net.input.nc) == (150, 150)
    assert net.loss.distance_threshold == pytest.approx(0.6)
    kinds = [type(layer) for layer in net.layers]
    assert kinds.count(Conv) == kinds.count(Affine) == 29
    assert kinds.count(AddPrev) == 14 and kinds.count(Skip) == 4 and kinds.count(Tag) == 18
    first, last = net.layers[0], net.layers[-1]
    assert isinstance(first, Conv) and first.weights.shape == (32, 3, 7, 7)
    assert first.stride == (2, 2) and first.padding == (0, 0)
    assert isinstance(last, FullyConnected) and last.weights.shape == (256, 128)
    assert last.bias is None
    assert isinstance(net.layers[-2], Pool) and net.layers[-2].window == (0, 0)


def test_parse_reads_stride_one_padding_as_half_the_window(weights: bytes) -> None:
    net = parse_dlib_net(weights, DLIB_RESNET_V1)
    convs = [layer for layer in net.layers if isinstance(layer, Conv)]
    assert {c.padding for c in convs if c.stride == (1, 1)} == {(1, 1)}
    assert {c.padding for c in convs if c.stride == (2, 2)} == {(0, 0)}
    assert all(np.isfinite(c.weights).all() for c in convs)


def test_parse_truncated_file_raises_model_error(weights: bytes) -> None:
    with pytest.raises(ModelError, match="remain"):
        parse_dlib_net(weights[: len(weights) // 2], DLIB_RESNET_V1, source="half.dat")


def test_parse_trailing_bytes_raises_model_error(weights: bytes) -> None:
    with pytest.raises(ModelError, match="unexpected bytes after the network"):
        parse_dlib_net(weights + b"\x00", DLIB_RESNET_V1)


def test_parse_other_file_raises_model_error() -> None:
    other = dlib_model_path("shape_predictor_5_face_landmarks.dat").read_bytes()
    with pytest.raises(ModelError, match="at byte"):
        parse_dlib_net(other, DLIB_RESNET_V1)


def test_parse_against_wrong_type_raises_model_error(weights: bytes) -> None:
    layers = list(DLIB_RESNET_V1.layers)
    layers[-1] = LayerSpec(LayerKind.CON, (32, 5, 5, 2, 2))  # the file's first con is 7x7
    with pytest.raises(ModelError, match="nr, nc, stride_y, stride_x"):
        parse_dlib_net(weights, replace(DLIB_RESNET_V1, layers=tuple(layers)))


def test_parse_bad_integer_control_byte_raises_model_error(weights: bytes) -> None:
    with pytest.raises(ModelError, match="control byte 0x71"):
        parse_dlib_net(b"\x71" + weights[1:], DLIB_RESNET_V1)
