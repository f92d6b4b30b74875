"""Pair accuracy on an LFW-style pair list (default: ../shared/faces/lfw-dev), k-fold CV.

Each image is described once by the full facesight pipeline (RetinaFace ->
alignment -> dlib ResNet in ONNX Runtime). LFW images are centred on their
subject, so the face nearest the image centre is used; an image where no
face is found makes its pairs errors. The threshold is chosen on k-1 folds
and tested on the remaining one.

Two descriptors are measured from the same chips: dlib's own (what the
pipeline stores) and the flip-averaged, length-normalised one of
``FaceEmbedder.describe``.

Usage: python bench/pair_accuracy.py [--pairs P] [--images DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from facesight.align import align_faces
from facesight.detect import FaceDetector
from facesight.embed import FaceEmbedder
from facesight.eval.datasets import Pair, lfw_image_path, read_pairs
from facesight.eval.metrics import kfold_accuracy
from facesight.media import load_image

Key = tuple[str, int]
LFW_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev"


def central_chip(detector: FaceDetector, path: Path) -> np.ndarray | None:
    """The aligned chip of the face nearest the image centre, or None if no face."""
    pixels = load_image(path).pixels
    faces = detector.detect(pixels)
    if len(faces) == 0:
        return None
    centre = np.array([pixels.shape[1] / 2, pixels.shape[0] / 2])
    middle = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    nearest = int(np.argmin(((middle - centre) ** 2).sum(1)))
    return align_faces(pixels, faces.kps5[nearest : nearest + 1])


def evaluate(vectors: dict[Key, np.ndarray | None], pairs: list[Pair]) -> dict[str, object]:
    distances = np.array(
        [
            np.nan
            if vectors[p.first] is None or vectors[p.second] is None
            else float(np.linalg.norm(vectors[p.first] - vectors[p.second]))  # type: ignore[operator]
            for p in pairs
        ]
    )
    same = np.array([p.same for p in pairs])
    result = kfold_accuracy(distances, same, np.array([p.fold for p in pairs]))
    return {
        "mean_accuracy": result.mean,
        "std_accuracy": result.std,
        "fold_accuracies": result.accuracies,
        "fold_thresholds": result.thresholds,
        "accuracy_at_0.6": float(np.mean(np.isfinite(distances) & ((distances <= 0.6) == same))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=LFW_DEV / "pairs.txt")
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pairs = read_pairs(args.pairs)
    detector, embedder = FaceDetector(), FaceEmbedder()
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    started = time.perf_counter()
    raw: dict[Key, np.ndarray | None] = {}
    described: dict[Key, np.ndarray | None] = {}
    for key in keys:
        chip = central_chip(detector, lfw_image_path(args.images, *key))
        raw[key] = None if chip is None else embedder.embed(chip)[0]
        described[key] = None if chip is None else embedder.describe(chip)[0]
    seconds = time.perf_counter() - started
    report = {
        "pairs": len(pairs),
        "images": len(keys),
        "faces_not_found": sum(v is None for v in raw.values()),
        "seconds": seconds,
        "dlib_descriptor": evaluate(raw, pairs),
        "flip_averaged_length_normalised": evaluate(described, pairs),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(pairs)} pairs, {len(keys)} images, {report['faces_not_found']} faces not found")
    for name in ("dlib_descriptor", "flip_averaged_length_normalised"):
        r = report[name]
        assert isinstance(r, dict)
        print(
            f"{name}: {r['mean_accuracy']:.4f} +- {r['std_accuracy']:.4f} (5-fold CV), "
            f"thresholds {np.round(r['fold_thresholds'], 3).tolist()}, "
            f"{r['accuracy_at_0.6']:.4f} at the fixed 0.6"
        )


if __name__ == "__main__":
    main()
