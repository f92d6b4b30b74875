"""The main job against face_recognition, same cores: ``scan`` and ``embed`` on 380 photos.

The benchmark of issue 18. The files are listed in ``bench/scan_vs_face_recognition.txt``
(paths under ``../shared/faces``; ``--write-list`` makes it again by its rule): the first
image of each of the first 300 lfw-dev identities in sorted order (LFW's 250x250
portraits, one per person), then every photo of ``people/`` and ``group/`` (80 photos
of up to 1024 px). ``--quick`` takes every fifth file of the list.

Three rows, each on every core of the machine:

* **facesight scan**: ``Library.scan`` into a fresh library (worker processes, one per
  core: hash, decode, detect, align, quality, describe, crops, match, SQLite), timed
  from the call to its return, starting the workers included (the library's converted
  model is cached before, as ``facesight init`` leaves it);
* **facesight embed**: ``Library.embed`` into a JSON Lines file, as ``facesight embed
  --output`` writes it (the same workers, no library writes);
* **facesight scan, --device cpu-fp32**: the scan again with both networks in ONNX
  Runtime in float32, facesight's CPU default before the descriptor moved to OpenVINO
  bfloat16 (``--no-fp32`` skips it);
* **face_recognition** 1.3.0 as users run it on a multi-core machine: a process pool
  of one process per core (``face_recognition --cpus N``; the pool is started and has
  imported face_recognition before the clock starts), each image decoded with
  ``face_recognition.load_image_file``, then ``face_locations`` (HOG, upsample 1) and
  ``face_encodings`` (default: 1 jitter, the 5-point landmark model).

Each row prints its processes, its CPU seconds per wall second (``os.times`` of this
process and its reaped children; the pool's workers time their own tasks) and
images/s; the ratios against face_recognition, taken in the same run, are the
figures to trust on a shared machine.

Faces found: an lfw-dev portrait's labelled face is found when a face box holds the
image centre (LFW centres its person); a ``people/`` photo shows one labelled person,
found when any face is; ``group/`` photos count every face.

Usage: python bench/scan_vs_face_recognition.py [--quick] [--json] [--write-list] [--no-fp32]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import face_recognition

from facesight.exports.embed_jsonl import embed_lines
from facesight.library.facade import Library

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_throughput import Clock  # a sibling bench script

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
LIST = Path(__file__).with_suffix(".txt")
LFW_IDENTITIES = 300
CORES = os.cpu_count() or 1

Boxes = list[tuple[float, float, float, float]]  # x1, y1, x2, y2


def list_files() -> list[str]:
    """The benchmark's files by its rule, as paths relative to ``FACES``."""
    people = sorted(p for p in (FACES / "lfw-dev" / "people").iterdir() if p.is_dir())
    lfw = [sorted(person.iterdir())[0] for person in people[:LFW_IDENTITIES]]
    photos = sorted(p for name in ("people", "group") for p in (FACES / name).rglob("*.jpg"))
    return [p.relative_to(FACES).as_posix() for p in lfw + photos]


def read_list(quick: bool) -> list[Path]:
    names = [line for line in LIST.read_text().splitlines() if line and not line.startswith("#")]
    return [FACES / name for name in (names[::5] if quick else names)]


def found(boxes: dict[Path, Boxes]) -> dict[str, int]:
    """Labelled faces found (see the module docstring) and group-photo faces."""
    lfw = {p: b for p, b in boxes.items() if p.relative_to(FACES).parts[0] == "lfw-dev"}
    people = {p: b for p, b in boxes.items() if p.relative_to(FACES).parts[0] == "people"}
    group = {p: b for p, b in boxes.items() if p.relative_to(FACES).parts[0] == "group"}
    # lfw-dev images are 250x250 with the labelled face centred
    centred = sum(
        any(x1 <= 125 <= x2 and y1 <= 125 <= y2 for x1, y1, x2, y2 in b) for b in lfw.values()
    )
    return {
        "labelled_images": len(lfw) + len(people),
        "labelled_found": centred + sum(1 for b in people.values() if b),
        "group_faces": sum(len(b) for b in group.values()),
    }


def row(setup: str, processes: str, clock: Clock, boxes: dict[Path, Boxes]) -> dict[str, Any]:
    images = len(boxes)
    return {
        "setup": setup,
        "processes": processes,
        "cpu_per_wall": clock.cpu_per_wall,
        "images": images,
        "faces": sum(len(b) for b in boxes.values()),
        "seconds": clock.wall_s,
        "images_per_s": images / clock.wall_s,
        "images_per_cpu_s": images / clock.cpu_s,
    } | found(boxes)


def _models_ready(library: Library) -> Library:
    """The library's converted model cached (once per library, as ``facesight init`` or a
    first enrollment leaves it), as face_recognition's pool has loaded its models."""
    library.pipeline.detector.load()
    library.pipeline.embedder.load()
    return library


def facesight_scan(images: list[Path], device: str = "auto") -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Library(Path(tmp) / "lib", device=device) as library,
    ):
        _models_ready(library)
        with Clock().running() as clock:
            summary = library.scan(images, workers=CORES)
        rows = library.store.query(
            "SELECT mp.path, f.x1, f.y1, f.x2, f.y2 FROM media_paths mp"
            " JOIN media m ON m.id = mp.media_id LEFT JOIN faces f ON f.media_id = m.id"
        )
    assert not summary.failures, summary.failures
    boxes: dict[Path, Boxes] = {p: [] for p in images}
    for r in rows:
        if r["x1"] is not None:
            boxes[Path(r["path"])].append((r["x1"], r["y1"], r["x2"], r["y2"]))
    setup = f"facesight scan, {CORES} workers" + (
        "" if device == "auto" else f", --device {device}"
    )
    return row(setup, f"{CORES} + scanning process", clock, boxes)


def facesight_embed(images: list[Path]) -> dict[str, Any]:
    boxes: dict[Path, Boxes] = {p: [] for p in images}
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "lib") as library:
        _models_ready(library)
        with Clock().running() as clock, open(Path(tmp) / "faces.jsonl", "w") as sink:
            for record in library.embed(images):
                assert record.failure is None, record.failure
                for line in embed_lines(record.path, record.sha256, record.faces):
                    sink.write(line + "\n")
                boxes[Path(record.path)] = [tuple(map(float, b)) for b in record.faces.xyxy]
    return row("facesight embed", f"{CORES} + exporting process", clock, boxes)


def face_recognition_boxes(path: Path) -> tuple[Path, Boxes, float]:
    """face_recognition's default usage on one image; its boxes and the CPU seconds taken
    (pool workers are the forkserver's children, so ``os.times`` cannot see them)."""
    cpu = time.process_time()
    pixels = face_recognition.load_image_file(path)
    locations = face_recognition.face_locations(pixels)  # HOG, upsample 1
    face_recognition.face_encodings(pixels, locations)
    boxes = [(float(x1), float(y1), float(x2), float(y2)) for y1, x2, y2, x1 in locations]
    return path, boxes, time.process_time() - cpu


def _ready(_: int) -> None:
    time.sleep(0.5)  # long enough that every worker of the pool takes one


def face_recognition_pool(images: list[Path]) -> dict[str, Any]:
    pool = multiprocessing.get_context("forkserver").Pool(CORES)  # as its CLI does
    pool.map(_ready, range(CORES))
    with Clock().running() as clock:
        done = pool.map(face_recognition_boxes, images, chunksize=1)
        pool.close()
        pool.join()
    clock.cpu_s += sum(cpu for _, _, cpu in done)
    boxes = {path: b for path, b, _ in done}
    return row(f"face_recognition, pool of {CORES} (--cpus {CORES})", str(CORES), clock, boxes)


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['images']} images, {report['cores']} cores, load average {report['load']}",
        "| setup | processes | CPU/wall | images/s | images/CPU s | x face_recognition"
        " | x per CPU s | labelled faces found | group faces |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = report["rows"][-1]
    for r in report["rows"]:
        lines.append(
            f"| {r['setup']} | {r['processes']} | {r['cpu_per_wall']:.2f} | "
            f"{r['images_per_s']:.1f} | {r['images_per_cpu_s']:.1f} | "
            f"{r['images_per_s'] / base['images_per_s']:.1f}x | "
            f"{r['images_per_cpu_s'] / base['images_per_cpu_s']:.1f}x | "
            f"{r['labelled_found']} of {r['labelled_images']} | {r['group_faces']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every fifth file of the list")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-list", action="store_true", help="write the file list again")
    parser.add_argument(
        "--no-fp32", action="store_true", help="skip the scan with --device cpu-fp32"
    )
    args = parser.parse_args()
    if args.write_list:
        LIST.write_text("\n".join(list_files()) + "\n")
        return
    images = read_list(args.quick)
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    rows = [facesight_scan(images), facesight_embed(images)]
    if not args.no_fp32:
        rows.append(facesight_scan(images, device="cpu-fp32"))
    rows.append(face_recognition_pool(images))
    report = {"images": len(images), "cores": CORES, "load": load, "rows": rows}
    print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == "__main__":
    main()
