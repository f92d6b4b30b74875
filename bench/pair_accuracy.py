"""Pair accuracy on an LFW-style pair list (default: ../shared/faces/lfw-dev), k-fold CV.

Each image is described once by the full facesight pipeline (RetinaFace ->
alignment -> dlib ResNet in ONNX Runtime). LFW images are centred on their
subject, so the face nearest the image centre is used; an image where no
face is found makes its pairs errors. The threshold is chosen on k-1 folds
and tested on the remaining one.

Usage: python bench/pair_accuracy.py [--pairs P] [--images DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from facesight.detect import FaceDetector
from facesight.embed import FaceEmbedder
from facesight.eval.datasets import lfw_image_path, read_pairs
from facesight.eval.metrics import kfold_accuracy
from facesight.media import load_image
from facesight.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev"


def central_embedding(pipeline: FacePipeline, path: Path) -> np.ndarray | None:
    pixels = load_image(path).pixels
    analyzed = pipeline.analyze(pixels)
    if len(analyzed) == 0:
        return None
    centre = np.array([pixels.shape[1] / 2, pixels.shape[0] / 2])
    boxes = analyzed.faces.xyxy
    middle = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert analyzed.faces.embedding is not None
    return analyzed.faces.embedding[int(np.argmin(((middle - centre) ** 2).sum(1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=LFW_DEV / "pairs.txt")
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pairs = read_pairs(args.pairs)
    pipeline = FacePipeline(FaceDetector(), FaceEmbedder())
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    started = time.perf_counter()
    vectors = {k: central_embedding(pipeline, lfw_image_path(args.images, *k)) for k in keys}
    seconds = time.perf_counter() - started
    distances = np.array(
        [
            np.nan
            if vectors[p.first] is None or vectors[p.second] is None
            else float(np.linalg.norm(vectors[p.first] - vectors[p.second]))  # type: ignore[operator]
            for p in pairs
        ]
    )
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    result = kfold_accuracy(distances, same, folds)
    report = {
        "pairs": len(pairs),
        "images": len(keys),
        "folds": len(result.accuracies),
        "faces_not_found": sum(v is None for v in vectors.values()),
        "mean_accuracy": result.mean,
        "std_accuracy": result.std,
        "fold_accuracies": result.accuracies,
        "fold_thresholds": result.thresholds,
        "images_per_s": len(keys) / seconds,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['mean_accuracy']:.4f} +- {report['std_accuracy']:.4f} over "
            f"{report['folds']} folds of {len(pairs)} pairs; {report['faces_not_found']} "
            f"faces not found; thresholds {np.round(result.thresholds, 3).tolist()}; "
            f"{report['images_per_s']:.1f} images/s"
        )


if __name__ == "__main__":
    main()
