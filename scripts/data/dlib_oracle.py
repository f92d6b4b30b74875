"""dlib as a measuring oracle for the scripts (never imported by the facesight package).

Holds what ``fit_chip_template.py`` and ``measure_alignment.py`` share: dlib's
models, the exact image-to-chip mapping of ``dlib.get_face_chip``, LFW pairs
parsing, and the choice of the centred face in an LFW image.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlib
import numpy as np
from numpy.typing import NDArray

from facesight.vision.models.registry import DLIB_SHAPE5_FILE, dlib_model_path

LFW = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
CHIP_PX = 150
PADDING = 0.25


@dataclass(frozen=True)
class Pair:
    """One LFW pair: fold number (1-based), two image paths and whether they match."""

    fold: int
    first: Path
    second: Path
    same: bool


def lfw_image(name: str, number: int) -> Path:
    """Path of ``people/<name>/<name>_<number:04d>.jpg`` in lfw-dev."""
    return LFW / "people" / name / f"{name}_{number:04d}.jpg"


def read_pairs(path: Path = LFW / "pairs.txt") -> list[Pair]:
    """Parse the fold-header pairs file ("fold K N", then N pair lines)."""
    pairs: list[Pair] = []
    fold = 0
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or line.startswith("#"):
            continue
        if fields[0] == "fold":
            fold = int(fields[1])
        elif len(fields) == 3:
            name, i, j = fields
            pairs.append(Pair(fold, lfw_image(name, int(i)), lfw_image(name, int(j)), True))
        elif len(fields) == 4:
            a, i, b, j = fields
            pairs.append(Pair(fold, lfw_image(a, int(i)), lfw_image(b, int(j)), False))
        else:
            raise ValueError(f"unexpected line in {path}: {line!r}")
    return pairs


def lfw_unpaired_images() -> list[Path]:
    """LFW images that no pair in pairs.txt uses: the template is fitted on these."""
    used = {p for pair in read_pairs() for p in (pair.first, pair.second)}
    every = sorted((LFW / "people").glob("*/*.jpg"))
    return [p for p in every if p not in used and re.search(r"_\d{4}\.jpg$", p.name)]


def centre_index(xyxy: NDArray[Any], shape: tuple[int, ...]) -> int | None:
    """Index of the box whose centre is closest to the image centre, None if no boxes."""
    if len(xyxy) == 0:
        return None
    centres = (np.asarray(xyxy)[:, :2] + np.asarray(xyxy)[:, 2:]) / 2
    target = np.array([shape[1], shape[0]], np.float64) / 2
    return int(np.argmin(((centres - target) ** 2).sum(axis=1)))


def shape_predictor() -> Any:
    """dlib's 5-point shape predictor (shape_predictor_5_face_landmarks.dat)."""
    return dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE5_FILE)))


def face_descriptor_model() -> Any:
    """dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat)."""
    return dlib.face_recognition_model_v1(
        str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
    )


def _rotate(centre: NDArray[np.float64], point: NDArray[np.float64], angle: float) -> Any:
    cos, sin = math.cos(angle), math.sin(angle)
    d = point - centre
    return centre + np.array([cos * d[0] - sin * d[1], sin * d[0] + cos * d[1]])


def image_to_chip(details: Any) -> NDArray[np.float64]:
    """(2, 3) affine taking image pixels to chip pixels, as dlib's get_mapping_to_chip.

    ``details`` is a ``dlib.chip_details``; dlib maps three rotated corners of
    its ``rect`` onto the chip corners (0, 0), (cols-1, 0), (cols-1, rows-1).
    """
    rect = details.rect
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    corners = [(rect.left(), rect.top()), (rect.right(), rect.top()), (rect.right(), rect.bottom())]
    src = np.array([_rotate(centre, np.array(c, float), details.angle) for c in corners])
    dst = np.array(
        [[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], np.float64
    )
    # solve dst = A @ src + b for the 2x3 [A | b]
    design = np.hstack([src, np.ones((3, 1))])
    return np.linalg.solve(design, dst).T


def invert_affine(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of a (2, 3) affine."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear, -linear @ matrix[:, 2:]])


def apply_affine(matrix: NDArray[np.float64], points: NDArray[Any]) -> NDArray[np.float64]:
    """Map (..., 2) points through a (2, 3) affine."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def dlib_rect(xyxy: NDArray[Any]) -> Any:
    """A dlib.rectangle from an x1 y1 x2 y2 box (rounded, inclusive corners)."""
    x1, y1, x2, y2 = (round(float(v)) for v in xyxy)
    return dlib.rectangle(x1, y1, x2, y2)
