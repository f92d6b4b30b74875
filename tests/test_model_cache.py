"""A damaged model cache is never trusted; descriptors that cannot be right are never stored."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facesight.errors import ModelError, StoreError
from facesight.files import sha256_file
from facesight.library.facade import Library
from facesight.media.images import load_image
from facesight.store.sqlite import Store
from facesight.vision.device import Backend, resolve_device
from facesight.vision.embed import DESCRIPTOR_LENGTH, FaceEmbedder
from facesight.vision.models.cache_files import COMPILED_SUFFIX
from facesight.vision.models.dlib_resnet import verify_model_cache
from facesight.vision.pipeline import FacePipeline

from .paths import PEOPLE
from .test_store import _face, _media

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))[0]
BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))[0]

openvino_only = pytest.mark.skipif(
    resolve_device("cpu").backend is not Backend.OPENVINO, reason="openvino is not installed"
)


def _flip_middle(path: Path, count: int = 100) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _cached_model(directory: Path) -> Path:
    [model] = directory.glob("dlib_resnet_*.onnx")
    return model


@pytest.mark.parametrize("device", ["cpu", "cpu-fp32"])
def test_a_damaged_cached_model_is_rebuilt(
    tmp_path: Path, detector: object, caplog: pytest.LogCaptureFixture, device: str
) -> None:
    FaceEmbedder(cache_dir=tmp_path, device="cpu-fp32").load()  # the graph, not yet compiled
    model = _cached_model(tmp_path)
    good = sha256_file(model)
    _flip_middle(model)
    assert verify_model_cache(tmp_path) == [f"{model}: damaged (sha256 differs from the one built)"]
    with (
        caplog.at_level(logging.WARNING),
        Library(
            tmp_path / "lib",
            detector=detector,
            embedder=FaceEmbedder(cache_dir=tmp_path, device=device),  # type: ignore[arg-type]
        ) as library,
    ):
        result = library.compare(OBAMA, BIDEN)
    assert not result.same_person and result.distance > 0.6
    assert sha256_file(model) == good
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert verify_model_cache(tmp_path) == []


@pytest.mark.parametrize("device", ["cpu", "cpu-fp32"])
def test_descriptors_of_a_broken_model_are_refused(
    tmp_path: Path, detector: object, device: str
) -> None:
    """Damage the hash cannot catch (the model was bad when built) still stores nothing."""
    FaceEmbedder(cache_dir=tmp_path, device="cpu-fp32").load()  # the graph, not yet compiled
    model = _cached_model(tmp_path)
    _flip_middle(model)
    sidecar = model.with_name(model.name + ".sha256")
    sidecar.write_text(sha256_file(model) + "\n")  # as if built damaged
    embedder = FaceEmbedder(cache_dir=tmp_path, device=device)
    pipeline = FacePipeline(detector, embedder)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="model cache"):
        pipeline.analyze(load_image(OBAMA).pixels)


def _compiled_model(directory: Path) -> Path:
    [blob] = directory.glob(f"dlib_resnet_*{COMPILED_SUFFIX}")
    return blob


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    from facesight.vision.align import align_faces
    from facesight.vision.detect import FaceDetector

    pixels = load_image(OBAMA).pixels
    return align_faces(pixels, FaceDetector().detect(pixels).kps5)


@openvino_only
def test_the_compiled_model_is_kept_and_imported_to_the_same_descriptors(
    tmp_path: Path, chips: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    compiled = FaceEmbedder(cache_dir=tmp_path)
    fresh = compiled.embed(chips)
    blob = _compiled_model(tmp_path)
    assert compiled.provider.startswith("openvino:CPU")
    with caplog.at_level(logging.INFO, logger="facesight"):
        imported = FaceEmbedder(cache_dir=tmp_path, intra_op_threads=1)
        assert np.array_equal(imported.embed(chips), fresh)
    assert any(f"imported from {blob}" in r.getMessage() for r in caplog.records)
    assert imported.provider == compiled.provider
    assert verify_model_cache(tmp_path) == []


@openvino_only
def test_a_damaged_compiled_model_is_compiled_again(
    tmp_path: Path, chips: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    """OpenVINO itself runs a compiled model whose weights were overwritten (its
    descriptors off by 0.04): the recorded sha256 must catch it."""
    fresh = FaceEmbedder(cache_dir=tmp_path).embed(chips)
    blob = _compiled_model(tmp_path)
    _flip_middle(blob, count=100_000)
    assert verify_model_cache(tmp_path) == [f"{blob}: damaged (sha256 differs from the one built)"]
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(FaceEmbedder(cache_dir=tmp_path).embed(chips), fresh)
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert verify_model_cache(tmp_path) == []  # written again, whole


@openvino_only
def test_a_compiled_model_openvino_refuses_is_compiled_again(
    tmp_path: Path, chips: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    """Whole but unreadable to this OpenVINO (as one another build wrote could be)."""
    fresh = FaceEmbedder(cache_dir=tmp_path).embed(chips)
    blob = _compiled_model(tmp_path)
    blob.write_bytes(b"not a compiled model")
    blob.with_name(blob.name + ".sha256").write_text(sha256_file(blob) + "\n")
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(FaceEmbedder(cache_dir=tmp_path).embed(chips), fresh)
    assert any("cannot import" in r.getMessage() for r in caplog.records)
    assert blob.stat().st_size > 1_000_000 and verify_model_cache(tmp_path) == []


@pytest.mark.parametrize(
    "embedding",
    [
        np.zeros(128, np.float32),
        np.full(128, np.nan, np.float32),
        np.ones(64, np.float32) * DESCRIPTOR_LENGTH / 8,
    ],
    ids=["zero", "nan", "short"],
)
def test_store_refuses_descriptors_not_finite_or_not_of_the_documented_length(
    tmp_path: Path, embedding: np.ndarray
) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        bad = replace(_face(), embedding=embedding)
        with pytest.raises(StoreError, match="descriptor"):
            store.save_media("/x.jpg", _media("a" * 64), [bad])
        assert store.query("SELECT COUNT(*) AS n FROM faces")[0]["n"] == 0


def test_the_cached_graphs_converter_version_is_read_without_onnx(tmp_path: Path) -> None:
    """The cache check reads ``producer_version`` from the bytes (importing onnx costs a
    scan worker ~0.8 s); it must agree with onnx's own parser and refuse damage."""
    import onnx

    from facesight.vision.models.dlib_resnet import (
        CONVERTER_VERSION,
        load_dlib_resnet_onnx,
        producer_version,
    )

    data = load_dlib_resnet_onnx(tmp_path)
    assert producer_version(data) == onnx.load_model_from_string(data).producer_version
    assert producer_version(data) == CONVERTER_VERSION
    other = onnx.load_model_from_string(data)
    other.producer_version = "0-older"
    assert producer_version(other.SerializeToString()) == "0-older"
    for damaged in (b"", b"garbage", data[:6], b"\xff" * 64):
        assert producer_version(damaged) is None
