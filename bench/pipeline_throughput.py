"""Whole-pipeline speed on still photos: facesight scan against face_recognition, same cores.

Both run in this one script on the same images (the machines are noisy, so the
ratios are the figures to trust): the photos of ``../shared/faces`` (people,
group, distractors, noface: 103 images of up to 1024 px). Each side runs twice,
on equal cores:

* **all cores** (the headline): facesight's ``Library.scan`` with a worker
  process per core (its default) against face_recognition in a process pool of
  one process per core, as its own ``face_recognition --cpus N`` command runs
  (``multiprocessing`` pool, ``forkserver``; the pool is started and its
  workers have imported face_recognition before the clock starts, while
  facesight's time includes starting its workers);
* **one core**: ``Library.scan(workers=1)`` (one analysing process; the
  scanning process matches and writes) against face_recognition in this one
  process.

Each row prints its processes, the threads each runs its models on and the CPU
seconds it used per wall second (this process and its children from ``os.times``;
face_recognition's pool workers time their own tasks), so a reader sees what each
figure was given. On a shared machine CPU/wall falls below the cores given; images
per CPU second, printed too, is the figure least moved by other jobs.

* facesight: a real ``Library.scan`` into a fresh library (hash, decode,
  detect, align, describe, quality, match, crops, SQLite) of ``--rounds``
  distinct copies of every image (an 8x8 corner block changed and saved again
  as JPEG, so none is skipped as known content).
* face_recognition's default usage, on the originals: ``face_locations(image)``
  (HOG, upsample 1) then ``face_encodings(image, boxes)``.

``--threads`` also times facesight's pipeline in this one process with the
models on one ONNX Runtime thread and on every core (``intra_op_threads=0``),
the measurement behind the scan workers' one thread each (docs/speed.md).

Faces found are compared on the labelled photos: each image of ``people/`` and
``distractors/`` shows one labelled person, so an image with no face found is
a labelled face missed; ``group/`` photos count every face found.

face_recognition: ``pip install dlib-bin "setuptools<81"`` then ``pip install --no-deps
face_recognition==1.3.0`` (as ``bench/identification_vs_face_recognition.py`` explains).

Usage: python bench/pipeline_throughput.py [--rounds N] [--quick] [--threads] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import face_recognition
import numpy as np
from PIL import Image

from facesight.library.facade import Library
from facesight.media.images import find_media, load_image
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
FOLDERS = [FACES / name for name in ("people", "group", "distractors", "noface")]
LABELLED = ("people", "distractors")
CORES = os.cpu_count() or 1


class Clock:
    """Wall seconds and CPU seconds (this process and its reaped children) of a block."""

    wall_s = 0.0
    cpu_s = 0.0

    @property
    def cpu_per_wall(self) -> float:
        return self.cpu_s / self.wall_s

    @contextmanager
    def running(self) -> Iterator[Clock]:
        before, started = os.times(), time.perf_counter()
        yield self
        self.wall_s = time.perf_counter() - started
        after = os.times()
        # children's times count once they are reaped: every pool below is joined in the block
        self.cpu_s = sum(after[:4]) - sum(before[:4])


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


def _row(
    side: str, setup: str, processes: str, threads: int, clock: Clock, images: int, faces: int
) -> dict[str, Any]:
    return {
        "side": side,
        "setup": setup,
        "processes": processes,
        "threads_per_process": threads,
        "cpu_per_wall": clock.cpu_per_wall,
        "images_per_cpu_s": images / clock.cpu_s,
        "images": images,
        "faces": faces,
        "seconds": clock.wall_s,
        "images_per_s": images / clock.wall_s,
        "faces_per_s": faces / clock.wall_s,
    }


def facesight_scan(images: list[Path], workers: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        originals = copies(images, rounds, Path(tmp) / "photos")
        with Library(Path(tmp) / "lib") as library:
            library.pipeline.detector.load()
            library.pipeline.embedder.load()
            with Clock().running() as clock:
                summary = library.scan([Path(p) for p in originals], workers=workers)
            counts = library.store.query(
                "SELECT mp.path, m.face_count FROM media m JOIN media_paths mp"
                " ON mp.media_id = m.id WHERE mp.path LIKE ?",
                (f"{tmp}/photos/r0/%",),
            )
    per_image = {originals[r["path"]]: int(r["face_count"]) for r in counts}
    setup = f"Library.scan, {workers} worker{'s' if workers > 1 else ''}"
    row = _row(
        "facesight",
        setup,
        f"{workers} + scanning process",
        1,
        clock,
        summary.media_scanned,
        summary.faces_found,
    )
    return row | labelled_found(per_image)


def facesight_in_process(images: list[Path], threads: int) -> dict[str, Any]:
    """The pipeline in this process, one image at a time, models on ``threads`` (0: all)."""
    pipeline = FacePipeline(
        FaceDetector(intra_op_threads=threads), FaceEmbedder(intra_op_threads=threads)
    )
    pipeline.analyze(load_image(images[0]).pixels)  # loads both models
    with Clock().running() as clock:
        faces = sum(len(pipeline.analyze(load_image(p).pixels)) for p in images)
    setup = f"pipeline in 1 process, intra_op_threads={threads}"
    return _row("facesight", setup, "1", threads or CORES, clock, len(images), faces)


def count_faces(path: Path) -> tuple[Path, int, float]:
    """face_recognition's default usage on one image: HOG boxes, then their encodings.

    Returns the path, the faces found and the CPU seconds this took (pool workers are
    the forkserver's children, not ours, so ``os.times`` cannot see them).
    """
    cpu = time.process_time()
    pixels = load_image(path).pixels
    boxes = face_recognition.face_locations(pixels)
    face_recognition.face_encodings(pixels, boxes)
    return path, len(boxes), time.process_time() - cpu


def _ready(_: int) -> None:
    time.sleep(0.5)  # long enough that every worker of the pool takes one


def face_recognition_run(images: list[Path], processes: int) -> dict[str, Any]:
    if processes == 1:
        with Clock().running() as clock:
            done = [count_faces(p) for p in images]
        setup = "1 process"
    else:
        context = multiprocessing.get_context("forkserver")  # as face_recognition's CLI does
        pool = context.Pool(processes)
        pool.map(_ready, range(processes))
        with Clock().running() as clock:
            done = pool.map(count_faces, images, chunksize=1)
            pool.close()
            pool.join()
        clock.cpu_s += sum(cpu for _, _, cpu in done)
        setup = f"process pool of {processes} (face_recognition --cpus {processes})"
    per_image = {path: faces for path, faces, _ in done}
    row = _row(
        "face_recognition",
        setup,
        str(processes),
        1,
        clock,
        len(images),
        sum(per_image.values()),
    )
    return row | labelled_found(per_image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="distinct copies of the set")
    parser.add_argument("--quick", action="store_true", help="one copy of the set (--rounds 1)")
    parser.add_argument("--threads", action="store_true", help="also time in-process threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    images = sorted(p for p in find_media(FOLDERS) if isinstance(p, Path))
    rows = [
        facesight_scan(images, CORES, rounds),
        face_recognition_run(images, CORES),
        facesight_scan(images, 1, rounds),
        face_recognition_run(images, 1),
    ]
    if args.threads:
        rows += [facesight_in_process(images, t) for t in (0, 1)]
    report = {
        "cores": CORES,
        "rows": rows,
        "speedup_equal_cores": rows[0]["images_per_s"] / rows[1]["images_per_s"],
        "speedup_one_core": rows[2]["images_per_s"] / rows[3]["images_per_s"],
        "speedup_per_cpu_s": rows[0]["images_per_cpu_s"] / rows[1]["images_per_cpu_s"],
    }
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['cores']} cores",
        "| side | setup | processes | threads each | CPU/wall | images/s | images/CPU s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['side']} | {r['setup']} | {r['processes']} | {r['threads_per_process']} | "
            f"{r['cpu_per_wall']:.2f} | {r['images_per_s']:.2f} | {r['images_per_cpu_s']:.2f} |"
        )
    for r in report["rows"][:4]:
        lines.append(
            f"{r['side']} ({r['setup']}): labelled faces found {r['labelled_faces_found']} of "
            f"{r['labelled_images']}, group faces {r['group_faces_found']}"
        )
    lines.append(
        f"speed-up, equal cores ({report['cores']}): {report['speedup_equal_cores']:.1f}x; "
        f"one core each: {report['speedup_one_core']:.1f}x; "
        f"per CPU second (all cores): {report['speedup_per_cpu_s']:.1f}x"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
