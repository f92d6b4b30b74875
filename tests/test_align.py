"""align_faces: exact maths on synthetic points, dlib's resampling reproduced, real faces."""

from __future__ import annotations

import math
from pathlib import Path

import dlib
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError
from facesight.vision.align import (
    CHIP_KPS5,
    CHIP_PX,
    align_faces,
    chip_transforms,
    similarity_transform,
    warp_chip,
)
from facesight.vision.detect import FaceDetector
from facesight.vision.models.registry import DLIB_SHAPE5_FILE, dlib_model_path

from .paths import GROUP, PEOPLE

FACES = [
    PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg",
    PEOPLE / "Katy_Perry" / "deepface_img44.jpg",
    PEOPLE / "Jack_Dorsey" / "deepface_img16.jpg",
    PEOPLE / "deepface_unnamed_B" / "deepface_img58.jpg",
]


def _rgb(path: Path) -> NDArray[np.uint8]:
    return np.asarray(Image.open(path).convert("RGB"))


def _similarity(scale: float, angle: float, shift: tuple[float, float]) -> NDArray[np.float64]:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[scale * cos, -scale * sin, shift[0]], [scale * sin, scale * cos, shift[1]]])


def test_similarity_transform_recovers_a_known_similarity_exactly() -> None:
    truth = _similarity(2.5, 0.3, (40.0, -12.0))
    moved = (CHIP_KPS5 @ truth[:, :2].T + truth[:, 2]).astype(np.float32)
    np.testing.assert_allclose(similarity_transform(CHIP_KPS5, moved), truth, atol=1e-4)


def test_similarity_transform_never_reflects() -> None:
    mirrored = CHIP_KPS5 * np.array([-1.0, 1.0], np.float32)
    matrix = similarity_transform(CHIP_KPS5, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_weights_ignore_a_point_with_zero_weight() -> None:
    truth = _similarity(1.5, -0.2, (5.0, 7.0))
    moved = (CHIP_KPS5 @ truth[:, :2].T + truth[:, 2]).astype(np.float32)
    moved[4] += 30.0  # a wild mouth corner
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(similarity_transform(CHIP_KPS5, moved, weights), truth, atol=1e-4)


def test_chip_transforms_map_template_to_landmarks() -> None:
    kps5 = (CHIP_KPS5 * 2 + np.array([100.0, 50.0], np.float32))[None]
    (matrix,) = chip_transforms(kps5)
    np.testing.assert_allclose(matrix, [[2, 0, 100], [0, 2, 50]], atol=1e-4)


def test_empty_landmarks_give_no_chips() -> None:
    chips = align_faces(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 5, 2), np.float32))
    assert chips.shape == (0, CHIP_PX, CHIP_PX, 3) and chips.dtype == np.uint8
    assert chip_transforms(np.zeros((0, 5, 2), np.float32)).shape == (0, 2, 3)


def test_chip_of_identity_placement_copies_pixels() -> None:
    # landmarks exactly at the template in a 150 px image: the chip is the image
    image = np.random.default_rng(1).integers(0, 256, (CHIP_PX, CHIP_PX, 3), dtype=np.uint8)
    chips = align_faces(image, CHIP_KPS5[None])
    # float32 landmarks put samples a hair off the pixel centres: at most 1 level off
    assert np.abs(chips[0].astype(int) - image.astype(int)).max() <= 1


def test_face_partly_outside_the_image_gets_black_border() -> None:
    image = np.full((200, 200, 3), 200, np.uint8)
    chips = align_faces(image, (CHIP_KPS5 - 60.0)[None])
    assert chips.shape == (1, CHIP_PX, CHIP_PX, 3)
    assert chips[0, 0, 0].tolist() == [0, 0, 0] and chips[0, -1, -1].tolist() == [200, 200, 200]


@pytest.mark.parametrize(
    ("image", "kps5"),
    [
        (np.zeros((10, 10)), np.zeros((1, 5, 2))),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((1, 4, 2))),
    ],
    ids=["grey-float-image", "four-points"],
)
def test_align_rejects_bad_shapes(image: NDArray[np.uint8], kps5: NDArray[np.float32]) -> None:
    with pytest.raises(InvalidInputError):
        align_faces(image, kps5)


def test_real_faces_chips_put_eyes_where_the_template_says(detector: FaceDetector) -> None:
    for path in FACES:
        image = _rgb(path)
        faces = detector.detect(image)
        chips = align_faces(image, faces.kps5)
        assert chips.shape == (len(faces), CHIP_PX, CHIP_PX, 3) and chips.dtype == np.uint8
        # detect again inside the chip (on a grey margin, for context)
        canvas = np.full((2 * CHIP_PX, 2 * CHIP_PX, 3), 128, np.uint8)
        canvas[75 : 75 + CHIP_PX, 75 : 75 + CHIP_PX] = chips[0]
        again = detector.detect(canvas)
        assert len(again) == 1, path.name
        found = again.kps5[0] - 75
        # over all 72 people/ faces the eyes land a median 2.8 px (p90 4.6) off
        assert np.abs(found[:2] - CHIP_KPS5[:2]).max() < 8, path.name
        assert np.abs(found - CHIP_KPS5).max() < 14, path.name


@pytest.mark.parametrize(
    "path",
    [PEOPLE / "Katy_Perry" / "deepface_img46.jpg", PEOPLE / "Angelina_Jolie" / "deepface_img2.jpg"],
    ids=["small-face", "large-face-pyramid"],
)
def test_warp_reproduces_dlib_get_face_chip(path: Path) -> None:
    # dlib as the oracle: given dlib's own chip transform, our resampling
    # (bilinear, plus dlib's pyramid for large faces) gives dlib's pixels
    image = _rgb(path)
    rect = dlib.get_frontal_face_detector()(image, 0)[0]
    shape = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE5_FILE)))(image, rect)
    ours = warp_chip(image, _dlib_chip_to_image(dlib.get_face_chip_details(shape, CHIP_PX, 0.25)))
    theirs = dlib.get_face_chip(image, shape, CHIP_PX, 0.25)
    assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 0.1


def test_chips_of_a_group_photo_are_one_per_face(detector: FaceDetector) -> None:
    image = _rgb(GROUP / "facenet-pytorch_multiface.jpg")
    faces = detector.detect(image)
    chips = align_faces(image, faces.kps5)
    assert chips.shape == (6, CHIP_PX, CHIP_PX, 3)
    assert len({chip.tobytes() for chip in chips}) == 6


def _dlib_chip_to_image(details: dlib.chip_details) -> NDArray[np.float64]:
    """dlib's chip-to-image affine: chip corners onto the rotated ``details.rect`` corners."""
    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    corners = np.array(
        [[rect.left(), rect.top()], [rect.right(), rect.top()], [rect.left(), rect.bottom()]]
    )
    image_points = (corners - centre) @ rotation.T + centre
    chip_points = np.array([[0, 0, 1], [CHIP_PX - 1, 0, 1], [0, CHIP_PX - 1, 1]], np.float64)
    return np.linalg.solve(chip_points, image_points).T
