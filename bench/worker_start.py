"""What starting a scan worker costs, step by step, each step in a fresh process.

A scan (and the ``embed`` export) starts one worker process per core; each imports
facesight and loads both networks before its first file (``scan.workers.start_worker``),
and a scan of a few hundred photos waits on that. Every step below runs in a new Python
process (``--runs`` times; the median is printed), so nothing is already imported or
cached in memory, as in a new worker:

* ``import facesight.scan.workers``: the worker's code, numpy, Pillow;
* ``import openvino``: as the package does it, and as facesight does it
  (``vision.device.import_openvino``, without the model converter);
* RetinaFace's weights: parsed from ``retinaface/weights.py``'s source with ``ast``
  (before) and read from its bytecode (``models.registry.bytes_literal``);
* dlib's descriptor network in OpenVINO: compiled from the cached ONNX graph, and
  imported from the compiled model the cache keeps (``models.openvino.cached_ov_session``);
* a whole worker start: ``start_worker`` with the library's model cache filled.

Usage: python bench/worker_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from facesight.vision.embed import FaceEmbedder

TIMED = """
import time
started = time.perf_counter()
{step}
print(time.perf_counter() - started)
"""

STEPS = {
    "import facesight.scan.workers": ("", "import facesight.scan.workers"),
    "import openvino (the package's own import)": ("import numpy", "import openvino"),
    "import openvino (facesight: without its converter)": (
        "import numpy\nfrom facesight.vision.device import import_openvino",
        "import_openvino()",
    ),
    "RetinaFace weights: ast-parsed source (before)": (
        "import ast\nfrom facesight.vision.models.registry import package_dir",
        "ast.parse((package_dir('retinaface') / 'weights.py').read_bytes())",
    ),
    "RetinaFace weights: from bytecode (now)": (
        "from facesight.vision.models.registry import retinaface_onnx_bytes",
        "retinaface_onnx_bytes()",
    ),
    "descriptor network: compiled from the ONNX graph (before)": (
        "from facesight.vision.models.dlib_resnet import load_dlib_resnet_onnx\n"
        "from facesight.vision.models.openvino import bf16_is_fast, create_ov_session\n"
        "precision = 'bf16' if bf16_is_fast() else 'f32'",
        "create_ov_session(load_dlib_resnet_onnx(CACHE), name='d', threads=1, precision=precision)",
    ),
    "descriptor network: imported, compiled model cached (now)": (
        "from facesight.vision.embed import FaceEmbedder\n"
        "embedder = FaceEmbedder(cache_dir=CACHE, intra_op_threads=1)\n"
        "embedder.model_version\n"
        "from facesight.vision.device import resolve_device\n"
        "resolve_device('cpu')",
        "embedder.load()",
    ),
    "whole worker start (start_worker, models cached)": (
        "",
        "from facesight.scan.workers import PipelineSpec, start_worker\n"
        "spec = PipelineSpec({'device': 'cpu'}, {'cache_dir': CACHE, 'device': 'cpu'})\n"
        "start_worker(spec, None, None, 10**8, 1.0)",
    ),
}


def seconds(setup: str, step: str, cache: Path) -> float:
    code = f"CACHE = {str(cache)!r}\n{setup}\n" + TIMED.format(step=textwrap.dedent(step))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        FaceEmbedder(cache_dir=cache).load()  # the cache as a library's first load leaves it
        print(f"median of {args.runs} fresh processes each")
        print("| step | seconds |")
        print("| --- | --- |")
        for name, (setup, step) in STEPS.items():
            runs = [seconds(setup, step, cache) for _ in range(args.runs)]
            print(f"| {name} | {statistics.median(runs):.3f} |")


if __name__ == "__main__":
    main()
