"""Whole-pipeline speed on ../shared/faces: facesight scan vs dlib's own pipeline.

Both run in this one process on the same images (the machines are noisy, so the
ratio is the figure to trust). facesight: a real ``Library.scan`` into a fresh
temporary library (decode, detect, align, embed, match, store, crops). Peer:
face_recognition's default usage done with dlib directly (HOG detector with
one upsample, 5-point landmarks, ResNet descriptor), the usual dlib pipeline.

Usage: python bench/pipeline_throughput.py [--peer-images N] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from facesight.library import Library
from facesight.media import find_media, load_image
from facesight.models.registry import DLIB_RESNET_FILE, DLIB_SHAPE5_FILE, dlib_model_path

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
FOLDERS = [FACES / name for name in ("people", "group", "distractors", "noface")]


def facesight_run(images: list[Path]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "lib") as library:
        library.pipeline.detector.load()
        library.pipeline.embedder.load()
        started = time.perf_counter()
        summary = library.scan(images)
        seconds = time.perf_counter() - started
    return {
        "images": summary.media_scanned,
        "faces": summary.faces_found,
        "seconds": seconds,
        "images_per_s": summary.media_scanned / seconds,
    }


def dlib_run(images: list[Path]) -> dict[str, float]:
    import dlib  # test/bench-only oracle

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE5_FILE)))
    resnet = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
    faces = 0
    started = time.perf_counter()
    for path in images:
        pixels = load_image(path).pixels
        for box in detector(pixels, 1):
            np.array(resnet.compute_face_descriptor(pixels, shapes(pixels, box)))
            faces += 1
    seconds = time.perf_counter() - started
    return {
        "images": len(images),
        "faces": faces,
        "seconds": seconds,
        "images_per_s": len(images) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer-images",
        type=int,
        default=40,
        help="images given to the (slow) dlib peer, spread over the set",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = sorted(p for p in find_media(FOLDERS) if isinstance(p, Path))
    ours = facesight_run(images)
    step = max(1, len(images) // args.peer_images)
    peer = dlib_run(images[::step][: args.peer_images])
    report = {
        "facesight": ours,
        "dlib_hog_pipeline": peer,
        "speedup": ours["images_per_s"] / peer["images_per_s"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"facesight: {ours['images']} images, {ours['faces']} faces in {ours['seconds']:.1f} s"
        f" = {ours['images_per_s']:.2f} images/s"
    )
    print(
        f"dlib HOG pipeline: {peer['images']} images, {peer['faces']} faces in "
        f"{peer['seconds']:.1f} s = {peer['images_per_s']:.2f} images/s"
    )
    print(f"speed-up: {report['speedup']:.1f}x")


if __name__ == "__main__":
    main()
