"""Where a scan's time goes on small images: each stage timed alone, one thread.

The stages of a scan worker (``scan/workers.py``) run one after the other in this
one process, with the models on one ONNX Runtime thread as in a worker, over the
first ``--images`` lfw-dev portraits of ``bench/scan_vs_face_recognition.txt``
(250x250, one face each), four files per batch as a worker takes them: hash,
decode, detect (and, within it, RetinaFace's network alone), align, quality, the
descriptor (chip and mirror image: the stored descriptor), crop encoding, and the
pickled size of a batch's results (what travels back to the scanning process). Then
a real in-process ``Library.scan`` of the same files into a fresh library (``workers=1``
runs in this process for fewer than ``IN_PROCESS_BELOW`` files, so the scan is timed in
batches below that) gives the whole, and the remainder is the scanning process's
share: matching and the writer.

``--photos`` times the list's 80 larger photos instead (``people/``, ``group/``).

Usage: python bench/scan_stages.py [--images N] [--quick] [--photos]
"""

from __future__ import annotations

import argparse
import io
import pickle
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from facesight.library.facade import Library
from facesight.media.images import load_image, sha256_of
from facesight.quality import assess_quality
from facesight.scan.pool import IN_PROCESS_BELOW
from facesight.scan.workers import AnalyzedFile, FileStatus
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import save_crop

BENCH = Path(__file__).resolve().parent
FACES = BENCH.parents[1] / "shared" / "faces"
BATCH = 4
NETWORK = "of which RetinaFace's network"


def portraits(count: int) -> list[Path]:
    names = (BENCH / "scan_vs_face_recognition.txt").read_text().split()
    return [FACES / n for n in names if n.startswith("lfw-dev/")][:count]


def photos() -> list[Path]:
    """The benchmark's 80 larger photos (``people/`` and ``group/``, up to 1024 px)."""
    names = (BENCH / "scan_vs_face_recognition.txt").read_text().split()
    return [FACES / n for n in names if not n.startswith("lfw-dev/")]


def stages(images: list[Path], models: Path, crops: Path) -> dict[str, float]:
    detector = FaceDetector(intra_op_threads=1)
    embedder = FaceEmbedder(models, intra_op_threads=1)
    detector.load()
    embedder.load()
    spent: dict[str, float] = defaultdict(float)
    run_network = detector._run

    def network_timed(batch: np.ndarray) -> list[np.ndarray]:
        started = time.perf_counter()
        try:
            return run_network(batch)
        finally:
            spent[NETWORK] += time.perf_counter() - started

    detector._run = network_timed  # type: ignore[method-assign]

    def timed(stage: str, started: float) -> float:
        now = time.perf_counter()
        spent[stage] += now - started
        return now

    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH]
        t = time.perf_counter()
        shas = [sha256_of(p) for p in batch]
        t = timed("hash", t)
        pixels = [load_image(p).pixels for p in batch]
        t = timed("decode", t)
        found = detector.detect_batch(pixels)
        t = timed("detect", t)
        chips = [align_faces(p, f.kps5) for p, f in zip(pixels, found, strict=True)]
        t = timed("align", t)
        for c, f in zip(chips, found, strict=True):
            for i in range(len(f)):
                assess_quality(c[i], float(f.width_px[i]), f.kps5[i], float(f.score[i]))
        t = timed("quality", t)
        described = embedder.describe(np.concatenate(chips))
        t = timed("describe (2 passes)", t)
        for sha, p, f in zip(shas, pixels, found, strict=True):
            for i in range(len(f)):
                save_crop(p, f.xyxy[i], crops / f"{sha}_{i}.jpg")
        t = timed("crop encoding", t)
        results = [
            AnalyzedFile(str(p), FileStatus.ANALYZED, sha, embedding=described[:1])
            for p, sha in zip(batch, shas, strict=True)
        ]
        spent["results pickled (bytes/image)"] += len(pickle.dumps(results)) / len(images)
        timed("pickle", t)
    return spent


def whole_scan(images: list[Path], models: Path, tmp: Path) -> float:
    with Library(tmp / "lib", embedder=FaceEmbedder(models, intra_op_threads=1)) as library:
        library.pipeline.detector.intra_op_threads = 1
        library.pipeline.detector.load()
        library.pipeline.embedder.load()
        step = IN_PROCESS_BELOW - 1
        started = time.perf_counter()
        for start in range(0, len(images), step):
            library.scan(images[start : start + step], workers=1)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 images")
    parser.add_argument(
        "--photos", action="store_true", help="the list's 80 larger photos instead of portraits"
    )
    args = parser.parse_args()
    images = photos() if args.photos else portraits(20 if args.quick else args.images)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "crops").mkdir()
        spent = stages(images, tmp / "models", tmp / "crops")
        whole = whole_scan(images, tmp / "models", tmp)
    size = spent.pop("results pickled (bytes/image)")
    network = spent.pop(NETWORK)
    worker = sum(spent.values())
    out = io.StringIO()
    kind = "photos of people/ and group/" if args.photos else "lfw-dev portraits"
    print(f"{len(images)} {kind}, one thread, {BATCH} files per batch", file=out)
    print("| stage | ms per image | share of the worker |", file=out)
    print("| --- | --- | --- |", file=out)
    ms = 1000 / len(images)
    for stage, seconds in spent.items():
        print(f"| {stage} | {ms * seconds:.2f} | {seconds / worker:.0%} |", file=out)
        if stage == "detect":
            print(f"| {NETWORK} | {ms * network:.2f} | {network / worker:.0%} |", file=out)
    print(f"| worker, all stages | {ms * worker:.2f} | 100% |", file=out)
    print(f"| in-process Library.scan, whole | {ms * whole:.2f} | |", file=out)
    rest = max(whole - worker, 0.0)
    print(f"| scanning process's share (match, write) | {ms * rest:.2f} | |", file=out)
    print(f"results sent back: {size:.0f} bytes per image (pickled)", file=out)
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
