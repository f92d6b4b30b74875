"""GPU benchmark for one call on a lent GPU machine: descriptor faces/s and pipeline images/s.

Run by ``bench/gpu.sh`` (which checks the environment first); prints one JSON object.
Measures, in this order, each stage skipped when too little of ``--budget-s`` is left:

1. ``descriptor``: dlib's ResNet (``TorchDlibResNet``, chips already on the device) in
   strict fp32, TF32 and fp16, eager, at each ``--batches`` size, in faces/s (network
   passes: ``FaceEmbedder.describe`` costs two per face, the chip and its mirror image);
   then each precision's descriptors of the real chips from ``samples.npz`` against ONNX
   Runtime's CPU ones made by ``prepare_gpu_assets.py`` and against strict fp32 (max and
   mean absolute difference, raw and flip-averaged at length 1.43);
2. ``host_path``: the same through ``TorchSession.run`` from numpy chips in host memory
   (what ``FaceEmbedder`` does: copy in, run, copy out);
3. ``detector_network``: RetinaFace on a device batch of 640x480 inputs (needs ``onnx``);
4. ``pipeline``: ``FaceDetector(device=...).detect_batch`` + ``align_faces`` +
   ``FaceEmbedder(device=...).describe`` on ``--pipeline-images`` decoded 640x480 images
   (the real ones in ``samples.npz``, repeated), in images/s (needs ``PIL`` and ``onnx``);
5. ``compiled``: ``torch.compile`` of the descriptor (fp16 at the largest batch first),
   while time is left.

Needs only torch and numpy for stages 1-2: when ``import facesight`` fails (a missing
dependency), our model modules are imported without the package's ``__init__``. The
weights come from ``--assets``/site, laid out like site-packages (see
``prepare_gpu_assets.py``), unless the weight packages are installed.

A watchdog prints what was measured so far and exits with status 3 once ``--budget-s``
has passed, whatever is running (a compile, say).

Usage: python bench/gpu_throughput.py [--device cuda|cpu] [--quick] [--assets DIR]
       [--budget-s S] [--out FILE] [--no-compile]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parents[1]
TARGET_FACES_PER_S = 100_000
DESCRIPTOR_LENGTH = (
    1.43  # facesight.vision.embed.DESCRIPTOR_LENGTH, without importing onnx-free code
)


class Report:
    """The JSON object being built; printed once, by the main thread or the watchdog."""

    def __init__(self, out: Path | None) -> None:
        self.data: dict[str, Any] = {}
        self.out = out
        self._lock = threading.Lock()
        self._emitted = False

    def emit(self, status: str) -> None:
        with self._lock:
            if self._emitted:
                return
            self._emitted = True
            # stages assign whole results to top-level keys, so a shallow copy is consistent
            snapshot = {**self.data, "status": status}
            text = json.dumps(snapshot, indent=1, default=str)
            if self.out is not None:
                self.out.parent.mkdir(parents=True, exist_ok=True)
                self.out.write_text(text + "\n")
            print(text, flush=True)


def start_watchdog(report: Report, limit_s: float) -> None:
    def fire() -> None:
        time.sleep(limit_s)
        try:
            report.emit(f"incomplete: stopped by the {limit_s:.0f} s time guard")
        finally:
            os._exit(3)

    threading.Thread(target=fire, daemon=True).start()


def import_facesight() -> str:
    """Import our package; if a dependency is missing, only what torch + numpy allow."""
    sys.path.insert(0, str(REPO))
    try:
        importlib.import_module("facesight")
        return "full package"
    except Exception as exc:  # any missing dependency of the package's __init__
        package = types.ModuleType("facesight")
        package.__path__ = [str(REPO / "facesight")]
        sys.modules["facesight"] = package
        return f"model modules only (import facesight failed: {exc!r})"


def importable(name: str) -> bool | str:
    try:
        importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"no: {exc!r}"
    return True


def environment(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "numpy": np.__version__,
        "importable": {name: importable(name) for name in ("onnx", "onnxruntime", "PIL")},
        "weight_packages_installed": {
            name: importlib.util.find_spec(name) is not None
            for name in ("face_recognition_models", "retinaface")
        },
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        info["cudnn"] = torch.backends.cudnn.version()
        info["tf32_convolutions_by_default"] = tf32_enabled()
    return info


def tf32_enabled() -> bool:
    """Whether cuDNN convolutions may use TF32 now (read before anything sets it)."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return bool(conv.fp32_precision == "tf32")
    return bool(torch.backends.cudnn.allow_tf32)


def set_tf32(enabled: bool) -> None:
    """TF32 for cuDNN convolutions and matmuls, through whichever API this torch has."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        conv.fp32_precision = "tf32" if enabled else "ieee"
        torch.backends.cuda.matmul.fp32_precision = "tf32" if enabled else "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = enabled
        torch.backends.cuda.matmul.allow_tf32 = enabled


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def per_second(run: Callable[[], object], items: int, seconds: float, device: torch.device) -> int:
    """Items/s: three warm-up calls, then the median of three timed rounds of ``seconds``."""
    for _ in range(3):
        run()
    sync(device)
    started = time.perf_counter()
    run()
    sync(device)
    reps = max(1, int(seconds / max(time.perf_counter() - started, 1e-6)))
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(reps):
            run()
        sync(device)
        rounds.append(time.perf_counter() - started)
    return round(reps * items / sorted(rounds)[1])


def on_device(module: torch.nn.Module, device: torch.device, half: bool) -> torch.nn.Module:
    """A copy of ``module`` in eval mode on ``device``, channels-last on CUDA."""
    model = copy.deepcopy(module).eval().to(device, torch.float16 if half else torch.float32)
    if device.type == "cuda":
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return model


def batch_of(array: NDArray[Any], size: int) -> NDArray[Any]:
    """``size`` items, repeating ``array`` along its first axis."""
    return np.ascontiguousarray(np.resize(array, (size, *array.shape[1:])))


def describe(raw: NDArray[np.float32]) -> NDArray[np.float32]:
    """FaceEmbedder.describe's maths on (2n, 128) raw descriptors of chips then mirrors."""
    n = len(raw) // 2
    mean = (raw[:n] + raw[n:]) / 2
    lengths = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return (mean / lengths * DESCRIPTOR_LENGTH).astype(np.float32)


def difference(a: NDArray[np.float32], b: NDArray[np.float32]) -> dict[str, float]:
    gap = np.abs(a.astype(np.float64) - b)
    return {"max_abs": float(gap.max()), "mean_abs": float(gap.mean())}


class Bench:
    """The stages, sharing the arguments, the deadline, the device and the report."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.args = args
        self.report = report
        self.device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
        self.deadline = time.monotonic() + args.budget_s
        self.samples: dict[str, NDArray[Any]] = {}
        self.dlib: torch.nn.Module | None = None
        self.default_tf32 = tf32_enabled()  # what a library user gets

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def stage(
        self,
        name: str,
        need_s: float,
        run: Callable[[], dict[str, Any]],
        needs: tuple[str, ...] = (),
    ) -> None:
        """Run one stage into the report; skipped when under ``need_s`` is left or a module
        in ``needs`` does not import; a failure is recorded and the next stage runs."""
        missing = [module for module in needs if importable(module) is not True]
        if missing:
            self.report.data[name] = {"skipped": f"needs {', '.join(missing)}, not importable"}
            return
        if self.left_s() < need_s:
            self.report.data[name] = {"skipped": f"{self.left_s():.0f} s left, needs ~{need_s}"}
            return
        started = time.monotonic()
        try:
            result = run()
        except Exception as exc:  # a benchmark reports a failing stage and goes on
            logging.exception("stage %s failed", name)
            result = {"error": repr(exc)}
        result["stage_s"] = round(time.monotonic() - started, 1)
        self.report.data[name] = result

    def variants(self) -> list[tuple[str, bool, bool]]:
        """(name, fp16, tf32); TF32 exists only on CUDA."""
        if self.device.type != "cuda":
            return [("fp32", False, False), ("fp16", True, False)]
        return [("fp32", False, False), ("tf32", False, True), ("fp16", True, True)]

    def load(self) -> dict[str, Any]:
        from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path
        from facesight.vision.models.torch_dlib_resnet import load_torch_dlib_resnet

        path = self.args.assets / "samples.npz"
        if path.is_file():
            with np.load(path) as npz:
                self.samples = {key: npz[key] for key in npz.files}
        started = time.perf_counter()
        self.dlib = load_torch_dlib_resnet()
        return {
            "weights": str(dlib_model_path(DLIB_RESNET_FILE)),
            "build_s": round(time.perf_counter() - started, 2),
            "real_chips": len(self.samples.get("chips", [])),
        }

    def chips(self) -> NDArray[np.uint8]:
        """Real aligned chips from the assets, else noise (then no reference diffs)."""
        if "chips" in self.samples:
            return self.samples["chips"]
        return np.random.default_rng(0).integers(0, 256, (64, 150, 150, 3), dtype=np.uint8)

    def descriptor(self) -> dict[str, Any]:
        assert self.dlib is not None
        chips = self.chips()
        both = np.concatenate([chips, chips[:, :, ::-1]])  # describe(): chip and mirror
        result: dict[str, Any] = {"faces_per_s": {}, "descriptors_vs": {}}
        outputs = {}
        with torch.inference_mode():
            for name, half, tf32 in self.variants():
                set_tf32(tf32)
                model = on_device(self.dlib, self.device, half)
                for size in self.args.batches:
                    x = torch.from_numpy(batch_of(chips, size)).to(self.device)
                    fps = per_second(
                        lambda m=model, x=x: m(x), size, self.args.seconds, self.device
                    )
                    result["faces_per_s"][f"{name}_batch{size}"] = fps
                    del x
                x = torch.from_numpy(both).to(self.device)
                outputs[name] = model(x).float().cpu().numpy()
                del model, x
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        set_tf32(False)
        result["descriptors_vs"] = self.diffs(outputs, len(chips))
        return result

    def diffs(self, outputs: dict[str, NDArray[np.float32]], n: int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, raw in outputs.items():
            if name != "fp32":
                found[f"{name}_vs_fp32_raw"] = difference(raw, outputs["fp32"])
                found[f"{name}_vs_fp32_describe"] = difference(
                    describe(raw), describe(outputs["fp32"])
                )
            if "ort_cpu_embed" in self.samples:
                found[f"{name}_vs_ort_cpu_raw"] = difference(raw[:n], self.samples["ort_cpu_embed"])
                found[f"{name}_vs_ort_cpu_describe"] = difference(
                    describe(raw), self.samples["ort_cpu_describe"]
                )
        found["descriptor_norm_median"] = float(np.median(np.linalg.norm(outputs["fp32"], axis=1)))
        return found

    def host_path(self) -> dict[str, Any]:
        from facesight.vision.models.torch_session import TorchSession

        assert self.dlib is not None
        size = max(self.args.batches)
        chips = batch_of(self.chips(), size)
        result = {}
        set_tf32(self.default_tf32)
        for name, half in (("fp32_torch_default", False), ("fp16", True)):
            session = TorchSession(
                copy.deepcopy(self.dlib), name="dlib", device=str(self.device), half=half
            )
            fps = per_second(lambda s=session: s.run(chips), size, self.args.seconds, self.device)
            result[f"{name}_batch{size}_faces_per_s"] = fps
        return result

    def detector_network(self) -> dict[str, Any]:
        from facesight.vision.models.torch_retinaface import load_torch_retinaface

        module = load_torch_retinaface()
        size = self.args.detector_batch
        x = torch.randn(size, 3, 480, 640).mul_(60)
        result = {}
        with torch.inference_mode():
            for name, half, tf32 in self.variants():
                set_tf32(tf32)
                model = on_device(module, self.device, half)
                xd = x.to(self.device, torch.float16 if half else torch.float32)
                fps = per_second(lambda m=model, xd=xd: m(xd), size, self.args.seconds, self.device)
                result[f"{name}_batch{size}_images_per_s"] = fps
        set_tf32(False)
        return result

    def pipeline(self) -> dict[str, Any]:
        from facesight.vision.align import align_faces
        from facesight.vision.detect import FaceDetector
        from facesight.vision.embed import FaceEmbedder

        if "images" not in self.samples:
            return {"skipped": "no samples.npz in the assets"}
        device = "cuda" if self.device.type == "cuda" else "torch-cpu"
        set_tf32(self.default_tf32)  # the library leaves torch's defaults alone
        detector = FaceDetector(device=device)
        embedder = FaceEmbedder(device=device, batch_size=256)
        source = self.samples["images"]
        images = [source[i % len(source)] for i in range(self.args.pipeline_images)]

        def run(batch: list[NDArray[np.uint8]]) -> tuple[float, float, float, int]:
            started = time.perf_counter()
            found = detector.detect_batch(batch)
            detected = time.perf_counter()
            chips = [
                align_faces(image, faces.kps5) for image, faces in zip(batch, found, strict=True)
            ]
            aligned = time.perf_counter()
            embedder.describe(np.concatenate(chips))
            sync(self.device)
            done = time.perf_counter()
            return detected - started, aligned - detected, done - aligned, sum(map(len, chips))

        run(images[: min(8, len(images))])  # warm-up: sessions, cuDNN plans
        detect_s, align_s, describe_s, faces = run(images)
        total = detect_s + align_s + describe_s
        return {
            "device": device,
            "detector_provider": detector.provider,
            "embedder_provider": embedder.provider,
            "images": len(images),
            "faces": faces,
            "images_per_s": round(len(images) / total, 1),
            "seconds": {"detect": detect_s, "align": align_s, "describe": describe_s},
        }

    def compiled(self) -> dict[str, Any]:
        assert self.dlib is not None
        result: dict[str, Any] = {}
        chips = self.chips()
        plans = [("fp16", True, True, size) for size in sorted(self.args.batches, reverse=True)]
        plans.append(("tf32", False, True, max(self.args.batches)))
        for name, half, tf32, size in plans:
            key = f"{name}_batch{size}"
            if self.left_s() < self.args.compile_need_s:
                result[key] = {"skipped": f"{self.left_s():.0f} s left"}
                continue
            result[key] = self.compile_one(half, tf32, batch_of(chips, size))
        set_tf32(False)
        return result

    def compile_one(self, half: bool, tf32: bool, chips: NDArray[np.uint8]) -> dict[str, Any]:
        assert self.dlib is not None
        set_tf32(tf32)
        with torch.inference_mode():
            model = on_device(self.dlib, self.device, half)
            fast = torch.compile(model, dynamic=False)
            x = torch.from_numpy(chips).to(self.device)
            started = time.perf_counter()
            got = fast(x)
            sync(self.device)
            compile_s = time.perf_counter() - started
            gap = (got.float() - model(x).float()).abs().max().item()
            fps = per_second(lambda: fast(x), len(chips), self.args.seconds, self.device)
        return {"faces_per_s": fps, "compile_s": round(compile_s, 1), "max_abs_vs_eager": gap}


def summary(data: dict[str, Any]) -> dict[str, Any]:
    rates = dict(data.get("descriptor", {}).get("faces_per_s", {}))
    for key, value in data.get("compiled", {}).items():
        if isinstance(value, dict) and "faces_per_s" in value:
            rates[f"compiled_{key}"] = value["faces_per_s"]
    best = max(rates.items(), key=lambda item: item[1], default=("none", 0))
    diffs = data.get("descriptor", {}).get("descriptors_vs", {})
    return {
        "best_descriptor": {"variant": best[0], "faces_per_s": best[1]},
        "target_faces_per_s": TARGET_FACES_PER_S,
        "meets_target": best[1] >= TARGET_FACES_PER_S,
        "fp16_vs_fp32_describe_max_abs": diffs.get("fp16_vs_fp32_describe", {}).get("max_abs"),
        "pipeline_images_per_s": data.get("pipeline", {}).get("images_per_s"),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: prove it runs on CPU")
    parser.add_argument("--assets", type=Path, default=REPO / "bench" / "gpu-assets")
    parser.add_argument("--budget-s", type=float, default=300.0, help="hard time guard")
    parser.add_argument("--batches", type=int, nargs="+", default=None)
    parser.add_argument("--seconds", type=float, default=None, help="per timed round")
    parser.add_argument("--pipeline-images", type=int, default=None)
    parser.add_argument("--detector-batch", type=int, default=None)
    parser.add_argument("--compile-need-s", type=float, default=100.0)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    quick = args.quick
    args.batches = args.batches or ([8, 16] if quick else [256, 1024])
    args.seconds = args.seconds or (0.2 if quick else 1.0)
    args.pipeline_images = args.pipeline_images or (4 if quick else 256)
    args.detector_batch = args.detector_batch or (2 if quick else 32)
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    report = Report(args.out)
    start_watchdog(report, args.budget_s)
    if args.device == "cuda" and not torch.cuda.is_available():
        report.data["error"] = "--device cuda but torch.cuda.is_available() is False"
        report.emit("failed")
        sys.exit(2)
    bench = Bench(args, report)
    report.data["args"] = {k: str(v) for k, v in vars(args).items()}
    report.data["facesight_import"] = import_facesight()
    report.data["environment"] = environment(bench.device)
    sys.path.append(str(args.assets / "site"))  # installed weight packages win
    if bench.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest
    bench.stage("load", 0, bench.load)
    if bench.dlib is None:
        report.emit("failed: the descriptor could not be loaded")
        sys.exit(2)
    bench.stage("descriptor", 20, bench.descriptor)
    bench.stage("host_path", 15, bench.host_path)
    bench.stage("detector_network", 15, bench.detector_network, needs=("onnx",))
    bench.stage("pipeline", 30, bench.pipeline, needs=("onnx", "PIL"))
    if args.no_compile:
        report.data["compiled"] = {"skipped": "--no-compile"}
    else:
        bench.stage("compiled", args.compile_need_s, bench.compiled)
    report.data["summary"] = summary(report.data)
    report.emit("complete")


if __name__ == "__main__":
    main()
