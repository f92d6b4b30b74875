"""Whole evaluations as the CLI runs them: describe (cached), measure, plot, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facesight.defaults import DEFAULT_TARGET_FPIR
from facesight.errors import InvalidInputError
from facesight.eval.datasets import lfw_image_path, read_pairs
from facesight.eval.described import DescriptorCache, describe_images
from facesight.eval.html import ReportSection, render_report, write_report
from facesight.eval.identification import (
    evaluate_identification,
    identification_protocol,
    person_folders,
)
from facesight.eval.plots import error_curve, require_plotting, save_det_plot
from facesight.eval.verification import evaluate_pairs
from facesight.face_models import DLIB_MODEL
from facesight.identity.calibrate import ReferenceCalibration, load_reference_calibration
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

__all__ = ["EvalSetup", "run_identification", "run_pairs"]


@dataclass(frozen=True)
class EvalSetup:
    """What an evaluation needs: the pipeline, the shipped calibration and the decision.

    A library's own (``Library.pipeline``, ``.reference_calibration``, ``.target_fpir``),
    or :meth:`standalone`: evaluating labelled data needs no library database.
    """

    pipeline: FacePipeline
    reference_calibration: ReferenceCalibration
    target_fpir: float

    @classmethod
    def standalone(
        cls, model_cache: Path, *, device: str = "auto", target_fpir: float = DEFAULT_TARGET_FPIR
    ) -> EvalSetup:
        """The default pipeline, its converted model cached in ``model_cache``."""
        pipeline = FacePipeline(
            FaceDetector(device=device), FaceEmbedder(cache_dir=model_cache, device=device)
        )
        return cls(pipeline, load_reference_calibration(), target_fpir)


Progress = Callable[[int, int], None]
"""Called with (images done, images in all) as images are described."""


def _describe(
    paths: list[Path],
    pipeline: FacePipeline,
    cache: DescriptorCache | None,
    progress: Progress | None,
) -> dict[Path, Any]:
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, len(paths))

    described = describe_images(paths, pipeline, cache=cache, on_progress=step)
    return {p: d for p, d in zip(paths, described, strict=True)}


def _versions(pipeline: FacePipeline) -> dict[str, str]:
    spec = pipeline.embedder.spec
    return {
        "detector": pipeline.detector_version,
        "descriptor": pipeline.embedder_version,
        "model": DLIB_MODEL if spec is None else spec.name,
        "distance": pipeline.embedder.metric,
    }


def run_pairs(
    pairs_file: Path,
    images: Path,
    *,
    pipeline: FacePipeline,
    reference: ReferenceCalibration,
    cache: DescriptorCache | None = None,
    det_path: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate an LFW-style pair list; every figure as one JSON-ready dict."""
    started = time.perf_counter()
    if det_path is not None:
        require_plotting()
    pairs = read_pairs(pairs_file)
    keys = sorted({p.first for p in pairs} | {p.second for p in pairs})
    paths = [lfw_image_path(images, *k) for k in keys]
    missing = [p for p in paths if not p.exists()]
    if missing:
        named = ", ".join(str(p.relative_to(images)) for p in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise InvalidInputError(
            f"{pairs_file}: {len(missing)} image(s) are not under {images}: {named}{more}"
        )
    described = _describe(paths, pipeline, cache, progress)
    descriptors = {k: described[p].descriptor for k, p in zip(keys, paths, strict=True)}
    qualities = {k: described[p].quality_score for k, p in zip(keys, paths, strict=True)}
    report, genuine, impostor = evaluate_pairs(
        pairs, descriptors, qualities, reference, pipeline.embedder.metric
    )
    result = asdict(report) | _versions(pipeline)
    if det_path is not None:
        save_det_plot(
            [error_curve("facesight", genuine, impostor)],
            det_path,
            title=f"Verification DET: {pairs_file.name} ({report.pairs} pairs)",
            x_label="false match rate",
            y_label="false non-match rate",
        )
        result["det_curve"] = str(det_path)
    result["seconds"] = time.perf_counter() - started
    return result


def run_identification(
    root: Path,
    *,
    pipeline: FacePipeline,
    reference: ReferenceCalibration,
    references: int = 1,
    probes_from: int | None = None,
    target_fpir: float = DEFAULT_TARGET_FPIR,
    cache: DescriptorCache | None = None,
    det_path: Path | None = None,
    html_path: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate 1:N identification on a folder per person; every figure as one dict."""
    started = time.perf_counter()
    if det_path is not None:
        require_plotting()
    protocol = identification_protocol(person_folders(root), references, probes_from)
    paths = protocol.images()
    described = _describe(paths, pipeline, cache, progress)
    descriptors = {p: described[p].descriptor for p in paths}
    qualities = {p: described[p].quality_score for p in paths}
    report, genuine, nonmated = evaluate_identification(
        protocol, descriptors, qualities, reference, target_fpir, pipeline.embedder.metric
    )
    result = asdict(report) | _versions(pipeline)
    if det_path is not None:
        save_det_plot(
            [error_curve(f"facesight, {report.enrolled} enrolled", genuine, nonmated)],
            det_path,
            title=f"Identification DET: {root.name}, {report.enrolled} enrolled",
            x_label="false positive identification rate (FPIR)",
            y_label="false negative identification rate (FNIR)",
        )
        result["det_curve"] = str(det_path)
    result["seconds"] = time.perf_counter() - started
    if html_path is not None:
        write_report(html_path, _identification_html(root, result, det_path))
        result["html_report"] = str(html_path)
    return result


def _identification_html(root: Path, result: dict[str, Any], det_path: Path | None) -> str:
    def pct(value: float) -> str:
        return f"{100 * value:.2f} %"

    figures = ReportSection(
        "Figures",
        [
            ("enrolled people", str(result["enrolled"])),
            ("references per person", str(result["references_per_person"])),
            ("mated probes", str(result["mated_probes"])),
            ("non-mated probes", str(result["nonmated_probes"])),
            ("failure to detect", pct(result["failure_to_detect_rate"])),
            ("rank-1 accuracy (closed set)", pct(result["rank1_accuracy"])),
        ]
        + [(f"FNIR at FPIR {k}", pct(v)) for k, v in result["fnir_at_fpir"].items()],
    )
    default = ReportSection(
        "The default decision",
        [
            ("target FPIR", f"{result['default_target_fpir']:g}"),
            (
                "observed FPIR",
                f"{result['default_observed_fpir']:.4f} "
                f"({result['default_false_positives']} of {result['nonmated_probes']})",
            ),
            ("FNIR at the default", pct(result["default_fnir"])),
            ("gallery correction factor", f"{result['gallery_factor']:.2f}"),
        ],
        note="Strangers falsely named at the library's default threshold for this gallery size.",
    )
    quality = ReportSection(
        "Misses by probe quality",
        [
            (band, f"FNIR {pct(v['fnir'])} over {int(v['probes'])} probes")
            for band, v in result["fnir_by_quality"].items()
        ],
    )
    models = ReportSection(
        "Models", [("detector", result["detector"]), ("descriptor", result["descriptor"])]
    )
    images = {"DET curve": det_path} if det_path is not None else {}
    return render_report(
        f"facesight identification: {root}", [figures, default, quality, models], images=images
    )
