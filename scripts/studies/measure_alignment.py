"""Choose an alignment by LFW verification accuracy, with dlib's own descriptor.

Study (a record, not rerun by CI): its numbers in docs/accuracy.md came from commit 5fcbfc2.

The issue left two ways to cut dlib-style chips without dlib at run time:
map RetinaFace's landmarks onto a measured template (what facesight.vision.align
does), or port dlib's 5-point shape predictor. This script measures both,
using dlib as the oracle for the second, on lfw-dev/pairs.txt:

``template``      (a) RetinaFace landmarks + CHIP_KPS5 + facesight.vision.align
``template_eyes`` (a') the same with the fit weighted to eyes and nose (1, 1, .25, 0, 0)
``box_sp``        (b) RetinaFace box -> dlib 5-point shape predictor -> get_face_chip
``calbox_sp``     (b') as (b), the box first mapped to where dlib's HOG detector
                  would put it (median offsets fitted on LFW images outside pairs.txt)
``hog_sp``        (c) dlib's whole pipeline: HOG detector -> shape predictor ->
                  get_face_chip; where HOG finds nothing, the calibrated box

Each chip is described by ``dlib.face_recognition_model_v1`` and a pair's
distance is the Euclidean distance of the descriptors. Accuracy is
cross-validated over the folds used: the threshold is chosen on the other
folds and tested on each; a pair with a face not found counts as an error.
In LFW images the target face is the one nearest the centre.

Usage::

    python scripts/studies/measure_alignment.py --folds 1,2            # quick subset
    python scripts/studies/measure_alignment.py                        # all 5 folds
    python scripts/studies/measure_alignment.py --variants template,box_sp

``--check-resampling`` instead compares, on the large faces of people/ and
distractors/, chips resampled from dlib's own transform with no pre-reduction,
a Pillow box reduction, and facesight's emulation of dlib's pyramid against
``dlib.get_face_chip`` (pixels and descriptor distance).

Descriptors are cached in ``--cache`` (default /tmp/facesight-align-cache), so
a later run over more folds only computes the new images.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlib
import numpy as np
from numpy.typing import NDArray
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
import dlib_oracle as oracle

from facesight.faces import Faces
from facesight.vision.align import CHIP_KPS5, pyramid_levels, similarity_transform, warp_chip
from facesight.vision.detect import FaceDetector

VARIANTS = ("template", "template_eyes", "box_sp", "calbox_sp", "hog_sp")
EYES_NOSE_WEIGHTS = np.array([1.0, 1.0, 0.25, 0.0, 0.0])
Chip = NDArray[np.uint8] | None


class Aligners:
    """Cuts the chip of the centred face of an LFW image, one method per variant."""

    def __init__(self, calibration: dict[str, float]) -> None:
        self.detector = FaceDetector(intra_op_threads=1)
        self.predictor = oracle.shape_predictor()
        self.hog = dlib.get_frontal_face_detector()
        self.calibration = calibration
        self.hog_misses = 0

    def centre_face(self, image: NDArray[np.uint8]) -> Faces | None:
        faces = self.detector.detect(image)
        index = oracle.centre_index(faces.xyxy, image.shape)
        return None if index is None else faces[index]

    def chip(self, variant: str, image: NDArray[np.uint8]) -> Chip:
        face = self.centre_face(image)
        methods: dict[str, Callable[[NDArray[np.uint8], Faces | None], Chip]] = {
            "template": self._template,
            "template_eyes": self._template_eyes,
            "box_sp": self._box_sp,
            "calbox_sp": self._calbox_sp,
            "hog_sp": self._hog_sp,
        }
        return methods[variant](image, face)

    def _template(self, image: NDArray[np.uint8], face: Faces | None) -> Chip:
        if face is None:
            return None
        return warp_chip(image, similarity_transform(CHIP_KPS5, face.kps5[0]))

    def _template_eyes(self, image: NDArray[np.uint8], face: Faces | None) -> Chip:
        if face is None:
            return None
        return warp_chip(image, similarity_transform(CHIP_KPS5, face.kps5[0], EYES_NOSE_WEIGHTS))

    def _sp_chip(self, image: NDArray[np.uint8], rect: Any) -> NDArray[np.uint8]:
        shape = self.predictor(image, rect)
        chip: NDArray[np.uint8] = dlib.get_face_chip(image, shape, oracle.CHIP_PX, oracle.PADDING)
        return chip

    def _box_sp(self, image: NDArray[np.uint8], face: Faces | None) -> Chip:
        if face is None:
            return None
        return self._sp_chip(image, oracle.dlib_rect(face.xyxy[0]))

    def _calbox_sp(self, image: NDArray[np.uint8], face: Faces | None) -> Chip:
        if face is None:
            return None
        return self._sp_chip(image, oracle.dlib_rect(calibrate(face.xyxy[0], self.calibration)))

    def _hog_sp(self, image: NDArray[np.uint8], face: Faces | None) -> Chip:
        rects = self.hog(image, 1)
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects])
        index = oracle.centre_index(boxes, image.shape)
        if index is not None:
            return self._sp_chip(image, rects[index])
        self.hog_misses += 1
        return self._calbox_sp(image, face)


def calibrate(xyxy: NDArray[Any], calibration: dict[str, float]) -> NDArray[np.float64]:
    """Map a RetinaFace box to where dlib's HOG detector would put it."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    width, height = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2 + calibration["dx"] * width
    cy = (y1 + y2) / 2 + calibration["dy"] * height
    w, h = calibration["sw"] * width, calibration["sh"] * height
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def fit_calibration(cache: Path) -> dict[str, float]:
    """Median offsets and scales from RetinaFace boxes to HOG boxes on unpaired LFW images."""
    path = cache / "box_calibration.json"
    if path.exists():
        loaded: dict[str, float] = json.loads(path.read_text())
        return loaded
    detector, hog = FaceDetector(intra_op_threads=1), dlib.get_frontal_face_detector()
    rows = []
    for image_path in oracle.lfw_unpaired_images():
        image = np.asarray(Image.open(image_path).convert("RGB"))
        faces, rects = detector.detect(image), hog(image, 1)
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects])
        ours, theirs = (
            oracle.centre_index(faces.xyxy, image.shape),
            oracle.centre_index(boxes, image.shape),
        )
        if ours is not None and theirs is not None:
            rows.append((faces.xyxy[ours], boxes[theirs]))
    ret = np.array([r[0] for r in rows], np.float64)
    hog_boxes = np.array([r[1] for r in rows], np.float64)
    rw, rh = ret[:, 2] - ret[:, 0], ret[:, 3] - ret[:, 1]
    calibration = {
        "dx": float(
            np.median(((hog_boxes[:, 0] + hog_boxes[:, 2]) - (ret[:, 0] + ret[:, 2])) / 2 / rw)
        ),
        "dy": float(
            np.median(((hog_boxes[:, 1] + hog_boxes[:, 3]) - (ret[:, 1] + ret[:, 3])) / 2 / rh)
        ),
        "sw": float(np.median((hog_boxes[:, 2] - hog_boxes[:, 0]) / rw)),
        "sh": float(np.median((hog_boxes[:, 3] - hog_boxes[:, 1]) / rh)),
        "faces": len(rows),
    }
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration, indent=2))
    return calibration


def descriptors(variant: str, paths: list[Path], aligners: Aligners, cache: Path) -> dict[str, Any]:
    """Descriptor (128,) per image path, NaN where no face was found; cached per variant."""
    store = cache / f"descriptors_{variant}.npz"
    known: dict[str, Any] = dict(np.load(store)) if store.exists() else {}
    model = oracle.face_descriptor_model()
    todo = [p for p in paths if str(p.relative_to(oracle.LFW)) not in known]
    started = time.perf_counter()
    for count, path in enumerate(todo, 1):
        image = np.asarray(Image.open(path).convert("RGB"))
        chip = aligners.chip(variant, image)
        vector = (
            np.full(128, np.nan) if chip is None else np.array(model.compute_face_descriptor(chip))
        )
        known[str(path.relative_to(oracle.LFW))] = vector
        if count % 500 == 0 or count == len(todo):
            np.savez(store, **known)
            rate = count / (time.perf_counter() - started)
            print(f"  {variant}: {count}/{len(todo)} new images ({rate:.1f}/s)", file=sys.stderr)
    return known


def cross_validated(
    distance: NDArray[Any], same: NDArray[Any], folds: NDArray[Any]
) -> NDArray[Any]:
    """Per-fold accuracy; threshold from the other folds; NaN distance (no face) = error."""
    accuracies = []
    for fold in np.unique(folds):
        train = (folds != fold) & ~np.isnan(distance)
        test = folds == fold
        threshold = best_threshold(distance[train], same[train])
        correct = (distance[test] < threshold) == same[test]
        accuracies.append(np.mean(correct & ~np.isnan(distance[test])))
    return np.array(accuracies)


def best_threshold(distance: NDArray[Any], same: NDArray[Any]) -> float:
    """The distance threshold (same if below) with the highest accuracy on these pairs."""
    ordered = np.sort(distance)
    candidates = np.concatenate([[0.0], (ordered[1:] + ordered[:-1]) / 2, [ordered[-1] + 1]])
    scores = [np.mean((distance < t) == same) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def _bilinear(image: NDArray[np.uint8], chip_to_image: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Plain bilinear chip (no pre-reduction); Pillow samples at pixel centres."""
    coeffs = chip_to_image.copy()
    coeffs[:, 2] += 0.5 - 0.5 * chip_to_image[:, :2].sum(axis=1)
    chip = Image.fromarray(image).transform(
        (oracle.CHIP_PX, oracle.CHIP_PX),
        Image.Transform.AFFINE,
        data=tuple(coeffs.ravel()),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(chip)


def _box_reduced(image: NDArray[np.uint8], chip_to_image: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Pillow box reduction by dlib's power of two, then bilinear."""
    factor = 2 ** pyramid_levels(chip_to_image)
    reduced = np.asarray(Image.fromarray(image).reduce(factor))
    local = chip_to_image / factor
    local[:, 2] -= (factor - 1) / 2 / factor
    return _bilinear(reduced, local)


def check_resampling() -> None:
    """How close each resampling of large faces comes to dlib.get_face_chip."""
    hog, predictor = dlib.get_frontal_face_detector(), oracle.shape_predictor()
    model = oracle.face_descriptor_model()
    faces_dir = oracle.LFW.parent
    paths = sorted((faces_dir / "people").glob("*/*.jpg")) + sorted(
        (faces_dir / "distractors").glob("*.jpg")
    )
    methods = {"none": _bilinear, "box": _box_reduced, "dlib_pyramid": warp_chip}
    pixels: dict[str, list[float]] = {name: [] for name in methods}
    distances: dict[str, list[float]] = {name: [] for name in methods}
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        rects = hog(image, 0)
        if not rects:
            continue
        shape = predictor(image, rects[0])
        details = dlib.get_face_chip_details(shape, oracle.CHIP_PX, oracle.PADDING)
        chip_to_image = oracle.invert_affine(oracle.image_to_chip(details))
        if pyramid_levels(chip_to_image) == 0:
            continue
        reference = dlib.get_face_chip(image, shape, oracle.CHIP_PX, oracle.PADDING)
        wanted = np.array(model.compute_face_descriptor(reference))
        for name, method in methods.items():
            chip = method(image, chip_to_image)
            pixels[name].append(float(np.abs(chip.astype(int) - reference.astype(int)).mean()))
            got = np.array(model.compute_face_descriptor(chip))
            distances[name].append(float(np.linalg.norm(got - wanted)))
    print(f"{len(pixels['none'])} faces large enough for dlib's pyramid")
    for name in methods:
        print(
            f"{name:13s} mean |pixel - dlib| {np.mean(pixels[name]):.2f}; descriptor distance "
            f"to dlib's chip mean {np.mean(distances[name]):.4f} max {np.max(distances[name]):.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="1,2,3,4,5", help="comma-separated fold numbers")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facesight-align-cache"))
    parser.add_argument("--check-resampling", action="store_true")
    args = parser.parse_args()
    if args.check_resampling:
        check_resampling()
        return
    wanted = {int(f) for f in args.folds.split(",")}
    pairs = [p for p in oracle.read_pairs() if p.fold in wanted]
    paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    print(f"{len(pairs)} pairs in folds {sorted(wanted)}, {len(paths)} images")
    aligners = Aligners(fit_calibration(args.cache))
    print("box calibration:", json.dumps(aligners.calibration))
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    for variant in args.variants.split(","):
        known = descriptors(variant, paths, aligners, args.cache)
        key = lambda p: str(p.relative_to(oracle.LFW))  # noqa: E731
        distance = np.array(
            [np.linalg.norm(known[key(p.first)] - known[key(p.second)]) for p in pairs]
        )
        missing = sum(np.isnan(known[key(p)]).any() for p in paths)
        per_fold = cross_validated(distance, same, folds)
        at_06 = np.mean(((distance < 0.6) == same) & ~np.isnan(distance))
        print(
            f"{variant:14s} CV accuracy {per_fold.mean():.4f} +- {per_fold.std():.4f} "
            f"(folds {' '.join(f'{a:.4f}' for a in per_fold)}); at dlib's 0.6: {at_06:.4f}; "
            f"images without a face: {missing}; pairs lost: {int(np.isnan(distance).sum())}"
        )
    if aligners.hog_misses:
        print(
            f"hog_sp: HOG found no face in {aligners.hog_misses} new images (calibrated box used)"
        )


if __name__ == "__main__":
    main()
