"""Measure the impostor tables shipped in ``facesight/data/calibration.json``.

Every lfw-dev image is described by the full pipeline (the subject is the face
nearest the centre). For template size 1 the impostor comparisons are every
pair of images of two different people (about 14 million). For size k > 1 each
person with more than k images gets a template from their first k images
(``match.fuse``), compared with every image of every other person.

Only half of lfw-dev's people are used (``--half calibration``, the default:
those whose sha1(name) starts with an even byte), so the other half can check
the tables: there the observed FMR is 0.99x the estimate at 1e-2 and 1.18x at
1e-3 (``tests/test_calibration.py`` repeats this on a sample). Further down
the tail populations differ (1.8x at 1e-4, 3.5x at 1e-5: which people happen
to look alike), and that is what each gallery's own cross-person distances
correct (``calibrate.gallery_factor``). Tables measured on all the people and
then corrected by the gallery overestimated the FPIR of lfw-dev's
identification protocol by 2-2.5x (the gallery's look-alikes counted twice);
these hold it within 2x (docs/accuracy.md).

Quality factors: impostor pairs are grouped by the quality band of their
poorer face (``quality.quality_band``); a band's factor is how much more often
than the table says its pairs fall under the table's 1e-2 and 1e-3 distances
(geometric mean, never below 1). On lfw-dev poor faces are matched by strangers
about 1.3x as often; the estimate for a poor probe is raised by that much.

Usage: python scripts/build_calibration.py [--images DIR] [--cache FILE] [--output FILE]
       [--half calibration|all]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress

from facesight.calibrate import ImpostorTable, ReferenceCalibration, load_reference_calibration
from facesight.config import resolve_library_dir
from facesight.detect import FaceDetector
from facesight.embed import FaceEmbedder
from facesight.eval.described import DescriptorCache, describe_images
from facesight.match import fuse, pairwise_distances
from facesight.pipeline import FacePipeline
from facesight.quality import QUALITY_BANDS, quality_band

LFW_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev"
OUTPUT = Path(__file__).resolve().parents[1] / "facesight" / "data" / "calibration.json"
TEMPLATE_SIZES = (1, 2, 3, 4)
LEVELS = (1e-2, 1e-3)


def calibration_half(name: str) -> bool:
    """True for the people whose faces measure the tables (about half of them)."""
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 0


def impostor_distances(people: dict[str, NDArray[np.float32]], size: int) -> NDArray[np.float64]:
    """Template-of-``size`` to face distances between different people."""
    names = list(people)
    faces = np.concatenate([people[n] for n in names])
    owner = np.concatenate([np.full(len(people[n]), i) for i, n in enumerate(names)])
    if size == 1:
        d = pairwise_distances(faces, faces)
        upper = np.triu(owner[:, None] != owner[None, :], 1)
        return d[upper].astype(np.float64)
    chosen = [i for i, n in enumerate(names) if len(people[n]) > size]
    templates = np.stack([fuse(people[names[i]][:size]) for i in chosen])
    d = pairwise_distances(templates, faces)
    other = np.array(chosen)[:, None] != owner[None, :]
    return d[other].astype(np.float64)


def quality_factors(
    table: ImpostorTable,
    vectors: NDArray[np.float32],
    owners: NDArray[np.str_],
    qualities: NDArray[np.float64],
) -> dict[str, float]:
    """Per quality band: observed / estimated impostor rate (see the module docstring)."""
    bands = np.array([QUALITY_BANDS.index(quality_band(q)) for q in qualities])
    cuts = [table.distance_at(level) for level in LEVELS]
    below = np.zeros((len(QUALITY_BANDS), len(LEVELS)))
    total = np.zeros(len(QUALITY_BANDS))
    for start in range(0, len(vectors), 512):
        rows = np.arange(start, min(start + 512, len(vectors)))
        d = pairwise_distances(vectors[rows], vectors)
        pair = (np.arange(len(vectors))[None, :] > rows[:, None]) & (
            owners[rows][:, None] != owners[None, :]
        )
        worse = np.maximum(bands[rows][:, None], bands[None, :])
        for b in range(len(QUALITY_BANDS)):
            mine = pair & (worse == b)
            total[b] += mine.sum()
            for k, cut in enumerate(cuts):
                below[b, k] += (mine & (d <= cut)).sum()
    factors = {}
    for b, band in enumerate(QUALITY_BANDS):
        ratios = below[b] / np.maximum(total[b], 1) / np.array(LEVELS)
        factors[band] = float(max(1.0, np.exp(np.log(np.maximum(ratios, 1e-9)).mean())))
    return factors


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
        if args.half == "all" or calibration_half(p.parent.name)
    )
    pipeline = FacePipeline(FaceDetector(), FaceEmbedder())
    cache = DescriptorCache(cache_path)
    with Progress() as bar:
        task = bar.add_task("describing", total=len(paths))
        described = describe_images(
            paths, pipeline, cache=cache, on_progress=lambda n: bar.advance(task, n)
        )
    cache.close()
    people: dict[str, list[NDArray[np.float32]]] = defaultdict(list)
    owners, vectors, qualities = [], [], []
    for path, item in zip(paths, described, strict=True):
        if item.descriptor is not None:
            people[path.parent.name].append(item.descriptor)
            owners.append(path.parent.name)
            vectors.append(item.descriptor)
            qualities.append(item.quality_score or 0.0)
    stacked = {name: np.stack(v) for name, v in people.items()}
    tables = {
        size: ImpostorTable.measure(impostor_distances(stacked, size)) for size in TEMPLATE_SIZES
    }
    factors = quality_factors(tables[1], np.stack(vectors), np.array(owners), np.array(qualities))
    reference = ReferenceCalibration(
        descriptor=pipeline.embedder_version,
        source=(
            f"lfw-dev ({args.half} people): {len(stacked)} people, "
            f"{sum(len(v) for v in stacked.values())} faces found in {len(paths)} images"
        ),
        command="python scripts/build_calibration.py",
        tables=tables,
        quality_factors=factors,
        # measured by scripts/measure_video_rules.py (docs/video.md): kept as they are
        size_factors=load_reference_calibration().size_factors,
        fused_factors=load_reference_calibration().fused_factors,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(reference.to_json(), indent=1) + "\n")
    for size, table in tables.items():
        print(
            f"template of {size}: {table.pairs} impostor comparisons; distance at FMR 1e-2 "
            f"{table.distance_at(1e-2):.3f}, 1e-3 {table.distance_at(1e-3):.3f}, "
            f"1e-4 {table.distance_at(1e-4):.3f}, 1e-5 {table.distance_at(1e-5):.3f}"
        )
    print("quality factors:", {band: round(f, 3) for band, f in factors.items()})


if __name__ == "__main__":
    main()
