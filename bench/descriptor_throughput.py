"""Face descriptor throughput: FaceEmbedder against dlib itself, same cores.

Chips are cut by dlib (HOG detector, 5-point shape, get_face_chip 150 px, padding 0.25)
from ../shared/faces/people, then described by dlib's compute_face_descriptor and by
FaceEmbedder on the same chips, each side given the same cores:

* **one core**: dlib in this process (it runs one thread) against ``embed`` on one
  thread (``intra_op_threads=1``);
* **all cores** (the headline): dlib in a pool of ``--workers`` processes (default one
  per core, started together) against the faster of ``embed`` in as many one-thread
  processes and ``embed`` in one process on every core (``intra_op_threads=0``).

Every row prints its processes, the threads each runs and the CPU seconds used per wall
second (``time.process_time`` of each process, every thread included), so a row that
got more of the machine shows it; on a shared machine CPU/wall falls below the cores
given, and faces per CPU second is the figure least moved by other jobs. The stored
descriptor (``describe``: a chip and its mirror image, two network passes a face) is
timed as a scan computes it too. The report starts with the largest difference between
FaceEmbedder's descriptors and dlib's on the same chips. ``--quick``: 8 chips, batch 32,
1 s per measurement. ``--sweep`` also times ONNX Runtime thread counts and graph
optimisation levels directly. ``--sizes`` times only what OpenVINO's first run of each
new batch size costs: batch sizes 1 to 32, once each in a shuffled order (as a scan's
batches come), twice over, in a fresh one-thread session, fed as they are and padded to
a multiple of ``BATCH_MULTIPLE`` as ``OvSession`` pads them. ``--device`` picks
FaceEmbedder's engine: ``cpu`` (the default: OpenVINO, bfloat16 on CPUs with AMX) or
``cpu-fp32`` (ONNX Runtime, float32). dlib is only the peer here; facesight itself never
imports it.

Usage: PYTHONPATH=. python bench/descriptor_throughput.py [--batch-sizes 1 8 32 64]
       [--workers N] [--seconds S] [--quick] [--sweep] [--json] [--device cpu|cpu-fp32]
       PYTHONPATH=. python bench/descriptor_throughput.py --sizes
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

from facesight.vision.embed import FaceEmbedder
from facesight.vision.models.dlib_resnet import INPUT_NAME, load_dlib_resnet_onnx
from facesight.vision.models.registry import DLIB_RESNET_FILE, DLIB_SHAPE5_FILE, dlib_model_path

CORES = os.cpu_count() or 1
DEVICE = "cpu"  # --device
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


class Rate:
    """Faces per second, and the CPU seconds used per wall second while they were made."""

    def __init__(self, faces: int, wall_s: float, cpu_s: float) -> None:
        self.faces_per_s = faces / wall_s
        self.cpu_per_wall = cpu_s / wall_s
        self.faces_per_cpu_s = faces / cpu_s

    def as_dict(self) -> dict[str, float]:
        return {
            "faces_per_s": self.faces_per_s,
            "cpu_per_wall": self.cpu_per_wall,
            "faces_per_cpu_s": self.faces_per_cpu_s,
        }


def _timed(
    run: Callable[[], object], faces_per_call: int, seconds: float
) -> tuple[int, float, float]:
    """Calls ``run`` (after one warm-up call) for at least ``seconds``: faces, wall s, CPU s.

    CPU seconds are this process's, every thread included (``time.process_time``).
    """
    run()
    calls, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        run()
        calls += 1
    return calls * faces_per_call, time.perf_counter() - started, time.process_time() - cpu


def faces_per_s(run: Callable[[], object], faces_per_call: int, seconds: float) -> Rate:
    return Rate(*_timed(run, faces_per_call, seconds))


def time_embedder(
    chips: NDArray[np.uint8], batch_sizes: list[int], threads: int, seconds: float
) -> dict[int, Rate]:
    results = {}
    for size in batch_sizes:
        embedder = FaceEmbedder(intra_op_threads=threads, batch_size=size, device=DEVICE)
        batch = np.resize(chips, (size, *chips.shape[1:]))
        results[size] = faces_per_s(lambda e=embedder, b=batch: e.embed(b), size, seconds)
    return results


def time_dlib(chips: NDArray[np.uint8], seconds: float) -> dict[str, Rate]:
    model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
    listed = list(chips)
    return {
        "one_by_one": faces_per_s(
            lambda: [model.compute_face_descriptor(c) for c in listed], len(listed), seconds
        ),
        "list": faces_per_s(lambda: model.compute_face_descriptor(listed), len(listed), seconds),
    }


_start_together: Any = None


def _join(barrier: Any) -> None:
    global _start_together
    _start_together = barrier


def _in_worker(
    args: tuple[str, NDArray[np.uint8], int, float, str],
) -> tuple[int, float, float]:
    """In a worker process of one thread: ``dlib`` one chip per call, or facesight's
    ``embed`` / ``describe`` (``batch`` chips per call), for ``seconds`` once every
    worker is ready."""
    kind, chips, batch, seconds, device = args
    run: Callable[[], object]
    if kind == "dlib":
        model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
        listed = list(chips)
        run = lambda: [model.compute_face_descriptor(c) for c in listed]  # noqa: E731
    else:
        embedder = FaceEmbedder(intra_op_threads=1, batch_size=batch, device=device)
        network = embedder.describe if kind == "describe" else embedder.embed
        run = lambda: network(chips)  # noqa: E731
    run()
    _start_together.wait()
    return _timed(run, len(chips), seconds)


def in_processes(
    kind: str, chips: NDArray[np.uint8], batch: int, workers: int, seconds: float
) -> Rate:
    """``workers`` processes of one thread each, timed over the same seconds."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    with ProcessPoolExecutor(workers, context, _join, (barrier,)) as pool:
        done = list(pool.map(_in_worker, [(kind, chips, batch, seconds, DEVICE)] * workers))
    wall = max(w for _, w, _ in done)
    return Rate(sum(f for f, _, _ in done), wall, sum(c for _, _, c in done))


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
                ).faces_per_s
            rows.append(row)
    return rows


def max_abs_difference(chips: NDArray[np.uint8]) -> float:
    """Largest difference of any coordinate between FaceEmbedder's and dlib's descriptors."""
    model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET_FILE)))
    theirs = np.array([model.compute_face_descriptor(c) for c in chips], np.float64)
    ours = FaceEmbedder(intra_op_threads=0, device=DEVICE).embed(chips).astype(np.float64)
    return float(np.abs(ours - theirs).max())


def cold_start_s() -> dict[str, float]:
    """Seconds to convert the .dat in memory and open a session, as a first load does."""
    started = time.perf_counter()
    model = load_dlib_resnet_onnx(None)
    converted = time.perf_counter()
    ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return {"convert_s": converted - started, "session_s": time.perf_counter() - converted}


def new_sizes(chips: NDArray[np.uint8]) -> str:
    """Seconds for batch sizes 1-32 (528 chips), twice over, in fresh OpenVINO sessions."""
    import random

    from facesight.vision.models.openvino import BATCH_MULTIPLE, bf16_is_fast, create_ov_session

    graph = load_dlib_resnet_onnx(None)
    precision = "bf16" if bf16_is_fast() else "f32"
    sizes = list(range(1, 33))
    random.Random(0).shuffle(sizes)
    batch = np.resize(chips, (32, *chips.shape[1:]))
    lines = [
        f"OpenVINO {precision}, one thread: batch sizes 1-32 once each (528 chips), twice",
        "| batches | first pass (every size new) s | second pass s |",
        "| --- | --- | --- |",
    ]
    for padded in (False, True):
        session = create_ov_session(
            graph, name="dlib_resnet", threads=1, precision=precision, batch_multiple=BATCH_MULTIPLE
        )
        request = session.compiled.create_infer_request()
        passes = []
        for _ in range(2):
            started = time.perf_counter()
            for size in sizes:
                if padded:
                    session.run(batch[:size])
                else:  # the compiled model itself
                    request.infer({0: batch[:size]})
            passes.append(time.perf_counter() - started)
        label = (
            f"padded to a multiple of {BATCH_MULTIPLE} (OvSession)" if padded else "as they come"
        )
        lines.append(f"| {label} | {passes[0]:.2f} | {passes[1]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--chips", type=int, default=32, help="distinct real chips to use")
    parser.add_argument("--sweep", action="store_true", help="also time threads x opt levels")
    parser.add_argument("--workers", type=int, default=CORES, help="processes of the pools")
    parser.add_argument("--quick", action="store_true", help="8 chips, batch 32, 1 s each")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--device", choices=["cpu", "cpu-fp32"], default="cpu")
    parser.add_argument(
        "--sizes", action="store_true", help="only the cost of each new batch size (OpenVINO)"
    )
    args = parser.parse_args()
    if args.sizes:
        print(new_sizes(dlib_chips(args.chips)))
        return
    global DEVICE
    DEVICE = args.device
    sizes, seconds = ([32], 1.0) if args.quick else (args.batch_sizes, args.seconds)
    chips = dlib_chips(8 if args.quick else args.chips)
    batch = 32 if 32 in sizes else max(sizes)  # FaceEmbedder's default batch when timed
    n = args.workers
    rows: list[dict[str, Any]] = []

    def add(side: str, setup: str, processes: int, threads: int, rate: Rate) -> None:
        rows.append(
            {"side": side, "setup": setup, "processes": processes, "threads": threads}
            | rate.as_dict()
        )

    dlib_one = time_dlib(chips, seconds)
    add("dlib", "compute_face_descriptor, one chip per call", 1, 1, dlib_one["one_by_one"])
    add("dlib", "compute_face_descriptor, one list of chips", 1, 1, dlib_one["list"])
    add("dlib", "one chip per call", n, 1, in_processes("dlib", chips, 1, n, seconds))
    for size, rate in time_embedder(chips, sizes, 1, seconds).items():
        add("facesight", f"embed, batch {size}", 1, 1, rate)
    for size, rate in time_embedder(chips, sizes, 0, seconds).items():
        add("facesight", f"embed, batch {size}", 1, CORES, rate)
    batched = np.resize(chips, (batch, *chips.shape[1:]))
    add(
        "facesight",
        f"embed, batch {batch}",
        n,
        1,
        in_processes("embed", batched, batch, n, seconds),
    )
    pairs = np.resize(chips, (64, *chips.shape[1:]))  # a scan's batch: 64 faces, 128 chips
    add(
        "facesight",
        "describe (2 chips a face), 64 faces a call",
        n,
        1,
        in_processes("describe", pairs, 128, n, seconds),
    )
    describer = FaceEmbedder(intra_op_threads=0, batch_size=128, device=DEVICE)
    add(
        "facesight",
        "describe (2 chips a face), 64 faces a call",
        1,
        CORES,
        faces_per_s(lambda: describer.describe(pairs), len(pairs), seconds),
    )
    report: dict[str, Any] = {
        "cpus": CORES,
        "engine": FaceEmbedder(device=DEVICE).provider,
        "chips": len(chips),
        "cold_start": cold_start_s(),
        "max_abs_difference_from_dlib": max_abs_difference(chips),
        "rows": rows,
    }
    report |= headline(rows, n, batch)
    if args.sweep:
        report["sweep"] = sweep(chips, seconds)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def headline(rows: list[dict[str, Any]], workers: int, batch: int) -> dict[str, float]:
    """The network (one chip a face) against dlib: on one core each, and on ``workers`` each."""

    def rate(
        side: str, setup: str, processes: int, threads: int, key: str = "faces_per_s"
    ) -> float:
        found = [
            r[key]
            for r in rows
            if (r["side"], r["setup"], r["processes"], r["threads"])
            == (side, setup, processes, threads)
        ]
        return float(found[0])

    embed = f"embed, batch {batch}"
    dlib_one = "compute_face_descriptor, one chip per call"
    ours_all = max(rate("facesight", embed, workers, 1), rate("facesight", embed, 1, CORES))
    return {
        "speedup_one_core": rate("facesight", embed, 1, 1) / rate("dlib", dlib_one, 1, 1),
        "speedup_equal_cores": ours_all / rate("dlib", "one chip per call", workers, 1),
        "speedup_per_cpu_s": rate("facesight", embed, 1, 1, "faces_per_cpu_s")
        / rate("dlib", dlib_one, 1, 1, "faces_per_cpu_s"),
    }


def format_report(report: dict[str, Any]) -> str:
    cold = report["cold_start"]
    lines = [
        f"{report['chips']} real chips, {report['cpus']} CPUs, FaceEmbedder on "
        f"{report['engine']}; first load: convert "
        f"{cold['convert_s']:.2f} s + session {cold['session_s']:.2f} s",
        f"descriptors against dlib's own on these chips: max abs difference "
        f"{report['max_abs_difference_from_dlib']:.1e}",
        "| side | setup | processes | threads each | CPU/wall | faces/s | faces/CPU s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['side']} | {r['setup']} | {r['processes']} | {r['threads']} | "
            f"{r['cpu_per_wall']:.2f} | {r['faces_per_s']:.1f} | {r['faces_per_cpu_s']:.1f} |"
        )
    lines.append(
        f"network against dlib, equal cores ({report['cpus']}): "
        f"{report['speedup_equal_cores']:.1f}x; one core each: {report['speedup_one_core']:.1f}x; "
        f"per CPU second (one thread each): {report['speedup_per_cpu_s']:.1f}x"
    )
    for row in report.get("sweep", []):
        lines.append(
            f"sweep threads={row['threads']} level={row['level']:>8}: "
            f"batch 1 {row['batch_1']:7.1f}, batch 32 {row['batch_32']:7.1f} faces/s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
