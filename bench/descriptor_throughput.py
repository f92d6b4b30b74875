"""Face descriptor throughput: FaceEmbedder (ONNX Runtime) against dlib itself, same chips.

Chips are cut by dlib (HOG detector, 5-point shape, get_face_chip 150 px, padding 0.25)
from ../shared/faces/people, then described by FaceEmbedder at several batch sizes and by
dlib's compute_face_descriptor, one chip per call and as one list, in the same process.
``--sweep`` also times ONNX Runtime thread counts and graph optimisation levels directly.
dlib is only the peer here; facesight itself never imports it.

Usage: PYTHONPATH=. python bench/descriptor_throughput.py [--batch-sizes 1 8 32 64] [--threads N]
       [--seconds S] [--sweep] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from PIL import Image

from facesight.embed import FaceEmbedder
from facesight.models.dlib_resnet import INPUT_NAME, load_dlib_resnet_onnx
from facesight.models.registry import DLIB_RESNET_FILE, DLIB_SHAPE5_FILE, dlib_model_path

PEOPLE = Path(__file__).resolve().parents[2] / "shared" / "faces" / "people"
LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def dlib_chips(limit: int) -> NDArray[np.uint8]:
    """Up to ``limit`` (n, 150, 150, 3) chips, the largest face of each photo, cut by dlib."""
    detector = dlib.get_frontal_face_detector()
    shape5 = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE5_FILE)))
    chips = []
    for path in sorted(PEOPLE.glob("*/*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB"))
        found = detector(image, 0)
        if found:
            box = max(found, key=lambda rect: rect.area())
            chips.append(dlib.get_face_chip(image, shape5(image, box), size=150, padding=0.25))
        if len(chips) == limit:
            break
    return np.stack(chips)


def faces_per_s(run: Callable[[], object], faces_per_call: int, seconds: float) -> float:
    """Calls ``run`` (after one warm-up call) for at least ``seconds``; faces per second."""
    run()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        run()
        calls += 1
    return calls * faces_per_call / elapsed


def time_embedder(
    chips: NDArray[np.uint8], batch_sizes: list[int], threads: int, seconds: float
) -> dict[int, float]:
    results = {}
    for size in batch_sizes:
        embedder = FaceEmbedder(intra_op_threads=threads, batch_size=size)
        batch = np.resize(chips, (size, *chips.shape[1:]))
        results[size] = faces_per_s(lambda e=embedder, b=batch: e.embed(b), size, seconds)
    return results


def time_dlib(chips: NDArray[np.uint8], seconds: float) -> dict[str, float]:
    model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
    listed = list(chips)
    return {
        "one_by_one": faces_per_s(
            lambda: [model.compute_face_descriptor(c) for c in listed], len(listed), seconds
        ),
        "list": faces_per_s(lambda: model.compute_face_descriptor(listed), len(listed), seconds),
    }


def sweep(chips: NDArray[np.uint8], seconds: float) -> list[dict[str, Any]]:
    """ONNX Runtime threads x optimisation level, at batch 1 and 32, on the raw session."""
    model = load_dlib_resnet_onnx(None)
    rows = []
    for threads in (0, 1, 2):
        for level_name, level in LEVELS.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.graph_optimization_level = level
            session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
            row: dict[str, Any] = {"threads": threads, "level": level_name}
            for size in (1, 32):
                feed = {INPUT_NAME: np.resize(chips, (size, *chips.shape[1:]))}
                row[f"batch_{size}"] = faces_per_s(
                    lambda s=session, f=feed: s.run(None, f), size, seconds
                )
            rows.append(row)
    return rows


def _describe_for(args: tuple[NDArray[np.uint8], int, float]) -> tuple[int, float]:
    """In a worker process: stored descriptors (``describe``, 2 chips each) for ``seconds``."""
    chips, batch, seconds = args
    embedder = FaceEmbedder(intra_op_threads=1, batch_size=batch)
    embedder.describe(chips[:2])
    faces, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embedder.describe(chips)
        faces += len(chips)
    return faces, time.perf_counter() - started


def stored_descriptors_per_s(
    chips: NDArray[np.uint8], workers: int, seconds: float
) -> dict[str, float]:
    """Faces/s of the stored descriptor as a scan computes it: ``workers`` processes of
    one thread each, 64 faces (128 chips) per call, against one process using every core."""
    batch = np.resize(chips, (64, *chips.shape[1:]))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context) as pool:
        done = list(pool.map(_describe_for, [(batch, 128, seconds)] * workers))
    embedder = FaceEmbedder(intra_op_threads=0, batch_size=128)
    single = faces_per_s(lambda: embedder.describe(batch), len(batch), seconds)
    return {
        f"{workers}_workers": sum(f for f, _ in done) / max(s for _, s in done),
        "1_process_all_cores": single,
    }


def cold_start_s() -> dict[str, float]:
    """Seconds to convert the .dat in memory and open a session, as a first load does."""
    started = time.perf_counter()
    model = load_dlib_resnet_onnx(None)
    converted = time.perf_counter()
    ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return {"convert_s": converted - started, "session_s": time.perf_counter() - converted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--threads", type=int, default=0, help="intra_op_threads (0 = all)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--chips", type=int, default=32, help="distinct real chips to use")
    parser.add_argument("--sweep", action="store_true", help="also time threads x opt levels")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chips = dlib_chips(args.chips)
    report: dict[str, Any] = {  # network throughput: chips/s, one pass each
        "cpus": os.cpu_count(),
        "chips": len(chips),
        "cold_start": cold_start_s(),
        "facesight_faces_per_s": time_embedder(chips, args.batch_sizes, args.threads, args.seconds),
        "dlib_faces_per_s": time_dlib(chips, args.seconds),
    }
    report["stored_descriptor_faces_per_s"] = stored_descriptors_per_s(
        chips, args.workers, args.seconds
    )
    if args.sweep:
        report["sweep"] = sweep(chips, args.seconds)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def format_report(report: dict[str, Any]) -> str:
    peer = max(report["dlib_faces_per_s"].values())
    cold = report["cold_start"]
    lines = [
        f"{report['chips']} real chips, {report['cpus']} CPUs; first load: convert "
        f"{cold['convert_s']:.2f} s + session {cold['session_s']:.2f} s",
        *(
            f"dlib {mode:>10}: {rate:8.1f} faces/s"
            for mode, rate in report["dlib_faces_per_s"].items()
        ),
    ]
    for size, rate in report["facesight_faces_per_s"].items():
        lines.append(f"facesight batch {size:>3}: {rate:8.1f} faces/s  ({rate / peer:5.1f}x dlib)")
    for mode, rate in report["stored_descriptor_faces_per_s"].items():
        lines.append(
            f"stored descriptor (flip-averaged, 2 chips), {mode.replace('_', ' ')}: "
            f"{rate:8.1f} faces/s ({rate / peer:5.1f}x dlib's single descriptor)"
        )
    for row in report.get("sweep", []):
        lines.append(
            f"sweep threads={row['threads']} level={row['level']:>8}: "
            f"batch 1 {row['batch_1']:7.1f}, batch 32 {row['batch_32']:7.1f} faces/s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
