"""Check the calibrated decision on people the tables never saw: claimed vs observed FPIR.

lfw-dev's people are split in two halves by sha1(name) (``eval.calibration.
name_half``). Tables are measured on one half exactly as ``scripts/
build_calibration.py`` measures the shipped ones, and the decision rule is
checked on the other half's people in random galleries (``eval.calibration.
check_fpir``): 10, 100 and 1,000 people with 1 reference, 10, 100 and 200 with
3, at target FPIR 1e-2 and 1e-3. Both directions are printed. The shipped
tables are those built on half 0, so "build 0 / check 1" is the shipped
calibration checked on unseen people.

Usage: python scripts/check_calibration.py [--quick] [--json] [--trials N]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from facesight.config import resolve_library_dir
from facesight.eval.calibration import (
    FaceSet,
    check_fpir,
    measure_tables,
    quality_factors,
)
from facesight.eval.described import DescriptorCache, describe_images
from facesight.identity.calibrate import ReferenceCalibration, load_reference_calibration
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
CONFIGS = ((10, 1), (100, 1), (1000, 1), (10, 3), (100, 3), (200, 3))
TARGETS = (1e-2, 1e-3)
MAX_RATIO = 1.5
"""The claim the README makes: observed FPIR within 1.5x of the target (either way)."""


def load_faces(images: Path, cache_path: Path) -> FaceSet:
    """Every lfw-dev image's subject (the face nearest the centre), from the descriptor cache."""
    paths = sorted(images.glob("*/*.jpg"))
    cache = DescriptorCache(cache_path)
    described = describe_images(paths, FacePipeline(FaceDetector(), FaceEmbedder()), cache=cache)
    cache.close()
    kept = [(p, d) for p, d in zip(paths, described, strict=True) if d.descriptor is not None]
    return FaceSet(
        vectors=np.stack([d.descriptor for _, d in kept if d.descriptor is not None]),
        owners=np.array([p.parent.name for p, _ in kept]),
        quality=np.array([d.quality_score or 0.0 for _, d in kept], np.float64),
    )


def reference_from(faces: FaceSet, shipped: ReferenceCalibration) -> ReferenceCalibration:
    """Tables and quality factors measured on ``faces``, as the shipped ones are."""
    tables = measure_tables(faces.people())
    return ReferenceCalibration(
        descriptor=shipped.descriptor,
        source="",
        command="",
        tables=tables,
        quality_factors=quality_factors(tables[1], faces),
        size_factors=shipped.size_factors,
        fused_factors=shipped.fused_factors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument("--cache", type=Path, help="descriptor cache (default: the library's)")
    parser.add_argument("--quick", action="store_true", help="fewer random galleries")
    parser.add_argument("--trials", type=int, help="random galleries per configuration")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    trials = args.trials or (20 if args.quick else 100)
    cache_path = args.cache or resolve_library_dir(None) / "cache" / "eval-descriptors.db"
    faces = load_faces(args.images, cache_path)
    shipped = load_reference_calibration()
    rows = []
    for build in (0, 1):
        reference = reference_from(faces.half(build), shipped)
        checked = faces.half(1 - build)
        for people, refs in CONFIGS:
            for result in check_fpir(
                reference, checked, people=people, references=refs, targets=TARGETS, trials=trials
            ):
                rows.append({"build_half": build, "check_half": 1 - build, **asdict(result)})
                rows[-1]["ratio"] = result.ratio
    if args.json:
        print(json.dumps({"max_ratio": MAX_RATIO, "trials": trials, "rows": rows}, indent=1))
        return
    print(
        f"{trials} random galleries per row; a search's claim is its gallery's FPIR; "
        "searches weigh one over their person's faces (persons: their sum)"
    )
    print(
        "| built on | checked on | people x refs | target | searches | persons | claimed "
        "| observed | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        size = f"{r['drawn']}" + ("" if r["drawn"] == r["people"] else f" (of {r['people']})")
        print(
            f"| half {r['build_half']} | half {r['check_half']} | {size} x {r['references']} | "
            f"{r['target_fpir']:.0e} | {r['searches']} | {r['persons']:.0f} | "
            f"{r['claimed']:.1f} | {r['observed']:.1f} | {r['ratio']:.2f} |"
        )


if __name__ == "__main__":
    main()
