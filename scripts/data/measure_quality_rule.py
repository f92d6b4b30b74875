"""Measure how degraded faces are matched, by quality, and derive the naming rule.

One probe for every other person of lfw-dev's *check* half (the people
``scripts/data/build_calibration.py`` leaves out) who has at least two images: their
first image, degraded in one of several ways (down-scaled so the face is 40-64
px wide, Gaussian blur, JPEG compression, horizontal motion blur, and small and
soft together, as video faces are), goes through the whole pipeline
(``FacePipeline.analyze``: detection, alignment, quality, descriptor). Each
degraded descriptor is compared with the clean descriptors of every other
check-half face: other people's faces are impostor pairs, the same person's
other images genuine pairs.

Per degradation, per band of the probe's quality score and per band of its
descriptor's distance to the centre of all faces (``ReferenceCalibration.
centre``), at the distances where the shipped single-face table estimates
FMR 1e-2, 1e-3 and 1e-4 (the per-person levels of a 1-, 10- and 100-person
gallery at FPIR 1e-2), the script prints the observed impostor rate over the *corrected*
estimate (the table times the probe's quality/size factor, as a scan applies
it) and the miss rate of genuine pairs.

The quality score does not sort these faces: a mild Gaussian blur scores 0
and is matched almost as well as a clean face, heavy JPEG scores 1 and is not.
The descriptor's distance to the centre does: degraded descriptors collapse
towards the mean face, where strangers come close more often and the person's
own faces are missed. The rule (``min_centre_distance`` in
``facesight/data/calibration.json``, written by ``--write``): the upper edge of
the highest centre-distance band, under the clean faces' median, whose observed
FMR at any of these levels is more than ``HONEST_RATIO`` times the estimate. Faces under it
keep their candidates for review and ``--investigate``, marked insufficient
quality, but are never a match.

Usage: python scripts/data/measure_quality_rule.py [--quick] [--write] [--cache FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from facesight.config import resolve_library_dir
from facesight.defaults import REFERENCE_DEVICE
from facesight.eval.described import DescriptorCache, describe_images
from facesight.identity.calibrate import (
    ReferenceCalibration,
    load_reference_calibration,
    write_measured_fields,
)
from facesight.identity.match import pairwise_distances
from facesight.media.images import load_image
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder
from facesight.vision.pipeline import FacePipeline

LFW_DEV = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
OUTPUT = Path(__file__).resolve().parents[2] / "facesight" / "data" / "calibration.json"
WRITE_COMMAND = "python scripts/data/measure_quality_rule.py --write"
LEVELS = (1e-2, 1e-3, 1e-4)
QUALITY_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.01)
CENTRE_EDGES = (0.0, *np.round(np.arange(0.40, 0.601, 0.02), 2).tolist(), 9.0)
HONEST_RATIO = 1.5
"""Largest observed/estimated impostor ratio a face may show and still be named:
the tolerance the calibration itself is held to (docs/accuracy.md)."""
BATCH = 16

Degrade = Callable[[Image.Image, float], Image.Image]


def _scale_to(width_px: float) -> Degrade:
    def apply(image: Image.Image, face_px: float) -> Image.Image:
        factor = width_px / max(face_px, 1.0)
        size = (max(round(image.width * factor), 8), max(round(image.height * factor), 8))
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


def _gauss(sigma: float) -> Degrade:
    return lambda image, _: image.filter(ImageFilter.GaussianBlur(sigma))


def _jpeg(quality: int) -> Degrade:
    def apply(image: Image.Image, _: float) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")

    return apply


def _motion(length_px: int) -> Degrade:
    def apply(image: Image.Image, _: float) -> Image.Image:
        pixels = np.asarray(image, np.float32)
        shifts = range(-(length_px // 2), length_px // 2 + 1)
        mean = sum(np.roll(pixels, s, axis=1) for s in shifts) / len(shifts)
        return Image.fromarray(np.clip(mean, 0, 255).astype(np.uint8))

    return apply


def _then(*steps: Degrade) -> Degrade:
    def apply(image: Image.Image, face_px: float) -> Image.Image:
        for step in steps:
            image = step(image, face_px)
        return image

    return apply


VARIANTS: dict[str, Degrade] = {
    "clean": lambda image, _: image,
    "40px": _scale_to(40),
    "48px": _scale_to(48),
    "64px": _scale_to(64),
    "gauss2": _gauss(2),
    "gauss3.5": _gauss(3.5),
    "gauss5": _gauss(5),
    "jpeg10": _jpeg(10),
    "jpeg4": _jpeg(4),
    "motion9": _motion(9),
    "motion17": _motion(17),
    "48px+gauss1": _then(_scale_to(48), _gauss(1)),
}
QUICK_VARIANTS = ("clean", "48px", "gauss5", "motion17")


def check_half(name: str) -> bool:
    """The people ``scripts/data/build_calibration.py`` leaves out (sha1(name) starts odd)."""
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 1


@dataclass
class Probes:
    """Degraded probes: per variant, (n, d) descriptors (NaN: not found) and quality facts."""

    owners: list[str]
    vectors: dict[str, NDArray[np.float32]]
    quality: dict[str, NDArray[np.float64]]
    width_px: dict[str, NDArray[np.float64]]
    sharpness: dict[str, NDArray[np.float64]]


def _subject(found: list[tuple[float, float, float, float]], centre: tuple[float, float]) -> int:
    return int(np.argmin([(x - centre[0]) ** 2 + (y - centre[1]) ** 2 for x, y, _, _ in found]))


def describe_probes(
    paths: list[Path], variants: list[str], pipeline: FacePipeline, cache_file: Path
) -> Probes:
    """Every probe under every variant (cached in ``cache_file`` by path and variant)."""
    versions = f"{pipeline.detector_version}|{pipeline.embedder_version}"
    rows: dict[str, NDArray[np.float64]] = {}
    if cache_file.exists():
        with np.load(cache_file) as data:
            rows = {str(k): v for k, v in zip(data["keys"], data["rows"], strict=True)}
    todo = [(p, v) for v in variants for p in paths if f"{p}|{v}|{versions}" not in rows]
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        images = []
        for path, variant in chunk:
            image = Image.fromarray(load_image(path).pixels)
            # LFW faces are about 0.4 of the 250-px image: the clean box is measured below
            images.append(np.asarray(VARIANTS[variant](image, 0.42 * image.width)))
        for (path, variant), pixels, result in zip(
            chunk, images, pipeline.analyze_batch(images), strict=True
        ):
            row = np.full(128 + 3, np.nan)
            if len(result):
                xyxy = result.faces.xyxy
                middle = [(float(a + c) / 2, float(b + d) / 2, 0.0, 0.0) for a, b, c, d in xyxy]
                i = _subject(middle, (pixels.shape[1] / 2, pixels.shape[0] / 2))
                assert result.faces.embedding is not None
                q = result.quality[i]
                row = np.concatenate([result.faces.embedding[i], [q.score, q.size_px, q.sharpness]])
            rows[f"{path}|{variant}|{versions}"] = row
        if start // BATCH % 20 == 19 or start + BATCH >= len(todo):
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            with cache_file.open("wb") as handle:
                np.savez(handle, keys=np.array(list(rows)), rows=np.stack(list(rows.values())))
            print(f"  described {min(start + BATCH, len(todo))}/{len(todo)}", flush=True)
    table = {v: np.stack([rows[f"{p}|{v}|{versions}"] for p in paths]) for v in variants}
    return Probes(
        owners=[p.parent.name for p in paths],
        vectors={v: t[:, :128].astype(np.float32) for v, t in table.items()},
        quality={v: t[:, 128] for v, t in table.items()},
        width_px={v: t[:, 129] for v, t in table.items()},
        sharpness={v: t[:, 130] for v, t in table.items()},
    )


@dataclass
class Counts:
    """Impostor and genuine counts of a group of probes at each level."""

    probes: int = 0
    impostor_pairs: int = 0
    estimated: NDArray[np.float64] | None = None  # expected impostor events at each level
    observed: NDArray[np.float64] | None = None  # impostor events at each level
    genuine_pairs: int = 0
    missed: NDArray[np.float64] | None = None  # genuine pairs over each level's distance

    def add(self, other: Counts) -> None:
        self.probes += other.probes
        self.impostor_pairs += other.impostor_pairs
        self.genuine_pairs += other.genuine_pairs
        for name in ("estimated", "observed", "missed"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs.copy() if mine is None else mine + theirs)

    def ratio(self) -> NDArray[np.float64]:
        assert self.observed is not None and self.estimated is not None
        return self.observed / np.maximum(self.estimated, 1e-12)

    def miss_rate(self) -> NDArray[np.float64]:
        assert self.missed is not None
        return self.missed / max(self.genuine_pairs, 1)


def probe_counts(
    reference: ReferenceCalibration,
    vector: NDArray[np.float32],
    quality: float,
    width_px: float,
    owner: str,
    clean: NDArray[np.float32],
    owners: NDArray[np.str_],
) -> Counts:
    """One probe against every clean face: at each level's corrected distance, how many."""
    factor = reference.probe_factor(quality, width_px)
    table = reference.table(1)
    # the probe is a match where table FMR * factor <= level: the distance at level / factor
    cuts = np.array([table.distance_at(min(level / factor, 1.0)) for level in LEVELS])
    d = pairwise_distances(vector[None, :], clean)[0]
    impostor, genuine = d[owners != owner], d[owners == owner]
    return Counts(
        probes=1,
        impostor_pairs=len(impostor),
        estimated=np.array(LEVELS) * len(impostor),
        observed=np.array([(impostor <= c).sum() for c in cuts], np.float64),
        genuine_pairs=len(genuine),
        missed=np.array([(genuine > c).sum() for c in cuts], np.float64),
    )


def band_of(quality: float) -> int:
    return int(np.searchsorted(QUALITY_EDGES, quality, side="right") - 1)


def measure(
    probes: Probes, clean: NDArray[np.float32], owners: NDArray[np.str_]
) -> tuple[dict[str, tuple[int, Counts]], list[Counts], list[Counts]]:
    """Per variant (faces found, counts), per quality band and per centre-distance band."""
    reference = load_reference_calibration()
    centre = np.asarray(reference.centre, np.float64)
    by_variant: dict[str, tuple[int, Counts]] = {}
    by_band = [Counts() for _ in QUALITY_EDGES[:-1]]
    by_centre = [Counts() for _ in CENTRE_EDGES[:-1]]
    for variant, vectors in probes.vectors.items():
        total, found = Counts(), 0
        for i, owner in enumerate(probes.owners):
            if not np.isfinite(vectors[i, 0]):
                continue
            found += 1
            q, w = float(probes.quality[variant][i]), float(probes.width_px[variant][i])
            counts = probe_counts(reference, vectors[i], q, w, owner, clean, owners)
            total.add(counts)
            by_band[band_of(q)].add(counts)
            spread = float(np.linalg.norm(vectors[i] - centre))
            by_centre[int(np.searchsorted(CENTRE_EDGES, spread, side="right") - 1)].add(counts)
        by_variant[variant] = (found, total)
    return by_variant, by_band, by_centre


def choose_min_centre_distance(by_centre: list[Counts], median: float, min_probes: int) -> float:
    """The upper edge of the highest band under ``median`` whose FMR at any level is
    beyond ``HONEST_RATIO`` times the estimate (0: none is)."""
    for b in range(len(by_centre) - 1, -1, -1):
        counts = by_centre[b]
        if CENTRE_EDGES[b + 1] > median or counts.probes < min_probes:
            continue
        if float(counts.ratio().max()) > HONEST_RATIO:
            return float(CENTRE_EDGES[b + 1])
    return 0.0


def _row(label: str, counts: Counts, extra: str = "") -> str:
    ratio = " ".join(f"{r:5.2f}x" for r in counts.ratio())
    miss = " ".join(f"{m:6.1%}" for m in counts.miss_rate())
    return f"| {label} |{extra} {counts.probes} | {ratio} | {miss} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=LFW_DEV / "people")
    parser.add_argument("--cache", type=Path, help="degraded-probe cache (default: the library's)")
    parser.add_argument("--quick", action="store_true", help="40 probes, 4 variants (a test)")
    parser.add_argument("--write", action="store_true", help="write min_quality to --output")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    cache_dir = resolve_library_dir(None) / "cache"
    people = sorted(p for p in args.images.iterdir() if p.is_dir() and check_half(p.name))
    all_paths = [path for person in people for path in sorted(person.glob("*.jpg"))]
    pipeline = FacePipeline(
        FaceDetector(device=REFERENCE_DEVICE), FaceEmbedder(device=REFERENCE_DEVICE)
    )
    cache = DescriptorCache(cache_dir / "eval-descriptors.db")
    described = describe_images(all_paths, pipeline, cache=cache)
    cache.close()
    kept = [(p, d.descriptor) for p, d in zip(all_paths, described, strict=True) if d.found]
    owners = np.array([p.parent.name for p, _ in kept])
    clean = np.stack([d for _, d in kept if d is not None])
    # every other eligible person (the machine is small); --quick: every 5th of those
    probe_paths = [sorted(p.glob("*.jpg"))[0] for p in people if len(list(p.glob("*.jpg"))) >= 2]
    probe_paths = probe_paths[::2][::5][:40] if args.quick else probe_paths[::2]
    variants = list(QUICK_VARIANTS if args.quick else VARIANTS)
    probes = describe_probes(
        probe_paths, variants, pipeline, args.cache or cache_dir / "degraded-probes.npz"
    )
    by_variant, by_band, by_centre = measure(probes, clean, owners)
    reference = load_reference_calibration()
    spread = np.linalg.norm(clean - np.asarray(reference.centre, np.float32), axis=1)
    median = float(np.median(spread))
    levels = " ".join(f"{level:.0e}" for level in LEVELS)
    print(f"{len(probe_paths)} probes, {len(clean)} clean check-half faces; levels {levels}")
    print("\n| degradation | found | median quality | probes | observed/estimated FMR | missed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for variant, (found, counts) in by_variant.items():
        middle = float(np.nanmedian(probes.quality[variant]))
        print(_row(variant, counts, f" {found / len(probe_paths):.0%} | {middle:.2f} |"))
    for title, edges, groups in (
        ("quality", QUALITY_EDGES, by_band),
        ("distance to centre", CENTRE_EDGES, by_centre),
    ):
        print(f"\n| {title} | probes | observed/estimated FMR | missed |")
        print("| --- | --- | --- | --- |")
        for b, counts in enumerate(groups):
            if counts.probes:
                print(_row(f"{edges[b]:.2f}-{min(edges[b + 1], 1.0):.2f}", counts))
    chosen = choose_min_centre_distance(by_centre, median, min_probes=5 if args.quick else 30)
    named, under = Counts(), Counts()
    for b, counts in enumerate(by_centre):
        if counts.probes:
            (named if CENTRE_EDGES[b] >= chosen else under).add(counts)
    clean_under = float((spread < chosen).mean())
    print(f"\nmin_centre_distance {chosen:.2f} (clean faces' median {median:.3f})")
    print("| faces | probes | observed/estimated FMR | missed |")
    print(_row("named (at or over it)", named))
    if under.probes:
        print(_row("never named (under it)", under))
    print(f"clean check-half faces under it: {clean_under:.1%}")
    if args.write:
        fields = {"min_centre_distance": chosen}
        write_measured_fields(args.output, fields, WRITE_COMMAND)
        print(f"wrote min_centre_distance to {args.output}")


if __name__ == "__main__":
    main()
