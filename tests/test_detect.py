"""FaceDetector on the real dev images: counts, no false faces, small faces in big photos."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError
from facesight.vision.detect import (
    TILE_PX,
    FaceDetector,
    _network_input,
    _plan_windows,
    _tile_span,
    nms,
)

from .paths import GROUP, NOFACE, PEOPLE

OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"
# counted by eye; ranges where a face is cut by the frame or half hidden
GROUP_COUNTS = {
    "deepface_couple.jpg": (2, 2),
    "deepface_img11_reflection.jpg": (1, 2),  # the reflection is barely visible
    "deepface_selfie-many-people.jpg": (6, 8),  # 7 people, one half out of frame
    "face_recognition_kit_with_rose.jpg": (2, 2),
    "face_recognition_obama_and_biden.jpg": (2, 4),  # + a girl, + a face cut by the edge
    "face_recognition_two_people.jpg": (2, 2),
    "facenet-pytorch_multiface.jpg": (6, 6),
    "issap_andrew-morgan-and-nick-hague.jpg": (2, 2),
}


def _rgb(path: Path) -> NDArray[np.uint8]:
    return np.asarray(Image.open(path).convert("RGB"))


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)


@pytest.mark.parametrize("path", sorted(NOFACE.glob("*.jpg")), ids=lambda p: p.stem)
def test_detect_finds_no_face_in_noface_images(detector: FaceDetector, path: Path) -> None:
    faces = detector.detect(_rgb(path))
    assert len(faces) == 0, f"false faces scoring {faces.score} in {path.name}"


def test_group_files_all_have_a_count() -> None:
    assert {p.name for p in GROUP.glob("*.jpg")} == set(GROUP_COUNTS)


@pytest.mark.parametrize("name", sorted(GROUP_COUNTS))
def test_detect_counts_faces_in_group_photos(detector: FaceDetector, name: str) -> None:
    low, high = GROUP_COUNTS[name]
    assert low <= len(detector.detect(_rgb(GROUP / name))) <= high


def test_detect_finds_a_face_in_every_people_image(detector: FaceDetector) -> None:
    paths = sorted(PEOPLE.glob("*/*.jpg"))
    missed = [p.name for p in paths if len(detector.detect(_rgb(p))) == 0]
    assert len(paths) >= 70
    assert missed == []


def test_detect_keeps_one_face_for_a_face_larger_than_a_tile(detector: FaceDetector) -> None:
    # 1500 px portrait: full-resolution tiles see parts of the 700 px face as faces
    faces = detector.detect(_rgb(PEOPLE / "Matt_Damon" / "deepface_img32.jpg"))
    assert len(faces) == 1
    assert faces.width_px[0] > 600


def test_detect_finds_small_faces_in_a_4000px_image(detector: FaceDetector) -> None:
    photo = Image.open(OBAMA).convert("RGB")
    native = detector.detect(np.asarray(photo))
    assert len(native) == 1
    scale = 40.0 / float(native.width_px[0])
    small = photo.resize(
        (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BILINEAR
    )
    canvas = np.random.default_rng(0).integers(90, 140, (3000, 4000, 3), dtype=np.uint8)
    face_centre = (native.xyxy[0, :2] + native.xyxy[0, 2:]) / 2 * scale
    # one face in the open, one straddling the right edge of the first tile
    seam_x = float(_plan_windows(3000, 4000, detector.max_side_px)[1].x1)
    wanted = []
    for centre in [(2600.0, 1900.0), (seam_x, 1400.0)]:
        x0, y0 = (np.array(centre) - face_centre).round().astype(int)
        canvas[y0 : y0 + small.height, x0 : x0 + small.width] = np.asarray(small)
        wanted.append(native.xyxy[0] * scale + np.array([x0, y0, x0, y0]))
    faces = detector.detect(canvas)
    assert len(faces) == 2
    for box in wanted:
        assert max(_iou(box, found) for found in faces.xyxy) > 0.7


@pytest.mark.parametrize(
    "path",
    [GROUP / "facenet-pytorch_multiface.jpg", GROUP / "deepface_couple.jpg", OBAMA],
    ids=lambda p: p.stem,
)
def test_landmarks_lie_in_their_box_in_the_documented_order(
    detector: FaceDetector, path: Path
) -> None:
    faces = detector.detect(_rgb(path))
    assert len(faces) >= 1
    for box, kps in zip(faces.xyxy, faces.kps5, strict=True):
        assert np.all(kps >= box[:2] - 2) and np.all(kps <= box[2:] + 2)
        left_eye, right_eye, nose, left_mouth, right_mouth = kps  # image-left first
        assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_faces_come_best_score_first_in_source_pixels(detector: FaceDetector) -> None:
    image = _rgb(GROUP / "facenet-pytorch_multiface.jpg")
    faces = detector.detect(image)
    assert np.all(np.diff(faces.score) <= 0)
    assert faces.xyxy.dtype == faces.kps5.dtype == faces.score.dtype == np.float32
    assert np.all(faces.xyxy[:, :2] > -5)
    assert np.all(faces.xyxy[:, 2] < image.shape[1] + 5)
    assert np.all(faces.xyxy[:, 3] < image.shape[0] + 5)


def test_detect_batch_equals_detect_one_by_one(detector: FaceDetector) -> None:
    images = [_rgb(GROUP / "deepface_couple.jpg"), _rgb(GROUP / "face_recognition_two_people.jpg")]
    images.append(images[0][:, ::-1].copy())  # same size as the first: shares its batch
    for batched, image in zip(detector.detect_batch(images), images, strict=True):
        single = detector.detect(image)
        np.testing.assert_allclose(batched.xyxy, single.xyxy, atol=1e-3)
        np.testing.assert_allclose(batched.score, single.score, atol=1e-5)


def test_tiny_max_side_still_finds_the_face() -> None:
    # a whole-image pass of 64 px: the tiles, grown to hold their overlap, find it
    faces = FaceDetector(max_side_px=64).detect(_rgb(OBAMA))
    assert len(faces) == 1


def test_tiny_image_gives_no_faces(detector: FaceDetector) -> None:
    assert len(detector.detect(np.full((5, 7, 3), 128, np.uint8))) == 0


@pytest.mark.parametrize(
    "image",
    [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3))],
    ids=["grey", "rgba", "float"],
)
def test_detect_rejects_non_rgb_uint8(detector: FaceDetector, image: NDArray[np.uint8]) -> None:
    with pytest.raises(InvalidInputError, match="image must"):
        detector.detect(image)


def test_constructor_rejects_out_of_range_settings() -> None:
    with pytest.raises(InvalidInputError, match="min_score"):
        FaceDetector(min_score=1.5)
    with pytest.raises(InvalidInputError, match="max_side_px"):
        FaceDetector(max_side_px=10)


def test_model_version_names_model_and_hash(detector: FaceDetector) -> None:
    assert re.fullmatch(r"retinaface_mnet025:[0-9a-f]{12}", detector.model_version)


def test_nms_keeps_best_of_overlapping_boxes() -> None:
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    score = np.array([0.8, 0.9, 0.7], np.float32)
    assert nms(xyxy, score, 0.4).tolist() == [1, 2]
    assert nms(xyxy, score, 0.9).tolist() == [1, 0, 2]


@pytest.mark.parametrize("length", [1025, 1500, 3000, 4000, 10_000])
@pytest.mark.parametrize("overlap", [40, 196, 308])
def test_tiles_cover_the_image_with_the_overlap_asked(length: int, overlap: int) -> None:
    tile, starts = _tile_span(length, overlap)
    assert tile <= TILE_PX and starts[0] == 0 and starts[-1] + tile == length
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_network_inputs_are_written_whole_into_a_batch_of_leftovers() -> None:
    """Each window is written in place into one batch array: BGR minus RetinaFace's mean,
    shrunk by Pillow's antialiasing bilinear, zero padding, whatever the array held."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    windows = _plan_windows(1500, 2000, 640, 40.0)
    assert len(windows) > 1 and windows[1].is_tile  # the whole image, shrunk, then tiles
    for window in windows[:2]:
        crop = image[window.y0 : window.y1, window.x0 : window.x1]
        shrunk = np.asarray(Image.fromarray(crop).resize(window.run_size, Image.BILINEAR))
        want = np.zeros((3, *window.input_hw), np.float32)
        height, width = shrunk.shape[:2]
        want[:, :height, :width] = shrunk[..., ::-1].transpose(2, 0, 1) - np.array(
            [104.0, 117.0, 123.0], np.float32
        ).reshape(3, 1, 1)
        batch = np.full((2, 3, *window.input_hw), np.nan, np.float32)
        _network_input(image, window, batch[1])
        assert np.array_equal(batch[1], want)
        assert np.isnan(batch[0]).all()  # the row beside it untouched
