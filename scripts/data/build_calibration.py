"""Measure the impostor tables shipped in ``facesight/data/calibration.json``.

Every lfw-dev image is described by the full pipeline (the subject is the face
nearest the centre). The tables are ``eval.calibration.measure_tables``: for
template size 1 every pair of images of two different people, every comparison
weighing one over the number of images its people bring, so that every person
counts once (see ``impostor_distances`` for why). A size-k table (k > 1) is the
size-1 table with its distances times the ratio by which fused templates sit
closer to strangers: up to 8 random k-subsets of each person's images fused
(``match.fuse``) and compared with every image of every other person, the ratio
of their distances to size 1's at FMR 1e-2 to 1e-3 (the size-1 tail rests on
every person, a size-k tail only on the few with k images).

Only half of lfw-dev's people are used (``--half calibration``, the default:
those whose sha1(name) starts with an even byte), so the other half can check
them: ``python scripts/data/check_calibration.py`` builds tables the same way on
either half and checks the decision's FPIR on the other (docs/accuracy.md).

Quality factors: impostor pairs are grouped by the quality band of their
poorer face (``quality.quality_band``); a band's factor is how much more often
than the table says its pairs fall under the table's 1e-2 and 1e-3 distances
(geometric mean, never below 1): 1.0 for every band with the tables above.

``centre`` is the mean descriptor of these faces (``ReferenceCalibration.usable``).
``min_centre_distance`` (``scripts/data/measure_quality_rule.py --write``) and the
size and fusion factors (``scripts/data/measure_video_rules.py --write``) are kept as
they are, with ``written_by``, the command that wrote each of them.

Usage: python scripts/data/build_calibration.py [--images DIR] [--cache FILE] [--output FILE]
       [--half calibration|all]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.progress import Progress

from facesight.config import resolve_library_dir
from facesight.defaults import REFERENCE_DEVICE
from facesight.eval.calibration import name_half
from facesight.eval.described import DescriptorCache, describe_images
from facesight.eval.model_calibration import face_set, measure_reference
from facesight.identity.calibrate import load_reference_calibration
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
OUTPUT = Path(__file__).resolve().parents[2] / "facesight" / "data" / "calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument("--cache", type=Path, help="descriptor cache (default: the library's)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--half", choices=["all", "calibration"], default="calibration")
    args = parser.parse_args()
    cache_path = args.cache or resolve_library_dir(None) / "cache" / "eval-descriptors.db"
    paths = sorted(
        p
        for p in args.images.glob("*/*.jpg")
        if args.half == "all" or name_half(p.parent.name) == 0
    )
    pipeline = FacePipeline(
        FaceDetector(device=REFERENCE_DEVICE), FaceEmbedder(device=REFERENCE_DEVICE)
    )
    cache = DescriptorCache(cache_path)
    with Progress() as bar:
        task = bar.add_task("describing", total=len(paths))
        described = describe_images(
            paths, pipeline, cache=cache, on_progress=lambda n: bar.advance(task, n)
        )
    cache.close()
    faces = face_set(paths, described)
    stacked = faces.people()
    # size and fusion factors (scripts/data/measure_video_rules.py --write, docs/video.md)
    # and min_centre_distance (scripts/data/measure_quality_rule.py --write): kept as they are
    reference = measure_reference(
        faces,
        descriptor=pipeline.embedder_version,
        source=(
            f"lfw-dev ({args.half} people): {len(stacked)} people, "
            f"{sum(len(v) for v in stacked.values())} faces found in {len(paths)} images"
        ),
        command="python scripts/data/build_calibration.py",
        carried=load_reference_calibration(),
    )
    tables, factors = reference.tables, reference.quality_factors
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(reference.to_json(), indent=1) + "\n")
    for size, table in tables.items():
        print(
            f"template of {size}: distance at FMR 1e-2 "
            f"{table.distance_at(1e-2):.3f}, 1e-3 {table.distance_at(1e-3):.3f}, "
            f"1e-4 {table.distance_at(1e-4):.3f}, 1e-5 {table.distance_at(1e-5):.3f} "
            f"(size 1's x {table.distance_at(1e-2) / tables[1].distance_at(1e-2):.3f})"
        )
    print("quality factors:", {band: round(f, 3) for band, f in factors.items()})


if __name__ == "__main__":
    main()
