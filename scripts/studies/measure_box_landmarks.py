"""Where RetinaFace's five landmarks fall inside its own face box, on average.

``vision.align.BOX_KPS5`` (the landmarks ``import-tags --force-region`` gives a tagged
region with no detected face under it) is the mean, over the faces of
``shared/faces/people``, of each landmark's position as a fraction of the box width and
height. Run: ``python scripts/studies/measure_box_landmarks.py``; it prints the table and
the spread (standard deviation) of each value. The shipped numbers came from a run at
commit 3a98c6f (detector unchanged since), on a shared 2-core machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from facesight.media.images import find_media, load_image
from facesight.vision.detect import FaceDetector

PEOPLE = Path(__file__).resolve().parents[3] / "shared" / "faces" / "people"


def main() -> None:
    detector = FaceDetector()
    rows = []
    for path in find_media([PEOPLE]):
        if not isinstance(path, Path):
            continue
        faces = detector.detect(load_image(path).pixels)
        for box, kps in zip(faces.xyxy, faces.kps5, strict=True):
            x1, y1, x2, y2 = box
            rows.append((kps - [x1, y1]) / [x2 - x1, y2 - y1])
    table = np.asarray(rows)
    print(f"{len(table)} faces from {PEOPLE}", file=sys.stderr)
    for mean, spread in zip(table.mean(axis=0), table.std(axis=0), strict=True):
        print(f"[{mean[0]:.3f}, {mean[1]:.3f}],  # sd {spread[0]:.3f}, {spread[1]:.3f}")


if __name__ == "__main__":
    main()
