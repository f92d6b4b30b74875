"""FaceEmbedder against dlib itself: same descriptors on real faces, batching, input checks, cache.

dlib (the ``dlib-bin`` test dependency) is the oracle: it finds, aligns and describes the
faces; our ONNX translation of its network must give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dlib
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError
from facesight.faces import Faces
from facesight.files import sha256_file
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import CHIP_SIZE_PX, DESCRIPTOR_LENGTH, EMBEDDING_DIM, FaceEmbedder
from facesight.vision.models.openvino import bf16_is_fast
from facesight.vision.models.registry import (
    DLIB_RESNET_FILE,
    DLIB_SHAPE5_FILE,
    dlib_model_path,
)
from facesight.vision.pipeline import AnalyzedFaces

from .paths import PEOPLE

MIN_FACES = 12
MAX_ABS_DIFF = 1e-4
# raw descriptors, bfloat16 against dlib's: the flip-averaged ones of all 5,364 lfw-dev
# images lay at most 0.012 from float32's (scripts/studies/measure_bf16_inference.py)
MAX_BF16_DISTANCE = 0.03


@dataclass(frozen=True)
class DlibFaces:
    """Chips cut by dlib and the descriptors dlib computes for them."""

    chips: NDArray[np.uint8]  # (n, 150, 150, 3)
    descriptors: NDArray[np.float32]  # (n, 128)
    people: set[str]


def _two_images_per_person() -> list[Path]:
    """Two photos of every person folder: many people, lightings and image sizes."""
    firsts = (sorted(folder.glob("*.jpg"))[:2] for folder in sorted(PEOPLE.iterdir()))
    return [path for pair in firsts for path in pair]


@pytest.fixture(scope="module")
def dlib_faces() -> DlibFaces:
    detector = dlib.get_frontal_face_detector()
    shape5 = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE5_FILE)))
    model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
    chips, people = [], set()
    for path in _two_images_per_person():
        image = np.asarray(Image.open(path).convert("RGB"))
        found = detector(image, 0)
        if found:
            box = max(found, key=lambda rect: rect.area())
            chips.append(dlib.get_face_chip(image, shape5(image, box), size=150, padding=0.25))
            people.add(path.parent.name)
    descriptors = [np.array(model.compute_face_descriptor(chip)) for chip in chips]
    return DlibFaces(np.stack(chips), np.array(descriptors, np.float32), people)


def test_embed_matches_dlib_on_real_faces(
    dlib_faces: DlibFaces, embedder_fp32: FaceEmbedder
) -> None:
    assert len(dlib_faces.chips) >= MIN_FACES and len(dlib_faces.people) >= 8
    ours = embedder_fp32.embed(dlib_faces.chips)
    assert ours.shape == (len(dlib_faces.chips), EMBEDDING_DIM) and ours.dtype == np.float32
    assert np.abs(ours - dlib_faces.descriptors).max() < MAX_ABS_DIFF
    assert embedder_fp32.provider == "onnxruntime:CPUExecutionProvider"


@pytest.mark.skipif(
    not bf16_is_fast(), reason="this CPU has no AMX: the descriptor runs in float32"
)
def test_default_cpu_embedder_runs_bf16_within_its_measured_distance_of_dlib(
    dlib_faces: DlibFaces, embedder: FaceEmbedder
) -> None:
    ours = embedder.embed(dlib_faces.chips)
    assert embedder.provider == "openvino:CPU bf16"
    gap = np.linalg.norm(ours - dlib_faces.descriptors, axis=1)
    # bfloat16 really ran (float32 is within 1e-4), and stays far inside dlib's 0.6
    assert float(np.median(gap)) > 1e-4 and float(gap.max()) < MAX_BF16_DISTANCE


def test_embed_descriptors_are_not_unit_length(
    dlib_faces: DlibFaces, embedder: FaceEmbedder
) -> None:
    norms = np.linalg.norm(embedder.embed(dlib_faces.chips[:4]), axis=1)
    assert np.all(np.abs(norms - 1) > 0.05)


def test_embed_is_batch_invariant(dlib_faces: DlibFaces, embedder: FaceEmbedder) -> None:
    chips = dlib_faces.chips[:7]
    together = embedder.embed(chips)
    one_by_one = np.concatenate([embedder.embed(chips[i : i + 1]) for i in range(len(chips))])
    small_batches = FaceEmbedder(embedder.cache_dir, batch_size=3).embed(chips)
    np.testing.assert_allclose(one_by_one, together, rtol=0, atol=1e-6)
    np.testing.assert_allclose(small_batches, together, rtol=0, atol=1e-6)


def test_embed_accepts_non_contiguous_chips(dlib_faces: DlibFaces, embedder: FaceEmbedder) -> None:
    every_other = dlib_faces.chips[::2]
    assert not every_other.flags.c_contiguous
    expected = embedder.embed(np.ascontiguousarray(every_other))
    np.testing.assert_array_equal(embedder.embed(every_other), expected)


def test_embed_empty_returns_no_rows() -> None:
    empty = np.zeros((0, CHIP_SIZE_PX, CHIP_SIZE_PX, 3), np.uint8)
    out = FaceEmbedder().embed(empty)
    assert out.shape == (0, EMBEDDING_DIM) and out.dtype == np.float32


@pytest.mark.parametrize(
    "chips",
    [
        np.zeros((150, 150, 3), np.uint8),
        np.zeros((1, 150, 150, 4), np.uint8),
        np.zeros((1, 112, 112, 3), np.uint8),
        np.zeros((1, 3, 150, 150), np.uint8),
        np.zeros((1, 150, 150, 3), np.float32),
        [[0]],
    ],
    ids=["no_batch_axis", "rgba", "wrong_size", "nchw", "float32", "list"],
)
def test_embed_bad_input_raises_invalid_input(chips: NDArray[np.uint8]) -> None:
    with pytest.raises(InvalidInputError, match="chips must"):
        FaceEmbedder().embed(chips)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"intra_op_threads": -1}])
def test_constructor_rejects_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidInputError):
        FaceEmbedder(**kwargs)


def test_construction_loads_nothing(tmp_path: Path) -> None:
    FaceEmbedder(cache_dir=tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_cache_file_is_created_once_and_reused(tmp_path: Path) -> None:
    digest = sha256_file(dlib_model_path(DLIB_RESNET_FILE))
    first = FaceEmbedder(cache_dir=tmp_path)
    first.load()
    assert first.model_version == f"dlib_resnet_v1:{digest[:12]}"
    cached = tmp_path / f"dlib_resnet_{digest}.onnx"
    assert cached.name == f"dlib_resnet_{digest}.onnx"
    before = cached.stat()
    second = FaceEmbedder(cache_dir=tmp_path)
    second.load()
    after = cached.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    sidecar = cached.with_name(cached.name + ".sha256")  # the graph's sha256, built with it
    made = [cached, sidecar]
    if first.provider.startswith("openvino"):  # and OpenVINO's compiled form, with its own
        [blob] = tmp_path.glob("dlib_resnet_*.ovblob")
        made += [blob, blob.with_name(blob.name + ".sha256")]
    assert sorted(tmp_path.iterdir()) == sorted(made)  # no temporary file left behind
    assert second.model_version == first.model_version


def test_versions_are_named_without_opening_the_models(tmp_path: Path) -> None:
    """A scan on workers needs the versions in the scanning process, never the networks."""
    embedder, detector = FaceEmbedder(cache_dir=tmp_path), FaceDetector()
    named = (embedder.model_version, detector.model_version)
    assert embedder._session is None and detector._session is None
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing converted either
    embedder.load()
    detector.load()
    assert (embedder.model_version, detector.model_version) == named
    assert FaceEmbedder(cache_dir=tmp_path).model_version == embedder.model_version


def test_cache_file_that_is_not_our_graph_is_rebuilt(tmp_path: Path) -> None:
    digest = sha256_file(dlib_model_path(DLIB_RESNET_FILE))
    cached = tmp_path / f"dlib_resnet_{digest}.onnx"
    cached.write_bytes(b"half-written or from another converter")
    embedder = FaceEmbedder(cache_dir=tmp_path)
    chips = np.zeros((1, CHIP_SIZE_PX, CHIP_SIZE_PX, 3), np.uint8)
    assert embedder.embed(chips).shape == (1, EMBEDDING_DIM)
    assert cached.stat().st_size > 20_000_000


def test_describe_is_mirror_invariant_and_fixed_length(
    dlib_faces: DlibFaces, embedder: FaceEmbedder
) -> None:
    chips = dlib_faces.chips[:3]
    described = embedder.describe(chips)
    mirrored = embedder.describe(np.ascontiguousarray(chips[:, :, ::-1]))
    np.testing.assert_allclose(np.linalg.norm(described, axis=1), DESCRIPTOR_LENGTH, rtol=1e-5)
    np.testing.assert_allclose(described, mirrored, atol=1e-5)


def test_analyzed_faces_are_always_described() -> None:
    chips = np.zeros((0, CHIP_SIZE_PX, CHIP_SIZE_PX, 3), np.uint8)
    with pytest.raises(InvalidInputError, match="described faces"):
        AnalyzedFaces(Faces.empty(), chips, [])
    described = Faces.empty().with_embedding(np.zeros((0, EMBEDDING_DIM), np.float32))
    assert AnalyzedFaces(described, chips, []).embedding.shape == (0, EMBEDDING_DIM)
