"""An 8-bit descriptor network: its speed, and what it does to accuracy on lfw-dev (issue 18).

The float32 ONNX graph of dlib's ResNet (``vision/models/dlib_resnet.py``) quantised
statically by ONNX Runtime (QDQ, int8 weights per output channel, uint8 activations,
min-max calibration; Conv layers only) on chips of lfw-dev images that ``pairs.txt``
does not use (every 8th of them, each with its mirror image: the images the chip
template was fitted on, never the evaluated pairs). Then, for the float32 and the
int8 network, the same pipeline otherwise (same detector, chips, flip-averaging):

* the time per chip, one ONNX Runtime thread, batches of 10 chips;
* ``facesight eval pairs`` (pair accuracy, 5-fold) and ``facesight eval identify``
  (FNIR at FPIR 1e-2, observed FPIR at the default target) on lfw-dev, through
  ``eval/runs.py`` with the descriptor cache of the library folder
  (``~/.local/share/facesight/library/cache/eval-descriptors.db``; keyed by the
  descriptor version, so the int8 descriptors are cached beside the float32 ones).

The issue's bar for adopting it: pair accuracy within 0.1 point, FNIR at FPIR 1e-2
within 0.5 point, the calibration still within its bound.

The figures in docs/speed.md came from commit d2a543e (ONNX Runtime 1.32.0).

Usage: python scripts/studies/measure_int8_descriptor.py [--speed-only]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from accuracy_row import accuracy_row  # a sibling module
from numpy.typing import NDArray
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from facesight.config import default_library_dir
from facesight.eval.datasets import read_pairs
from facesight.eval.described import DescriptorCache
from facesight.eval.runs import run_identification, run_pairs
from facesight.identity.calibrate import load_reference_calibration
from facesight.media.images import load_image
from facesight.vision.align import align_faces
from facesight.vision.detect import FaceDetector
from facesight.vision.device import Device
from facesight.vision.embed import FaceEmbedder
from facesight.vision.models.dlib_resnet import INPUT_NAME, OUTPUT_NAME, load_dlib_resnet_onnx
from facesight.vision.models.onnx import OrtSession, create_session
from facesight.vision.models.session import ModelSession
from facesight.vision.pipeline import FacePipeline

LFW = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"


def calibration_chips() -> NDArray[np.uint8]:
    used = set()
    for pair in read_pairs(LFW / "pairs.txt"):
        used |= {pair.first, pair.second}
    free = sorted(
        p for p in (LFW / "people").glob("*/*.jpg") if (p.parent.name, int(p.stem[-4:])) not in used
    )
    detector = FaceDetector()
    chips = []
    for path in free[::8]:
        pixels = load_image(path).pixels
        faces = detector.detect(pixels)
        if len(faces):
            chip = align_faces(pixels, faces.kps5[:1])[0]
            chips += [chip, chip[:, ::-1]]
    return np.stack(chips)


def quantised(float32: bytes, chips: NDArray[np.uint8]) -> bytes:
    class Chips(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{INPUT_NAME: chips[i : i + 16]} for i in range(0, len(chips), 16)])

        def get_next(self) -> dict[str, NDArray[np.uint8]] | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(float32)
        quantize_static(
            source,
            target,
            Chips(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            op_types_to_quantize=["Conv"],
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        return target.read_bytes()


class Int8Embedder(FaceEmbedder):
    """``FaceEmbedder`` on the quantised graph (CPU only), with its own version."""

    def __init__(self, graph: bytes, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.graph = graph

    def _open(self, device: Device) -> tuple[ModelSession, str]:
        session = create_session(
            self.graph, name="dlib_resnet_int8", intra_op_threads=self.intra_op_threads
        )
        digest = hashlib.sha256(self.graph).hexdigest()[:12]
        return OrtSession(session, INPUT_NAME, [OUTPUT_NAME]), f"dlib_resnet_v1_int8:{digest}"


def ms_per_chip(graph: bytes, chips: NDArray[np.uint8]) -> float:
    session = create_session(graph, name="timing", intra_op_threads=1)
    session.run(None, {INPUT_NAME: chips[:10]})
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(0, len(chips), 10):
            session.run(None, {INPUT_NAME: chips[i : i + 10]})
        best = min(best, (time.perf_counter() - started) / len(chips) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    library = default_library_dir()
    models = library / "models"
    float32 = load_dlib_resnet_onnx(models)
    chips = calibration_chips()
    int8 = quantised(float32, chips)
    speed = {
        name: ms_per_chip(g, chips[:200]) for name, g in (("float32", float32), ("int8", int8))
    }
    speed |= {"speed_up": speed["float32"] / speed["int8"], "ort": ort.__version__}
    print(json.dumps({"ms_per_chip_one_thread": speed}, indent=2), flush=True)
    if args.speed_only:
        return
    cache = DescriptorCache(library / "cache" / "eval-descriptors.db")
    reference = load_reference_calibration()
    results = {}
    for name, embedder in (
        ("float32", FaceEmbedder(cache_dir=models)),
        ("int8", Int8Embedder(int8, cache_dir=models)),
    ):
        pipeline = FacePipeline(FaceDetector(), embedder)
        pairs = run_pairs(
            LFW / "pairs.txt", LFW / "people", pipeline=pipeline, reference=reference, cache=cache
        )
        cache.commit()
        ident = run_identification(
            LFW / "people", pipeline=pipeline, reference=reference, cache=cache
        )
        cache.commit()
        results[name] = accuracy_row(pairs, ident)
        print(json.dumps({name: results[name]}, indent=2), flush=True)


if __name__ == "__main__":
    main()
