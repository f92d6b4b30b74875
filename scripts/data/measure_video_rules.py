"""Measure small faces and multi-frame tracks against the shipped impostor tables.

Video faces are often small, and a track (one face followed over frames) offers
several views of one person. Two questions, both on lfw-dev's *check* half of
people (those ``scripts/data/build_calibration.py`` left out of the tables):

A. **Face size.** Each probe image is shrunk so the subject's detector box
   (measured on the original) is about W px wide, then goes through the whole
   pipeline (``FacePipeline.analyze``). Its descriptor is compared with the
   full-size descriptors of every other check-half image: other people give
   impostor pairs, the same person genuine pairs. At the distances where the
   template-size-1 table says FMR = 1e-2, 1e-3 and 1e-4, the observed impostor
   rate over the table's level is the *size factor*; the genuine rate is TAR.
   Rows per nominal W, per measured box width and per quality band.

B. **Track fusion.** A track's descriptor is made by one of four rules:
   ``best`` (the best-quality face), ``top3`` (``match.fuse`` of the three
   best), ``all`` (``match.fuse`` of every face) or ``min`` (the smallest
   distance of any face). Tracks are simulated two ways: ``photos``, k
   different photos of a person (pessimistic: video frames look more alike),
   and ``video``, one photo rendered k times at jittered scale, shift and
   mirror around a base face width. The gallery holds one full-size reference
   for each check-half person (the first image); tracks never use it. FNIR is
   measured at the empirical thresholds giving FPIR 1e-2 and 5e-2, where the
   unenrolled tracks are every check-half track searched without its own
   person (leave-one-out) plus tracks of calibration-half people. Then each
   rule's track descriptor is compared with every full-size check-half face
   of other people (and with 3-face templates): observed / estimated FMR
   (``honesty``) says whether a fused probe needs a correction factor. The
   estimate counts the fused probe as a template of n faces, or of
   :func:`effective_faces` of them (near-identical frames are worth about one).

Findings (2026-12, 752 probes, 1.9 M impostor pairs per width): strangers match a
24 px face 1.6x (1e-2) / 1.35x (1e-3) as often as the single-face table says, a
16-20 px face 1.9-2.3x; from 48 px on, 1.0x. TAR at 1e-3 falls from 0.95 at full
size to 0.82 at 24 px, 0.66 at 20 px and 0.45 at 16 px (detected 94 %, 67 %, 19 %).
Fusing k different photos halves FNIR (k = 3: 0.16 against 0.39 for the best face)
but strangers then match the fused probe 2.1-2.7x as often as the single-face table
says at 1e-2; counted as a template of n_eff faces the estimate holds within
0.9-1.1x (1.2-1.5x against 3-face templates). Near-identical frames of a 48 px face
gain nothing from fusion and cost about 1.2x. ``min`` costs 1.5-3x and gains less.

The shipped factors (``--write`` puts them in ``facesight/data/calibration.json``,
keeping every other field, and names this command in its ``written_by``). A scan
multiplies the table's estimated FMR of a probe by these factors
(``ReferenceCalibration.probe_factor``), so each is observed over estimated FMR
(the ``factor`` and ``h1_factor`` columns, not ``relative``), the larger at the
table's FMR 1e-2 and 1e-3 distances, floored at 1.0:

- ``size_factors``, one ``[up to W px, factor]`` step per measured-box-width bin
  (``WIDTH_BINS_PX`` up to ``SIZE_STEP_MAX_PX``; ``ReferenceCalibration.size_factor``
  looks up the probe's measured box width), over every degraded rendering in the
  bin; a bin with fewer than ``MIN_BIN_PROBES`` renderings takes the next larger
  bin's factor; made monotone (a smaller face never gets a smaller factor).
- ``fused_factors``, per number of faces k = 2, 3 that ``top3`` fuses (a scan fuses
  a track's 3 best faces; longer tracks take the 3-face factor): the ``top3``
  descriptor of the enrolled k-photo tracks against strangers' single faces, as if
  it were one face; made monotone in k. Photos, not near-identical frames: the
  pessimistic case (frames cost less, see above).

Each is rounded up to 0.01 and printed with its bootstrap standard error (probes,
or tracks, resampled ``BOOTSTRAP`` times). ``--quick`` takes the probes of every
``QUICK_EVERY``-th person and only the photo tracks (they need no rendering), so
its fused factors are the full run's and its size factors an estimate within a
few standard errors of them (``tests/test_calibration.py`` checks the shipped file
against it). Rendered views' descriptors are cached in the library's
``cache/video-rules-views.npz``, full-size ones in ``cache/eval-descriptors.db``.

Usage: python scripts/data/measure_video_rules.py [--quick] [--write] [--lfw DIR]
       [--out JSON] [--cache DIR] [--calibration FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from rich.progress import Progress

from facesight.config import resolve_library_dir
from facesight.defaults import REFERENCE_DEVICE
from facesight.eval.described import DescriptorCache, describe_images
from facesight.faces import box_iou
from facesight.identity.calibrate import (
    ImpostorTable,
    ReferenceCalibration,
    load_reference_calibration,
    write_measured_fields,
)
from facesight.identity.match import fuse, pairwise_distances
from facesight.media.images import load_image
from facesight.quality import QUALITY_BANDS, quality_band
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import EMBEDDING_DIM, FaceEmbedder
from facesight.vision.pipeline import AnalyzedFaces, FacePipeline

LFW_DEV = Path(__file__).resolve().parents[3] / "shared" / "faces" / "lfw-dev"
WIDTHS_PX = (16, 20, 24, 28, 32, 40, 48, 64)
WIDTH_BINS_PX = (0, 18, 22, 26, 30, 36, 44, 56, 72, 90, 1000)
LEVELS = (1e-2, 1e-3, 1e-4)
HONESTY_LEVELS = (1e-2, 1e-3)
TARGET_FPIRS = (1e-2, 5e-2)
TRACK_SIZES = (2, 3, 4, 5)
RULES = ("best", "top3", "all", "min")
VIDEO_BASES_PX = (24, 48)
# frame j of a simulated video track: scale jitter, crop shift (source px), mirror
VIDEO_JITTER = (
    (1.0, 0, 0, False),
    (0.9, 4, -3, True),
    (1.1, -4, 3, False),
    (0.95, 3, 4, True),
    (1.05, -3, -4, False),
)
SHIFT_MARGIN_PX = 6
MIN_SUBJECT_IOU = 0.3
PROBES_PER_PERSON = 2
GENUINES_PER_PROBE = 10
MIN_TRACK_IMAGES = 4
TRACKS_PER_PERSON = 3
VIDEO_UNENROLLED = 300
BATCH = 16
# the shipped factors (see "The shipped factors" in the module docstring)
OUTPUT = Path(__file__).resolve().parents[2] / "facesight" / "data" / "calibration.json"
WRITE_COMMAND = "python scripts/data/measure_video_rules.py --write"
FACTOR_LEVELS = (1e-2, 1e-3)
SIZE_STEP_MAX_PX = 72
SIZE_BINS_PX = tuple(
    (lo, hi) for lo, hi in itertools.pairwise(WIDTH_BINS_PX) if hi <= SIZE_STEP_MAX_PX
)
MIN_BIN_PROBES = 20
FUSED_TRACK_SIZES = (2, 3)
BOOTSTRAP = 400
QUICK_EVERY = 4


def calibration_half(name: str) -> bool:
    """As ``scripts/data/build_calibration.py``: sha1(name)'s first byte is even."""
    return hashlib.sha1(name.encode()).digest()[0] % 2 == 0


# ---------------------------------------------------------------- rendering and describing


@dataclass(frozen=True)
class View:
    """One rendering of an image: scaled by ``scale``, crop window shifted, maybe mirrored."""

    path: Path
    scale: float = 1.0
    dx_px: int = 0
    dy_px: int = 0
    flip: bool = False
    margin_px: int = 0

    @property
    def key(self) -> str:
        return (
            f"{self.path}|{self.scale:.5f}|{self.dx_px}|{self.dy_px}|{int(self.flip)}"
            f"|{self.margin_px}"
        )

    def render(self, pixels: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """The (h, w, 3) pixels and the affine (a, bx, by) mapping source x, y to them."""
        height, width = pixels.shape[:2]
        m = self.margin_px
        crop = (m + self.dx_px, m + self.dy_px, width - m + self.dx_px, height - m + self.dy_px)
        size = (
            max(round((crop[2] - crop[0]) * self.scale), 8),
            max(round((crop[3] - crop[1]) * self.scale), 8),
        )
        image = Image.fromarray(pixels)
        if self.scale != 1.0 or m:
            image = image.resize(size, Image.Resampling.BILINEAR, box=crop)
        if self.flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        sx = size[0] / (crop[2] - crop[0])
        return np.asarray(image), np.array([sx, -crop[0] * sx, -crop[1] * sx])

    def map_box(
        self, xyxy: NDArray[np.float32], affine: NDArray[np.float64], width: int
    ) -> NDArray[np.float32]:
        """A source box where it lies in the rendered (``width`` px wide) view."""
        box = np.asarray(xyxy, np.float64) * affine[0] + affine[[1, 2, 1, 2]]
        return _mirror(box, width) if self.flip else box.astype(np.float32)

    def source_box(
        self, xyxy: NDArray[np.float32], affine: NDArray[np.float64], width: int
    ) -> NDArray[np.float32]:
        """Inverse of :meth:`map_box`: boxes are kept in source pixels so views can aim at them."""
        box = _mirror(xyxy, width) if self.flip else np.asarray(xyxy, np.float64)
        result: NDArray[np.float32] = ((box - affine[[1, 2, 1, 2]]) / affine[0]).astype(np.float32)
        return result


def _mirror(xyxy: NDArray[Any], width: int) -> NDArray[np.float32]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return np.array([width - x2, y1, width - x1, y2], np.float32)


@dataclass
class Described:
    """Subject descriptors of many views: (n, d) float32 (NaN rows: not found), quality, box."""

    vectors: NDArray[np.float32]
    quality: NDArray[np.float64]
    width_px: NDArray[np.float64]
    xyxy: NDArray[np.float32]

    @property
    def found(self) -> NDArray[np.bool_]:
        return np.isfinite(self.vectors[:, 0])


class ViewCache:
    """Descriptors of rendered views, keyed by view and model versions, in one npz file."""

    def __init__(self, path: Path, versions: str) -> None:
        self.path, self.versions = path, versions
        self.rows: dict[str, tuple[NDArray[np.float32], float, float, NDArray[np.float32]]] = {}
        if path.exists():
            with np.load(path) as data:
                keys, vectors, xyxy = data["keys"], data["vectors"], data["xyxy"]
                quality, width = data["quality"], data["width"]
            for i, key in enumerate(keys):
                row = (vectors[i].copy(), float(quality[i]), float(width[i]), xyxy[i].copy())
                self.rows[str(key)] = row

    def full_key(self, view: View) -> str:
        return f"{view.key}|{self.versions}"

    def save(self) -> None:
        keys = list(self.rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as handle:
            np.savez(
                handle,
                keys=np.array(keys),
                vectors=np.stack([self.rows[k][0] for k in keys]),
                quality=np.array([self.rows[k][1] for k in keys]),
                width=np.array([self.rows[k][2] for k in keys]),
                xyxy=np.stack([self.rows[k][3] for k in keys]),
            )


def _pick_subject(
    analyzed: AnalyzedFaces, shape: tuple[int, ...], expected: NDArray[np.float32] | None
) -> int | None:
    """The face nearest the expected box (or the image centre); None if it is not the subject."""
    if len(analyzed) == 0:
        return None
    xyxy = analyzed.faces.xyxy
    middle = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    if expected is None:
        centre = np.array([shape[1] / 2, shape[0] / 2])
    else:
        centre = (expected[:2] + expected[2:]) / 2
    index = int(np.argmin(((middle - centre) ** 2).sum(1)))
    if expected is not None and box_iou(xyxy[index : index + 1], expected)[0] < MIN_SUBJECT_IOU:
        return None
    return index


def _describe_batch(
    pipeline: FacePipeline,
    views: Sequence[View],
    boxes: Sequence[NDArray[np.float32] | None],
    cache: ViewCache,
) -> None:
    rendered = [v.render(load_image(v.path).pixels) for v in views]
    analyzed = pipeline.analyze_batch([pixels for pixels, _ in rendered])
    for view, box, (pixels, affine), result in zip(views, boxes, rendered, analyzed, strict=True):
        expected = None if box is None else view.map_box(box, affine, pixels.shape[1])
        index = _pick_subject(result, pixels.shape, expected)
        row: tuple[NDArray[np.float32], float, float, NDArray[np.float32]]
        if index is None:
            row = (np.full(EMBEDDING_DIM, np.nan, np.float32), np.nan, np.nan, np.full(4, np.nan))
        else:
            assert result.faces.embedding is not None
            row = (
                result.faces.embedding[index],
                result.quality[index].score,
                float(result.faces.width_px[index]),
                view.source_box(result.faces.xyxy[index], affine, pixels.shape[1]),
            )
        cache.rows[cache.full_key(view)] = row


def describe_views(
    pipeline: FacePipeline,
    views: Sequence[View],
    boxes: Sequence[NDArray[np.float32] | None],
    cache: ViewCache,
    label: str,
) -> Described:
    """Describe each view's subject (``boxes``: where it is in the source, None: the centre)."""
    todo = [i for i, v in enumerate(views) if cache.full_key(v) not in cache.rows]
    todo = list({cache.full_key(views[i]): i for i in todo}.values())
    if todo:
        with Progress() as bar:
            task = bar.add_task(label, total=len(todo))
            for start in range(0, len(todo), BATCH):
                chunk = todo[start : start + BATCH]
                _describe_batch(
                    pipeline, [views[i] for i in chunk], [boxes[i] for i in chunk], cache
                )
                bar.advance(task, len(chunk))
        cache.save()
    rows = [cache.rows[cache.full_key(v)] for v in views]
    return Described(
        vectors=np.stack([r[0] for r in rows]).astype(np.float32),
        quality=np.array([r[1] for r in rows], np.float64),
        width_px=np.array([r[2] for r in rows], np.float64),
        xyxy=np.stack([r[3] for r in rows]).astype(np.float32),
    )


# ---------------------------------------------------------------- the data


@dataclass
class FaceSet:
    """Full-size subject descriptors of lfw-dev images, parallel arrays."""

    paths: list[Path]
    owners: NDArray[np.str_]
    vectors: NDArray[np.float32]
    quality: NDArray[np.float64]

    def of(self, name: str) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.owners == name)]

    def half(self, *, check: bool) -> FaceSet:
        """The faces of the people the shipped tables were not (``check``) or were measured on."""
        keep = np.array([calibration_half(n) != check for n in self.owners], bool)
        paths = [p for p, k in zip(self.paths, keep, strict=True) if k]
        return FaceSet(paths, self.owners[keep], self.vectors[keep], self.quality[keep])


def load_faces(people_dir: Path, pipeline: FacePipeline, cache_path: Path) -> FaceSet:
    """Every lfw-dev image's subject at full size (images with no face are left out)."""
    paths = sorted(people_dir.glob("*/*.jpg"))
    cache = DescriptorCache(cache_path)
    with Progress() as bar:
        task = bar.add_task("full-size faces", total=len(paths))
        described = describe_images(
            paths, pipeline, cache=cache, on_progress=lambda n: bar.advance(task, n)
        )
    cache.close()
    kept = [(p, d) for p, d in zip(paths, described, strict=True) if d.descriptor is not None]
    return FaceSet(
        paths=[p for p, _ in kept],
        owners=np.array([p.parent.name for p, _ in kept]),
        vectors=np.stack([d.descriptor for _, d in kept if d.descriptor is not None]),
        quality=np.array([d.quality_score or 0.0 for _, d in kept]),
    )


def rate_under(distances: NDArray[np.float32], cuts: Sequence[float]) -> list[float]:
    d = np.asarray(distances)
    return [float((d <= c).mean()) if len(d) else float("nan") for c in cuts]


# ---------------------------------------------------------------- A: face size


@dataclass
class ProbeSet:
    """Probe images (indices into the check-half ``FaceSet``) with their original boxes."""

    index: NDArray[np.int64]
    original: Described


def size_rows(
    faces: FaceSet, probes: ProbeSet, degraded: Described, table: ImpostorTable
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per probe: impostor counts under each cut, impostor pairs, genuine hits per cut / pairs.

    Returns (imp_hits (p, L), imp_pairs (p,), gen (p, L+1) with genuine pairs last).
    """
    cuts = [table.distance_at(level) for level in LEVELS]
    found = degraded.found
    d = pairwise_distances(np.nan_to_num(degraded.vectors), faces.vectors)
    imp_hits = np.zeros((len(probes.index), len(LEVELS)))
    imp_pairs = np.zeros(len(probes.index))
    gen = np.zeros((len(probes.index), len(LEVELS) + 1))
    for row, image in enumerate(probes.index):
        if not found[row]:
            continue
        owner = faces.owners[image]
        other = faces.owners != owner
        mates = [i for i in faces.of(owner) if i != image][:GENUINES_PER_PROBE]
        imp_pairs[row] = other.sum()
        gen[row, -1] = len(mates)
        for k, cut in enumerate(cuts):
            imp_hits[row, k] = (d[row, other] <= cut).sum()
            gen[row, k] = (d[row, mates] <= cut).sum()
    return imp_hits, imp_pairs, gen


def summarise(
    label: str, mask: NDArray[np.bool_], counts: tuple[NDArray[np.float64], ...], total: int
) -> dict[str, Any]:
    """One row of a size table: detection, impostor factor and TAR at each level."""
    imp_hits, imp_pairs, gen = (c[mask] for c in counts)
    row: dict[str, Any] = {"group": label, "probes": int(mask.sum()), "of": total}
    row["impostor_pairs"] = int(imp_pairs.sum())
    row["genuine_pairs"] = int(gen[:, -1].sum())
    for k, level in enumerate(LEVELS):
        fmr = imp_hits[:, k].sum() / max(imp_pairs.sum(), 1)
        row[f"fmr@{level:g}"] = float(fmr)
        row[f"factor@{level:g}"] = float(fmr / level)
        row[f"tar@{level:g}"] = float(gen[:, k].sum() / max(gen[:, -1].sum(), 1))
    return row


def measure_sizes(
    pipeline: FacePipeline,
    faces: FaceSet,
    table: ImpostorTable,
    cache: ViewCache,
    *,
    quick: bool = False,
) -> tuple[dict[str, Any], SizeCounts]:
    """Part A: every row of the size tables (see the module docstring), and the counts
    behind them (``quick``: the probes of every ``QUICK_EVERY``-th person only)."""
    check = [n for n in dict.fromkeys(faces.owners) if len(faces.of(n)) >= 2]
    if quick:
        check = check[::QUICK_EVERY]
    index = np.array([i for n in check for i in faces.of(n)[:PROBES_PER_PERSON]])
    views = [View(faces.paths[i]) for i in index]
    original = describe_views(pipeline, views, [None] * len(views), cache, "probes at full size")
    probes = ProbeSet(index[original.found], _subset(original, original.found))
    runs: list[tuple[str, Described]] = [("original", probes.original)]
    for width in WIDTHS_PX:
        views = [
            View(faces.paths[i], scale=width / w)
            for i, w in zip(probes.index, probes.original.width_px, strict=True)
        ]
        boxes = list(probes.original.xyxy)
        runs.append((str(width), describe_views(pipeline, views, boxes, cache, f"W = {width}")))
    return _size_tables(faces, probes, runs, table)


def _subset(described: Described, mask: NDArray[np.bool_]) -> Described:
    return Described(
        described.vectors[mask],
        described.quality[mask],
        described.width_px[mask],
        described.xyxy[mask],
    )


@dataclass
class SizeCounts:
    """Impostor counts behind the size factors, per degraded probe image and per probe.

    ``width_px``, ``hits`` (m, L), ``pairs`` (m,): every degraded rendering (NaN width:
    not found); ``probe`` (m,): which of the ``probes`` probes it is.
    """

    width_px: NDArray[np.float64]
    hits: NDArray[np.float64]
    pairs: NDArray[np.float64]
    probe: NDArray[np.int64]
    probes: int


def _size_tables(
    faces: FaceSet, probes: ProbeSet, runs: list[tuple[str, Described]], table: ImpostorTable
) -> tuple[dict[str, Any], SizeCounts]:
    n = len(probes.index)
    by_width, pooled_counts, pooled_quality, pooled_width = [], [], [], []
    for label, described in runs:
        counts = size_rows(faces, probes, described, table)
        row = summarise(label, described.found, counts, n)
        row["detected"] = float(described.found.mean())
        row["median_width_px"] = float(np.nanmedian(described.width_px))
        by_width.append(row)
        if label != "original":
            pooled_counts.append(counts)
            pooled_quality.append(np.where(described.found, described.quality, np.nan))
            pooled_width.append(described.width_px)
    pooled = tuple(np.concatenate([c[k] for c in pooled_counts]) for k in range(3))
    quality, width = np.concatenate(pooled_quality), np.concatenate(pooled_width)
    by_band = [
        summarise(
            band,
            np.array([q == q and quality_band(q) == band for q in quality]),
            pooled,
            int(np.isfinite(quality).sum()),
        )
        for band in QUALITY_BANDS
    ]
    by_measured = [
        summarise(f"{lo}-{hi}", (width >= lo) & (width < hi), pooled, int(np.isfinite(width).sum()))
        for lo, hi in itertools.pairwise(WIDTH_BINS_PX)
    ]
    # relative to the full-size probes: the check half's own departure from the table
    # (which a gallery's factor corrects) is taken out, leaving what size does
    control = by_width[0]
    for row in by_width + by_band + by_measured:
        for level in LEVELS:
            key = f"{level:g}"
            row[f"relative@{key}"] = row[f"factor@{key}"] / control[f"factor@{key}"]
    cuts = {f"{level:g}": table.distance_at(level) for level in LEVELS}
    tables = {"cuts": cuts, "by_width": by_width, "by_band": by_band, "by_measured": by_measured}
    entries = SizeCounts(
        width_px=width,
        hits=pooled[0],
        pairs=pooled[1],
        probe=np.tile(np.arange(n), len(pooled_counts)),
        probes=n,
    )
    return tables, entries


# ---------------------------------------------------------------- B: track fusion


@dataclass
class Track:
    """The faces of one simulated track: (k, d) descriptors and k quality scores."""

    owner: str
    vectors: NDArray[np.float32]
    quality: NDArray[np.float64]
    enrolled: bool


def rule_distances(rule: str, track: Track, others: NDArray[np.float32]) -> NDArray[np.float32]:
    """(m,) distances of the track, by ``rule``, to each of (m, d) ``others``."""
    if len(track.vectors) == 0:
        return np.full(len(others), np.inf, np.float32)
    order = np.argsort(-track.quality, kind="stable")
    if rule == "min":
        result: NDArray[np.float32] = pairwise_distances(track.vectors, others).min(0)
        return result
    if rule == "best":
        probe = track.vectors[order[0]]
    elif rule == "top3":
        probe = fuse(track.vectors[order[:3]])
    else:
        probe = fuse(track.vectors)
    result = pairwise_distances(probe[None, :], others)[0]
    return result


@dataclass
class Gallery:
    """One full-size reference per check-half person."""

    names: list[str]
    vectors: NDArray[np.float32]
    reference: set[int]  # indices into the FaceSet of the references


def build_gallery(faces: FaceSet, check: list[str]) -> Gallery:
    first = [faces.of(n)[0] for n in check]
    return Gallery(list(check), faces.vectors[first], set(first))


def photo_tracks(faces: FaceSet, gallery: Gallery, names: list[str], k: int) -> list[Track]:
    """Disjoint k-photo tracks of people with >= MIN_TRACK_IMAGES images (never a reference)."""
    enrolled = set(gallery.names)
    tracks = []
    for name in names:
        images = [i for i in faces.of(name) if i not in gallery.reference]
        if len(faces.of(name)) < MIN_TRACK_IMAGES:
            continue
        for t in range(min(len(images) // k, TRACKS_PER_PERSON)):
            chosen = images[t * k : (t + 1) * k]
            tracks.append(
                Track(name, faces.vectors[chosen], faces.quality[chosen], name in enrolled)
            )
    return tracks


def identification(tracks: list[Track], gallery: Gallery, rule: str) -> dict[str, Any]:
    """FNIR at the empirical thresholds for TARGET_FPIRS (leave-one-out for enrolled tracks)."""
    position = {name: i for i, name in enumerate(gallery.names)}
    mated, nonmated = [], []
    for track in tracks:
        d = rule_distances(rule, track, gallery.vectors)
        own = position.get(track.owner)
        others = d if own is None else np.delete(d, own)
        nonmated.append(float(others.min()))
        if own is not None:
            rank_one = d[own] <= others.min()
            mated.append(float(d[own]) if rank_one else np.inf)
    scores, hits = np.sort(nonmated), np.array(mated)
    row: dict[str, Any] = {"mated": len(mated), "nonmated": len(nonmated)}
    for target in TARGET_FPIRS:
        allowed = int(target * len(scores))
        threshold = scores[allowed] if allowed < len(scores) else np.inf
        row[f"fnir@{target:g}"] = float((hits >= threshold).mean()) if len(hits) else float("nan")
        row[f"threshold@{target:g}"] = float(threshold)
    return row


def fused_faces(rule: str, track: Track) -> NDArray[np.float32]:
    """The (n, d) faces the rule's track descriptor averages (one for ``best`` and ``min``)."""
    order = np.argsort(-track.quality, kind="stable")
    count = {"best": 1, "min": 1, "top3": 3, "all": len(order)}[rule]
    return track.vectors[order[:count]]


def genuine_sq_distance(faces: FaceSet) -> float:
    """Mean squared distance between two photos of one person (up to 10 photos each)."""
    means = []
    for name in dict.fromkeys(faces.owners):
        chosen = faces.of(name)[:10]
        if len(chosen) > 1:
            d = pairwise_distances(faces.vectors[chosen], faces.vectors[chosen])
            means.append(float((d[np.triu_indices(len(chosen), 1)] ** 2).mean()))
    return float(np.mean(means))


def effective_faces(vectors: NDArray[np.float32], genuine_sq: float) -> float:
    """How many independent photos ``n`` fused faces are worth (1 <= n_eff <= n).

    Faces of one person are taken as identity + noise with pairwise
    correlation rho; the track's mean squared pairwise distance over that of
    two different photos (``genuine_sq``) gives 1 - rho, and a centroid of n
    such faces has the noise of 1 / (rho + (1 - rho) / n) independent ones.
    """
    n = len(vectors)
    if n < 2:
        return 1.0
    d = pairwise_distances(vectors, vectors)[np.triu_indices(n, 1)]
    rho = float(np.clip(1.0 - (d**2).mean() / genuine_sq, 0.0, 1.0))
    return 1.0 / (rho + (1.0 - rho) / n)


def log10_fmr(reference: ReferenceCalibration, size: float, distance: float) -> float:
    """log10 FMR of a template of ``size`` faces, interpolated between whole sizes."""
    low = int(np.floor(size))
    t = size - low
    rate_low = float(np.log10(reference.table(low).fmr(distance)))
    if t == 0.0:
        return rate_low
    return (1 - t) * rate_low + t * float(np.log10(reference.table(low + 1).fmr(distance)))


@dataclass
class Opponents:
    """The impostor side of the honesty check: templates of ``size`` faces and their owners."""

    vectors: NDArray[np.float32]
    owners: NDArray[np.str_]
    size: int


def three_face_templates(faces: FaceSet) -> Opponents:
    """``match.fuse`` of the first three images of everyone with three or more."""
    names = [n for n in dict.fromkeys(faces.owners) if len(faces.of(n)) >= 3]
    vectors = np.stack([fuse(faces.vectors[faces.of(n)[:3]]) for n in names])
    return Opponents(vectors, np.array(names), 3)


@dataclass
class Honesty:
    """What the honesty check compares against: the tables, opponents and genuine spread."""

    reference: ReferenceCalibration
    opponents: list[Opponents]
    genuine_sq: float

    def expected(self, size: int, fused: float, distance: float) -> float:
        """Table FMR of a ``fused``-face probe against a ``size``-face template at ``distance``.

        The probe's centroid effect is applied as the ratio of its table to the
        single-face table (exact when ``size`` is 1).
        """
        ref = self.reference
        shift = log10_fmr(ref, fused, distance) - log10_fmr(ref, 1, distance)
        return float(10 ** (log10_fmr(ref, size, distance) + shift))


def honesty(tracks: list[Track], side: Opponents, rule: str, check: Honesty) -> dict[str, Any]:
    """Observed / estimated FMR of the rule's track descriptor against other people's templates.

    ``factor``: against the opponents' own table, as if the probe were one face;
    ``factor_n``: the probe counted as a template of its n fused faces;
    ``factor_eff``: counted as :func:`effective_faces` of them.
    """
    levels = HONESTY_LEVELS
    cuts = [check.reference.table(side.size).distance_at(level) for level in levels]
    hits, pairs = np.zeros(len(levels)), 0
    expected_n, expected_eff = np.zeros(len(levels)), np.zeros(len(levels))
    for track in tracks:
        if not track.enrolled or len(track.vectors) == 0:
            continue
        d = rule_distances(rule, track, side.vectors[side.owners != track.owner])
        fused = fused_faces(rule, track)
        n_eff = effective_faces(fused, check.genuine_sq)
        pairs += len(d)
        hits += [(d <= c).sum() for c in cuts]
        expected_n += [len(d) * check.expected(side.size, len(fused), c) for c in cuts]
        expected_eff += [len(d) * check.expected(side.size, n_eff, c) for c in cuts]
    prefix = f"h{side.size}"
    row: dict[str, Any] = {f"{prefix}_pairs": pairs}
    for j, level in enumerate(levels):
        row[f"{prefix}_factor@{level:g}"] = float(hits[j] / max(pairs, 1) / level)
        row[f"{prefix}_factor_n@{level:g}"] = float(hits[j] / max(expected_n[j], 1e-12))
        row[f"{prefix}_factor_eff@{level:g}"] = float(hits[j] / max(expected_eff[j], 1e-12))
    return row


def compare_rules(
    label: str, tracks_by_k: dict[int, list[Track]], gallery: Gallery, check: Honesty
) -> list[dict[str, Any]]:
    rows = []
    for k, tracks in tracks_by_k.items():
        for rule in RULES:
            row: dict[str, Any] = {"simulation": label, "k": k, "rule": rule}
            row |= identification(tracks, gallery, rule)
            if rule in ("top3", "all"):
                fused = [fused_faces(rule, t) for t in tracks if t.enrolled and len(t.vectors)]
                effs = [effective_faces(f, check.genuine_sq) for f in fused]
                row["median_n_eff"] = float(np.median(effs))
            for side in check.opponents:
                row |= honesty(tracks, side, rule, check)
            rows.append(row)
    return rows


def video_tracks(
    pipeline: FacePipeline,
    faces: FaceSet,
    gallery: Gallery,
    names: list[str],
    base_px: int,
    cache: ViewCache,
) -> dict[int, list[Track]]:
    """One photo per person rendered as k jittered frames around a ``base_px`` face."""
    images = []
    for name in names:
        left = [i for i in faces.of(name) if i not in gallery.reference]
        if left:
            images.append(left[0])
    views0 = [View(faces.paths[i]) for i in images]
    original = describe_views(pipeline, views0, [None] * len(views0), cache, "track photos")
    keep = [i for i, ok in zip(images, original.found, strict=True) if ok]
    boxes = list(original.xyxy[original.found])
    widths = original.width_px[original.found]
    frames = []
    for scale, dx, dy, flip in VIDEO_JITTER:
        views = [
            View(faces.paths[i], base_px * scale / w, dx, dy, flip, SHIFT_MARGIN_PX)
            for i, w in zip(keep, widths, strict=True)
        ]
        frames.append(describe_views(pipeline, views, boxes, cache, f"video {base_px} px"))
    enrolled = set(gallery.names)
    tracks: dict[int, list[Track]] = {}
    for k in TRACK_SIZES:
        tracks[k] = []
        for t, image in enumerate(keep):
            found = [f for f in frames[:k] if f.found[t]]
            vectors = (
                np.stack([f.vectors[t] for f in found]) if found else np.zeros((0, EMBEDDING_DIM))
            )
            quality = np.array([f.quality[t] for f in found])
            owner = str(faces.owners[image])
            tracks[k].append(Track(owner, vectors.astype(np.float32), quality, owner in enrolled))
    return tracks


@dataclass
class FusedCounts:
    """Strangers' single faces matching the ``top3`` descriptor of photo tracks of k
    faces, per track: ``hits`` (t, L) under the single-face table's distances for
    FACTOR_LEVELS, ``pairs`` (t,) compared."""

    hits: dict[int, NDArray[np.float64]]
    pairs: dict[int, NDArray[np.float64]]


def fused_counts(photos: dict[int, list[Track]], check: Honesty) -> FusedCounts:
    """Per enrolled photo track of k = 2, 3 faces (as ``honesty`` counts them)."""
    side = check.opponents[0]
    cuts = [check.reference.table(1).distance_at(level) for level in FACTOR_LEVELS]
    counts = FusedCounts({}, {})
    for k in FUSED_TRACK_SIZES:
        tracks = [t for t in photos[k] if t.enrolled and len(t.vectors)]
        distances = [
            rule_distances("top3", t, side.vectors[side.owners != t.owner]) for t in tracks
        ]
        counts.hits[k] = np.array([[(d <= c).sum() for c in cuts] for d in distances], float)
        counts.pairs[k] = np.array([len(d) for d in distances], float)
    return counts


def measure_tracks(
    pipeline: FacePipeline,
    faces: FaceSet,
    reference: ReferenceCalibration,
    cache: ViewCache,
    *,
    quick: bool = False,
) -> tuple[list[dict[str, Any]], FusedCounts]:
    """Part B: identification and honesty of each rule, photo and video tracks
    (``quick``: photo tracks only; they need no rendering)."""
    names = list(dict.fromkeys(faces.owners))
    enrolled = [n for n in names if not calibration_half(n)]
    strangers = [n for n in names if calibration_half(n)]
    gallery = build_gallery(faces, enrolled)
    check_faces = faces.half(check=True)
    opponents = [
        Opponents(check_faces.vectors, check_faces.owners, 1),
        three_face_templates(faces),
    ]
    # the genuine spread would ship with the tables, so it comes from the calibration half
    check = Honesty(reference, opponents, genuine_sq_distance(faces.half(check=False)))
    photos = {k: photo_tracks(faces, gallery, enrolled + strangers, k) for k in TRACK_SIZES}
    rows = compare_rules("photos", photos, gallery, check)
    mated = [n for n in enrolled if len(faces.of(n)) >= 2]
    strangers.sort(key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    for base in () if quick else VIDEO_BASES_PX:
        people = mated + strangers[:VIDEO_UNENROLLED]
        tracks = video_tracks(pipeline, faces, gallery, people, base, cache)
        rows += compare_rules(f"video {base}px", tracks, gallery, check)
    print(f"genuine mean squared distance (calibration half): {check.genuine_sq:.4f}")
    return rows, fused_counts(photos, check)


# ---------------------------------------------------------------- the shipped factors


def _ceil_cent(value: float) -> float:
    """Up to the next 0.01 (never below what was measured); 1e-9 absorbs float noise."""
    return math.ceil(value * 100 - 1e-9) / 100


def _monotone(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Along the last axis (faces ever smaller, or ever more fused, towards index 0 /
    the end): floored at 1.0 and never below the step after it; NaN takes its value."""
    filled = np.where(np.isfinite(values), values, 1.0)
    result: NDArray[np.float64] = np.maximum(
        np.maximum.accumulate(filled[..., ::-1], axis=-1)[..., ::-1], 1.0
    )
    return result


def size_factor_estimates(counts: SizeCounts, weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """(b, steps) size factors, one row per probe weighting (b, n) (ones: the measurement).

    Per measured-width bin: strangers' match rate under the table's distance for each
    of FACTOR_LEVELS over that level, the larger of them (NaN under MIN_BIN_PROBES
    renderings).
    """
    levels = [LEVELS.index(level) for level in FACTOR_LEVELS]
    fmrs = np.array(FACTOR_LEVELS)
    entry_weights = weights[:, counts.probe]
    raw = np.full((len(weights), len(SIZE_BINS_PX)), np.nan)
    with np.errstate(invalid="ignore"):
        for j, (lo, hi) in enumerate(SIZE_BINS_PX):
            inside = (counts.width_px >= lo) & (counts.width_px < hi)
            if inside.sum() < MIN_BIN_PROBES:
                continue
            w = entry_weights[:, inside]
            rate = (w @ counts.hits[inside][:, levels]) / (w @ counts.pairs[inside])[:, None]
            raw[:, j] = (rate / fmrs).max(axis=1)
    return _monotone(raw)


def fused_factor_estimates(counts: FusedCounts, rng: np.random.Generator) -> NDArray[np.float64]:
    """(1 + BOOTSTRAP, k) fused factors: the measurement, then resampled tracks.

    Per k: strangers' match rate of the ``top3`` track descriptor under the
    single-face table's distance for each of FACTOR_LEVELS over that level (the
    ``h1_factor`` columns), the larger of them.
    """
    columns = []
    for k in FUSED_TRACK_SIZES:
        t = len(counts.pairs[k])
        weights = np.vstack([np.ones(t), rng.multinomial(t, np.full(t, 1 / t), size=BOOTSTRAP)])
        rate = (weights @ counts.hits[k]) / (weights @ counts.pairs[k])[:, None]
        columns.append((rate / np.array(FACTOR_LEVELS)).max(axis=1))
    # more fused faces are never matched less often: monotone towards larger k
    return _monotone(np.stack(columns, axis=1)[:, ::-1])[:, ::-1]


def derive_factors(sizes: SizeCounts, fused: FusedCounts, seed: int = 0) -> dict[str, Any]:
    """The shipped ``size_factors`` and ``fused_factors``, with bootstrap standard errors."""
    rng = np.random.default_rng(seed)
    n = sizes.probes
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1 / n), size=BOOTSTRAP)])
    size = size_factor_estimates(sizes, weights.astype(np.float64))
    fusion = fused_factor_estimates(fused, rng)
    return {
        "size_factors": [
            [float(hi), _ceil_cent(f)] for (_, hi), f in zip(SIZE_BINS_PX, size[0], strict=True)
        ],
        "size_factor_se": [round(float(v), 4) for v in size[1:].std(axis=0)],
        "fused_factors": {
            str(k): _ceil_cent(f) for k, f in zip(FUSED_TRACK_SIZES, fusion[0], strict=True)
        },
        "fused_factor_se": {
            str(k): round(float(v), 4)
            for k, v in zip(FUSED_TRACK_SIZES, fusion[1:].std(axis=0), strict=True)
        },
        "probes": n,
        "renderings_per_step": [
            int(((sizes.width_px >= lo) & (sizes.width_px < hi)).sum()) for lo, hi in SIZE_BINS_PX
        ],
        "tracks": {str(k): len(fused.pairs[k]) for k in FUSED_TRACK_SIZES},
    }


# ---------------------------------------------------------------- printing


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    print(f"\n{title}")
    print("  ".join(f"{c:>14}" for c in columns))
    for row in rows:
        cells = [row.get(c, "") for c in columns]
        print("  ".join(_cell(v) for v in cells))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value or abs(value) == float("inf"):
            return f"{value!s:>14}"
        return f"{value:>14.4g}"
    return f"{value!s:>14}"


def print_results(sizes: dict[str, Any], tracks: list[dict[str, Any]]) -> None:
    levels = [f"{level:g}" for level in LEVELS]
    size_columns = ["group", "probes", "impostor_pairs"] + [
        f"{kind}@{level}" for level in levels for kind in ("factor", "relative", "tar")
    ]
    cuts = ", ".join(f"FMR {k}: {v:.3f}" for k, v in sizes["cuts"].items())
    print(f"table size 1 distances ({cuts})")
    width_columns = [size_columns[0], "detected", "median_width_px", *size_columns[1:]]
    print_table("A. by nominal face width W (px)", sizes["by_width"], width_columns)
    print_table(
        "A. by measured box width (px), degraded probes", sizes["by_measured"], size_columns
    )
    print_table("A. by quality band, degraded probes", sizes["by_band"], size_columns)
    track_columns = ["simulation", "k", "rule", "mated", "nonmated"]
    track_columns += [f"fnir@{t:g}" for t in TARGET_FPIRS]
    print_table("B. identification: FNIR at empirical FPIR thresholds", tracks, track_columns)
    for size in (1, 3):
        columns = ["simulation", "k", "rule", f"h{size}_pairs", "median_n_eff"]
        columns += [
            f"h{size}_{kind}@{level:g}"
            for kind in ("factor", "factor_n", "factor_eff")
            for level in HONESTY_LEVELS
        ]
        opponent = "single faces" if size == 1 else "3-face templates"
        print_table(f"B. honesty against {opponent}: observed / estimated FMR", tracks, columns)


def print_derived(derived: dict[str, Any]) -> None:
    print(f"\nshipped factors ({derived['probes']} probes; +- bootstrap standard error)")
    steps = zip(
        derived["size_factors"],
        derived["size_factor_se"],
        derived["renderings_per_step"],
        strict=True,
    )
    for (limit, factor), se, count in steps:
        print(f"  size_factors: up to {limit:g} px  x{factor:.2f} +- {se:.3f}  ({count} faces)")
    for k, factor in derived["fused_factors"].items():
        se, tracks = derived["fused_factor_se"][k], derived["tracks"][k]
        print(f"  fused_factors: {k} faces  x{factor:.2f} +- {se:.3f}  ({tracks} tracks)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=LFW_DEV, help="lfw-dev folder (has people/)")
    parser.add_argument("--out", type=Path, help="write every table here as JSON")
    parser.add_argument("--cache", type=Path, help="cache folder (default: the library's)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"the probes of every {QUICK_EVERY}th person, photo tracks only (a test)",
    )
    parser.add_argument(
        "--write", action="store_true", help="write size_factors and fused_factors to --calibration"
    )
    parser.add_argument("--calibration", type=Path, default=OUTPUT, help="the file --write updates")
    args = parser.parse_args(argv)
    if args.quick and args.write:
        parser.error("--write ships the full measurement: not with --quick")
    cache_dir = args.cache or resolve_library_dir(None) / "cache"
    pipeline = FacePipeline(
        FaceDetector(device=REFERENCE_DEVICE), FaceEmbedder(device=REFERENCE_DEVICE)
    )
    versions = f"{pipeline.detector_version}|{pipeline.embedder_version}"
    views = ViewCache(cache_dir / "video-rules-views.npz", versions)
    faces = load_faces(args.lfw / "people", pipeline, cache_dir / "eval-descriptors.db")
    reference = load_reference_calibration()
    check_faces = faces.half(check=True)
    sizes, size_counts = measure_sizes(
        pipeline, check_faces, reference.table(1), views, quick=args.quick
    )
    tracks, fused = measure_tracks(pipeline, faces, reference, views, quick=args.quick)
    derived = derive_factors(size_counts, fused)
    print_results(sizes, tracks)
    print_derived(derived)
    if args.out:
        tables = {"sizes": sizes, "tracks": tracks, "derived": derived}
        args.out.write_text(json.dumps(tables, indent=1) + "\n")
    if args.write:
        fields = {key: derived[key] for key in ("size_factors", "fused_factors")}
        write_measured_fields(args.calibration, fields, WRITE_COMMAND)
        print(f"wrote size_factors and fused_factors to {args.calibration}")


if __name__ == "__main__":
    main()
