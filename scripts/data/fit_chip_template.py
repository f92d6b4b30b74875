"""Measure where RetinaFace's 5 landmarks fall inside dlib's 150 px face chip.

dlib's face ResNet expects chips cut by ``get_face_chip(img, shape, 150, 0.25)``
from the landmarks of dlib's own 5-point shape predictor. facesight aligns from
RetinaFace's landmarks instead, so it needs the average position of *those*
landmarks in dlib's chip: ``facesight.vision.align.CHIP_KPS5``. This script measures it,
using dlib as the oracle:

1. on every lfw-dev image that ``pairs.txt`` does not use (so the pairs stay a
   clean test set), run dlib's HOG detector and 5-point shape predictor on the
   centred face and take the image-to-chip transform ``get_face_chip_details``
   gives (reproduced exactly: ``dlib_oracle.image_to_chip``);
2. run facesight's RetinaFace on the same image and map its landmarks of the
   centred face through that transform;
3. take a trimmed mean (the 5 % of faces farthest from the median dropped).

It then checks, on the other half of the faces (2-fold), how far the chip
transform facesight fits from the template lands from dlib's, in chip pixels.

Usage::

    python scripts/data/fit_chip_template.py [--limit N] [--quick]

``--quick`` (the smoke run of tests/test_scripts.py) uses the first 12 images only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import dlib
import numpy as np
from numpy.typing import NDArray
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dlib_oracle as oracle

from facesight.vision.align import similarity_transform
from facesight.vision.detect import FaceDetector

TRIM = 0.05
QUICK_IMAGES = 12


def measure(paths: list[Path]) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """RetinaFace landmarks in dlib chip pixels, and dlib's chip-to-image transforms.

    Returns:
        (m, 5, 2) landmarks in chip pixels, (m, 2, 3) dlib chip-to-image
        transforms, and the number of images skipped (a detector found nothing).
    """
    detector = FaceDetector(intra_op_threads=1)
    hog = dlib.get_frontal_face_detector()
    predictor = oracle.shape_predictor()
    points, transforms, skipped = [], [], 0
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = detector.detect(image)
        rects = hog(image, 1)
        ours = oracle.centre_index(faces.xyxy, image.shape)
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects])
        theirs = oracle.centre_index(boxes, image.shape)
        if ours is None or theirs is None:
            skipped += 1
            continue
        shape = predictor(image, rects[theirs])
        details = dlib.get_face_chip_details(shape, oracle.CHIP_PX, oracle.PADDING)
        to_chip = oracle.image_to_chip(details)
        points.append(oracle.apply_affine(to_chip, faces.kps5[ours]))
        transforms.append(oracle.invert_affine(to_chip))
    return np.array(points), np.array(transforms), skipped


def robust_mean(points: NDArray[np.float64], trim: float = TRIM) -> tuple[NDArray[Any], int]:
    """Mean of (m, 5, 2) point sets after dropping the ``trim`` share farthest from the median."""
    median = np.median(points, axis=0)
    residual = np.linalg.norm(points - median, axis=2).max(axis=1)
    keep = residual <= np.quantile(residual, 1 - trim)
    return points[keep].mean(axis=0), int((~keep).sum())


def transform_error(
    template: NDArray[Any], points: NDArray[np.float64], transforms: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(m,) mean distance, in chip pixels, between our chip and dlib's at 9 chip points.

    ``points`` are RetinaFace landmarks in dlib chip pixels; our transform from
    the template to them should be the identity if we matched dlib exactly.
    """
    grid = np.array([[x, y] for x in (0, 74.5, 149) for y in (0, 74.5, 149)])
    errors = []
    for chip_points in points:
        ours = similarity_transform(template.astype(np.float32), chip_points.astype(np.float32))
        moved = grid @ ours[:, :2].T + ours[:, 2]
        errors.append(np.linalg.norm(moved - grid, axis=1).mean())
    return np.array(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    parser.add_argument("--quick", action="store_true", help="the first 12 images (a smoke run)")
    args = parser.parse_args()
    paths = oracle.lfw_unpaired_images()
    limit = QUICK_IMAGES if args.quick else args.limit
    if limit:
        paths = paths[:limit]
    started = time.perf_counter()
    points, transforms, skipped = measure(paths)
    print(
        f"{len(paths)} images, {len(points)} faces measured, {skipped} skipped, "
        f"{time.perf_counter() - started:.0f} s"
    )
    template, dropped = robust_mean(points)
    print(f"trimmed mean over {len(points) - dropped} faces ({dropped} dropped):")
    print("CHIP_KPS5 = [" + ", ".join(f"[{x:.2f}, {y:.2f}]" for x, y in template) + "]")
    print("per-point std (chip px):", np.round(points.std(axis=0), 2).tolist())
    half = len(points) // 2
    fit_a, _ = robust_mean(points[:half])
    fit_b, _ = robust_mean(points[half:])
    error = np.concatenate(
        [
            transform_error(fit_a, points[half:], transforms[half:]),
            transform_error(fit_b, points[:half], transforms[:half]),
        ]
    )
    print(
        f"2-fold held-out chip error vs dlib (chip px): median {np.median(error):.2f}, "
        f"p90 {np.quantile(error, 0.9):.2f}, max {error.max():.2f}"
    )


if __name__ == "__main__":
    main()
