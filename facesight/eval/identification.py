"""1:N identification on a folder per person: rank-1, FNIR at FPIR, and the default's honesty.

Protocol (``references`` = K, ``probes_from`` = M >= K; images in name order):

* enrolled: people with more than M images; their first K images are the
  references, fused into one template as the library does (``match.fuse``);
* mated probes: every enrolled person's images from the (M+1)-th on;
* non-mated probes: people with a single image.

With M = K this is the issue's protocol; a larger M lets different K be
compared on the same probes (``--references 1 --probes-from 3`` against
``--references 3``).

Searches go through the library's own matcher and calibration: candidates are
ranked by estimated false-match rate, and the default decision (the target
FPIR for this gallery's size) is applied, so the report says whether the
FPIR the library claims is the FPIR observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesight.defaults import DEFAULT_TARGET_FPIR
from facesight.descriptors import Gallery
from facesight.errors import InvalidInputError
from facesight.eval.metrics import fnir_at_fpir, rank1_accuracy
from facesight.face_models import Metric
from facesight.identity.calibrate import Calibration, ReferenceCalibration
from facesight.identity.match import calibrate_gallery, match_faces
from facesight.quality import QUALITY_BANDS, quality_band

__all__ = [
    "FPIR_LEVELS",
    "IdentificationProtocol",
    "IdentificationReport",
    "evaluate_identification",
    "identification_protocol",
    "person_folders",
]

FPIR_LEVELS = (1e-2, 1e-3)


def person_folders(root: Path) -> dict[str, list[Path]]:
    """``{person: image paths in name order}`` for each sub-folder of ``root``."""
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder of per-person sub-folders")
    suffixes = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
    folders = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
        if images:
            folders[folder.name] = images
    if not folders:
        raise InvalidInputError(f"{root} has no sub-folders with images")
    return folders


@dataclass(frozen=True)
class IdentificationProtocol:
    """Who is enrolled with which references, and the probes of each kind."""

    references: dict[str, list[Path]]
    mated: list[tuple[str, Path]]
    nonmated: list[Path]

    def images(self) -> list[Path]:
        refs = [p for paths in self.references.values() for p in paths]
        return refs + [p for _, p in self.mated] + self.nonmated


def identification_protocol(
    folders: dict[str, list[Path]], references: int = 1, probes_from: int | None = None
) -> IdentificationProtocol:
    """The protocol of the module docstring."""
    start = references if probes_from is None else probes_from
    if references < 1 or start < references:
        raise InvalidInputError(
            f"need references >= 1 and probes-from >= references, got {references}, {start}"
        )
    enrolled = {n: p for n, p in folders.items() if len(p) > start}
    if not enrolled:
        raise InvalidInputError(f"nobody has more than {start} images to enroll and probe")
    return IdentificationProtocol(
        references={n: p[:references] for n, p in enrolled.items()},
        mated=[(n, q) for n, p in enrolled.items() for q in p[start:]],
        nonmated=[p[0] for p in folders.values() if len(p) == 1],
    )


@dataclass
class IdentificationReport:
    """Every figure of an identification evaluation (JSON-ready)."""

    enrolled: int
    enrolled_without_face: int
    references_per_person: int
    template_fusion: str
    mated_probes: int
    nonmated_probes: int
    failure_to_detect_rate: float
    rank1_accuracy: float
    fnir_at_fpir: dict[str, float]
    threshold_fmr_at_fpir: dict[str, float]
    default_target_fpir: float
    default_observed_fpir: float
    default_false_positives: int
    default_fnir: float
    gallery_factor: float
    fnir_by_quality: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Searches:
    score: NDArray[np.float64]  # log10 est. FMR of the rank-1 candidate; NaN: no face
    person: list[str | None]
    is_match: NDArray[np.bool_]


def _search(
    vectors: list[NDArray[np.float32] | None],
    qualities: list[float | None],
    gallery: Gallery,
    calibration: Calibration,
) -> _Searches:
    found = [i for i, v in enumerate(vectors) if v is not None]
    score = np.full(len(vectors), np.nan)
    person: list[str | None] = [None] * len(vectors)
    is_match = np.zeros(len(vectors), bool)
    if found:
        probes = np.stack([vectors[i] for i in found]).astype(np.float32)  # type: ignore[misc]
        scores = np.array([np.nan if qualities[i] is None else qualities[i] for i in found])
        ranked = match_faces(probes, gallery, calibration, qualities=scores, top_k=1)
        for i, candidates in zip(found, ranked, strict=True):
            best = candidates[0]
            # an uncalibrated model has no rates: its searches are ranked by distance
            score[i] = best.distance if best.uncalibrated else np.log10(max(best.fmr, 1e-300))
            person[i] = best.person
            is_match[i] = best.is_match
    return _Searches(score, person, is_match)


def evaluate_identification(
    protocol: IdentificationProtocol,
    descriptors: dict[Path, NDArray[np.float32] | None],
    qualities: dict[Path, float | None],
    reference: ReferenceCalibration,
    target_fpir: float = DEFAULT_TARGET_FPIR,
    metric: str = Metric.L2,
) -> tuple[IdentificationReport, NDArray[np.float64], NDArray[np.float64]]:
    """Run every search of the protocol and measure it.

    Returns the report, then the rank-1 scores (log10 est. FMR; an uncalibrated
    model's: the distance, in its ``metric``) of the mated
    searches (NaN where the rank-1 candidate is wrong or no face was found)
    and of the non-mated searches, for the DET curve.
    """
    rows, owners, names = [], [], []
    for pid, (name, paths) in enumerate(protocol.references.items()):
        for path in paths:
            vector = descriptors.get(path)
            if vector is not None:
                rows.append(vector)
                owners.append(pid)
                names.append(name)
    gallery = Gallery(
        embeddings=np.stack(rows).astype(np.float32),
        person_ids=np.array(owners, np.int64),
        person_names=names,
        reference_ids=np.arange(len(rows), dtype=np.int64),
        reference_paths=[""] * len(rows),
        metric=metric,
    )
    calibration = calibrate_gallery(gallery, reference, target_fpir)
    templates = gallery.templates()
    mated_paths = [p for _, p in protocol.mated]
    mated = _search(
        [descriptors.get(p) for p in mated_paths],
        [qualities.get(p) for p in mated_paths],
        gallery,
        calibration,
    )
    nonmated = _search(
        [descriptors.get(p) for p in protocol.nonmated],
        [qualities.get(p) for p in protocol.nonmated],
        gallery,
        calibration,
    )
    truth = [n for n, _ in protocol.mated]
    correct = np.array([p == t for p, t in zip(mated.person, truth, strict=True)])
    fnir, cut = {}, {}
    for level in FPIR_LEVELS:
        miss, threshold = fnir_at_fpir(mated.score, correct, nonmated.score, level)
        fmr_cut = float(10**threshold) if reference.calibrated else float("nan")
        fnir[f"{level:g}"], cut[f"{level:g}"] = miss, fmr_cut
    all_images = protocol.images()
    not_found = sum(descriptors.get(p) is None for p in all_images)
    false_positives = int(nonmated.is_match.sum())
    hits = correct & mated.is_match
    report = IdentificationReport(
        enrolled=len(protocol.references),
        enrolled_without_face=len(protocol.references) - len(templates.person_ids),
        references_per_person=max(len(p) for p in protocol.references.values()),
        template_fusion="centroid",
        mated_probes=len(protocol.mated),
        nonmated_probes=len(protocol.nonmated),
        failure_to_detect_rate=not_found / len(all_images),
        rank1_accuracy=rank1_accuracy(mated.person, truth),
        fnir_at_fpir=fnir,
        threshold_fmr_at_fpir=cut,
        default_target_fpir=target_fpir,
        default_observed_fpir=false_positives / max(len(protocol.nonmated), 1),
        default_false_positives=false_positives,
        default_fnir=float(1 - hits.mean()),
        gallery_factor=calibration.factor,
        fnir_by_quality=_fnir_by_quality(protocol, qualities, hits),
    )
    return report, np.where(correct, mated.score, np.nan), nonmated.score


def _fnir_by_quality(
    protocol: IdentificationProtocol, qualities: dict[Path, float | None], hits: NDArray[np.bool_]
) -> dict[str, dict[str, float]]:
    bands = np.array(
        [quality_band(qualities.get(p) or 0.0) for _, p in protocol.mated], dtype=object
    )
    result = {}
    for band in QUALITY_BANDS:
        mine = bands == band
        if mine.any():
            result[band] = {"probes": float(mine.sum()), "fnir": float(1 - hits[mine].mean())}
    return result
