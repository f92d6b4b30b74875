"""Whole-pipeline speed on still photos: facesight scan against face_recognition, same images.

Both run in this one script on the same images (the machines are noisy, so the
ratio is the figure to trust): the photos of ``../shared/faces`` (people,
group, distractors, noface: 103 images of up to 1024 px), repeated
``--rounds`` times as distinct files (an 8x8 corner block changed and saved again as JPEG,
so none is skipped as known content) to give the workers a realistic amount of work.

* facesight: a real ``Library.scan`` into a fresh library (hash, decode,
  detect, align, describe, quality, match, crops, SQLite) with the default
  workers, and with ``--workers`` values for the scaling table.
* face_recognition's default usage, on one copy of the images:
  ``face_locations(image)`` (HOG, upsample 1) then ``face_encodings(image,
  boxes)``. It runs single-threaded, as face_recognition does.

Faces found are compared on the labelled photos: each image of ``people/`` and
``distractors/`` shows one labelled person, so an image with no face found is
a labelled face missed; ``group/`` photos count every face found.

face_recognition: ``pip install dlib-bin "setuptools<81"`` then ``pip install --no-deps
face_recognition==1.3.0`` (as ``bench/identification_vs_face_recognition.py`` explains).

Usage: python bench/pipeline_throughput.py [--rounds N] [--workers 1 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import face_recognition
import numpy as np
from PIL import Image

from facesight.library import Library
from facesight.media import find_media, load_image

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
FOLDERS = [FACES / name for name in ("people", "group", "distractors", "noface")]
LABELLED = ("people", "distractors")


def copies(images: list[Path], rounds: int, folder: Path) -> dict[str, Path]:
    """``rounds`` distinct copies of every image (JPEG, quality 95): copy path -> original."""
    made = {}
    for r in range(rounds):
        for i, path in enumerate(images):
            target = folder / f"r{r}" / path.relative_to(FACES)
            target.parent.mkdir(parents=True, exist_ok=True)
            pixels = np.asarray(Image.open(path).convert("RGB")).copy()
            pixels[:8, :8] = [r * 97 % 256, i * 37 % 256, i // 7 * 53 % 256]  # survives JPEG
            Image.fromarray(pixels).save(target, quality=95)
            made[str(target)] = path
    return made


def labelled_found(faces_per_image: dict[Path, int]) -> dict[str, int]:
    labelled = [p for p in faces_per_image if p.relative_to(FACES).parts[0] in LABELLED]
    group = [p for p in faces_per_image if p.relative_to(FACES).parts[0] == "group"]
    return {
        "labelled_images": len(labelled),
        "labelled_faces_found": sum(1 for p in labelled if faces_per_image[p] > 0),
        "group_faces_found": sum(faces_per_image[p] for p in group),
    }


def facesight_run(images: list[Path], workers: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        originals = copies(images, rounds, Path(tmp) / "photos")
        with Library(Path(tmp) / "lib") as library:
            library.pipeline.detector.load()
            library.pipeline.embedder.load()
            started = time.perf_counter()
            summary = library.scan([Path(p) for p in originals], workers=workers)
            seconds = time.perf_counter() - started
            counts = library.store.query(
                "SELECT mp.path, m.face_count FROM media m JOIN media_paths mp"
                " ON mp.media_id = m.id WHERE mp.path LIKE ?",
                (f"{tmp}/photos/r0/%",),
            )
    per_image = {originals[r["path"]]: int(r["face_count"]) for r in counts}
    return {
        "workers": workers,
        "images": summary.media_scanned,
        "faces": summary.faces_found,
        "seconds": seconds,
        "images_per_s": summary.media_scanned / seconds,
        "faces_per_s": summary.faces_found / seconds,
    } | labelled_found(per_image)


def face_recognition_run(images: list[Path]) -> dict[str, Any]:
    per_image: dict[Path, int] = {}
    started = time.perf_counter()
    for path in images:
        pixels = load_image(path).pixels
        boxes = face_recognition.face_locations(pixels)
        face_recognition.face_encodings(pixels, boxes)
        per_image[path] = len(boxes)
    seconds = time.perf_counter() - started
    return {
        "images": len(images),
        "faces": sum(per_image.values()),
        "seconds": seconds,
        "images_per_s": len(images) / seconds,
    } | labelled_found(per_image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="distinct copies of the set")
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="also time these")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = sorted(p for p in find_media(FOLDERS) if isinstance(p, Path))
    ours = facesight_run(images, 0, args.rounds)
    scaling = [facesight_run(images, w, args.rounds) for w in args.workers]
    peer = face_recognition_run(images)
    report = {
        "facesight": ours,
        "facesight_by_workers": scaling,
        "face_recognition": peer,
        "speedup": ours["images_per_s"] / peer["images_per_s"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, r in [("facesight", ours), *((f"  --workers {s['workers']}", s) for s in scaling)]:
        print(
            f"{name}: {r['images']} images, {r['faces']} faces in {r['seconds']:.1f} s = "
            f"{r['images_per_s']:.2f} images/s, {r['faces_per_s']:.1f} faces/s"
        )
    print(
        f"face_recognition: {peer['images']} images, {peer['faces']} faces in "
        f"{peer['seconds']:.1f} s = {peer['images_per_s']:.2f} images/s"
    )
    for name, r in (("facesight", ours), ("face_recognition", peer)):
        print(
            f"{name}: labelled faces found {r['labelled_faces_found']} of "
            f"{r['labelled_images']}, group faces {r['group_faces_found']}"
        )
    print(f"speed-up: {report['speedup']:.1f}x")


if __name__ == "__main__":
    main()
