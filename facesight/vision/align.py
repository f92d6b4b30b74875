"""Face alignment: cut 150x150 chips in the geometry dlib's face ResNet was trained on.

dlib's descriptor expects ``get_face_chip(img, shape, size=150, padding=0.25)``
chips, computed from the landmarks of its own 5-point shape predictor. We do
not run that predictor: we map RetinaFace's five landmarks onto a template of
where those landmarks fall, on average, inside dlib's chip (measured with dlib
as the oracle, see ``CHIP_KPS5``), fit a least-squares similarity transform
(Umeyama) and resample as dlib's ``extract_image_chip`` does: bilinear, after
halving the image with dlib's own ``pyramid_down<2>`` filter while the face is
over twice the chip's size (so large faces do not alias). Given the same
transform, our chips equal dlib's to within 0.02 grey levels on average; with
plain bilinear sampling large faces were off by 3.8 levels, and their dlib
descriptors by 0.077 (``scripts/studies/measure_alignment.py --check-resampling``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError

__all__ = [
    "BOX_KPS5",
    "CHIP_KPS5",
    "CHIP_PX",
    "align_faces",
    "chip_transforms",
    "pyramid_levels",
    "similarity_transform",
    "warp_chip",
]

#: side of the chips, in pixels, that dlib's ResNet takes
CHIP_PX = 150

# dlib's pyramid_down<2> filter, applied along rows then columns (sum 16 each)
_PYRAMID_TAPS = (1, 4, 6, 4, 1)

#: (5, 2) float32 positions, in chip pixels (pixel centres at integers), of
#: RetinaFace's landmarks (image-left eye, image-right eye, nose tip,
#: image-left and image-right mouth corner) in dlib's 150 px, padding 0.25
#: face chip. Measured by ``scripts/data/fit_chip_template.py`` on the 1,563 lfw-dev
#: images that ``pairs.txt`` does not use: for each centred face, dlib's HOG
#: detector + 5-point shape predictor gave dlib's chip transform (exactly as
#: ``get_face_chip_details`` computes it); RetinaFace's landmarks of the same
#: face were mapped through it; the mean over 1,479 faces (the 5 % farthest
#: from the median dropped) is the template. Aligning to it, dlib's descriptor
#: scores 99.06 % on the lfw-dev pairs (5-fold CV), against 98.83 % for
#: RetinaFace boxes + dlib's shape predictor and 98.63 % for dlib's own
#: HOG + shape predictor (``scripts/studies/measure_alignment.py``).
CHIP_KPS5 = np.array(
    [
        [46.49, 45.54],
        [102.09, 45.10],
        [73.09, 77.60],
        [50.72, 103.68],
        [97.25, 103.45],
    ],
    dtype=np.float32,
)


#: (5, 2) float32 mean positions of RetinaFace's five landmarks inside its own face box,
#: as fractions of the box width and height (same order as ``CHIP_KPS5``): the landmarks
#: given to a box no detector found (a tagged region, ``FacePipeline.describe_region``).
#: Measured over the 78 faces of ``shared/faces/people`` by
#: ``scripts/studies/measure_box_landmarks.py`` (spread 0.03-0.13 of the box: a region
#: drawn off-centre or turned gives a worse chip than a detection would).
BOX_KPS5 = np.array(
    [
        [0.278, 0.406],
        [0.725, 0.400],
        [0.508, 0.597],
        [0.312, 0.740],
        [0.708, 0.736],
    ],
    dtype=np.float32,
)


def similarity_transform(
    src: NDArray[np.float32],
    dst: NDArray[np.float32],
    weights: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Least-squares similarity (rotation, uniform scale, shift) taking ``src`` to ``dst``.

    Umeyama (1991), reflections excluded, optionally weighted per point.

    Args:
        src: (k, 2) points, k >= 2.
        dst: (k, 2) corresponding points.
        weights: (k,) non-negative point weights; None weighs all equally.

    Returns:
        (2, 3) float64 matrix M with ``dst ~= src @ M[:, :2].T + M[:, 2]``.
    """
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    w = np.ones(len(src64)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    src_mean, dst_mean = w @ src64, w @ dst64
    src_c, dst_c = src64 - src_mean, dst64 - dst_mean
    u, sigma, vt = np.linalg.svd((dst_c * w[:, None]).T @ src_c)
    sign = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(sign) @ vt
    variance = float(w @ (src_c**2).sum(axis=1))
    scale = float(sigma @ sign) / variance if variance > 0 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def chip_transforms(kps5: NDArray[np.float32]) -> NDArray[np.float64]:
    """Chip-to-image transforms for faces with these landmarks.

    Args:
        kps5: (n, 5, 2) landmarks in source pixels.

    Returns:
        (n, 2, 3) float64 matrices taking chip pixel (x, y) to source pixels.
    """
    matrices = [similarity_transform(CHIP_KPS5, points) for points in kps5]
    return np.stack(matrices) if matrices else np.zeros((0, 2, 3))


def align_faces(image: NDArray[np.uint8], kps5: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Cut one aligned chip per face, as dlib's ``get_face_chip(size=150, padding=0.25)``.

    Args:
        image: (H, W, 3) uint8 RGB image.
        kps5: (n, 5, 2) float32 RetinaFace landmarks in pixels of ``image``
            (the order of ``Faces.kps5``).

    Returns:
        (n, 150, 150, 3) uint8 RGB chips; pixels outside the image are black.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(
            f"image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}"
        )
    points = np.asarray(kps5, dtype=np.float32)
    if points.ndim != 3 or points.shape[1:] != (5, 2):
        raise InvalidInputError(f"kps5 must have shape (n, 5, 2), got {points.shape}")
    chips = np.zeros((len(points), CHIP_PX, CHIP_PX, 3), np.uint8)
    if len(points) == 0:
        return chips
    for index, matrix in enumerate(chip_transforms(points)):
        chips[index] = warp_chip(image, matrix)
    return chips


def pyramid_levels(matrix: NDArray[np.float64]) -> int:
    """How many times dlib's ``extract_image_chip`` halves the image for this chip.

    dlib halves while the chip's source rectangle, halved once more, still
    exceeds the chip, so its final bilinear step shrinks by at most 2x.
    """
    rect_px = math.sqrt(abs(np.linalg.det(matrix[:, :2]))) * (CHIP_PX - 1)
    levels = 0
    while rect_px / 2 ** (levels + 1) > CHIP_PX:
        levels += 1
    return levels


def _pyramid_down(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """dlib's ``pyramid_down<2>`` on RGB: separable [1 4 6 4 1] / 16 filter, every 2nd pixel.

    Args:
        pixels: (h, w, 3) uint8, h and w > 8.

    Returns:
        ((h - 3) // 2, (w - 3) // 2, 3) uint8; output pixel (r, c) is centred
        on input pixel (2r + 2, 2c + 2). Integer arithmetic, truncated, as dlib.
    """
    wide = pixels.astype(np.uint32)
    rows, cols = (pixels.shape[0] - 3) // 2, (pixels.shape[1] - 3) // 2
    across = np.zeros((pixels.shape[0], cols, 3), np.uint32)
    for k, tap in enumerate(_PYRAMID_TAPS):
        across += tap * wide[:, k : k + 2 * cols : 2]
    down = np.zeros((rows, cols, 3), np.uint32)
    for k, tap in enumerate(_PYRAMID_TAPS):
        down += tap * across[k : k + 2 * rows : 2]
    return (down // 256).astype(np.uint8)


def _source_box(
    matrix: NDArray[np.float64], levels: int, height: int, width: int
) -> tuple[int, int, int, int]:
    """Inclusive x0, y0, x1, y1 of the region dlib builds its pyramid on.

    The chip's footprint, grown by 2 px and then ``2 * grow + 2`` per extra
    level, clipped to the image and rounded. Its top-left corner fixes the
    phase of the pyramid's subsampling, so it must match dlib's exactly.
    """
    corners = np.array([[0, 0], [CHIP_PX - 1, 0], [0, CHIP_PX - 1], [CHIP_PX - 1, CHIP_PX - 1]])
    footprint = corners @ matrix[:, :2].T + matrix[:, 2]
    grow = 2.0
    for _ in range(1, levels):
        grow = 2 * grow + 2
    x0, y0 = np.maximum(footprint.min(axis=0) - grow, 0.0)
    x1, y1 = np.minimum(footprint.max(axis=0) + grow, [width - 1.0, height - 1.0])
    # dlib converts the drectangle to a rectangle by rounding each side
    return _round(x0), _round(y0), _round(x1), _round(y1)


def _round(value: float) -> int:
    """Round half up, as dlib's drectangle-to-rectangle conversion."""
    return math.floor(value + 0.5)


def warp_chip(image: NDArray[np.uint8], matrix: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Resample one (150, 150, 3) chip as dlib does; ``matrix`` takes chip to source pixels."""
    blank = np.zeros((CHIP_PX, CHIP_PX, 3), np.uint8)
    levels = pyramid_levels(matrix)
    x0, y0, x1, y1 = _source_box(matrix, levels, image.shape[0], image.shape[1])
    if x1 <= x0 or y1 <= y0:
        return blank
    region = image[y0 : y1 + 1, x0 : x1 + 1]
    local = matrix.copy()
    local[:, 2] -= (x0, y0)
    for _ in range(levels):
        if min(region.shape[:2]) <= 8:
            return blank
        region = _pyramid_down(region)
        # dlib's pyramid_down<2>::point_down: p / 2 - (1.25, 0.75)
        local /= 2
        local[:, 2] -= (1.25, 0.75)
    # Pillow samples at pixel centres (+0.5) in both images
    coeffs = local.copy()
    coeffs[:, 2] += 0.5 - 0.5 * local[:, :2].sum(axis=1)
    chip = Image.fromarray(np.ascontiguousarray(region)).transform(
        (CHIP_PX, CHIP_PX),
        Image.Transform.AFFINE,
        data=tuple(coeffs.ravel()),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(chip, dtype=np.uint8)
