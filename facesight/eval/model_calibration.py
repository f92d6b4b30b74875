"""``facesight calibrate build``: impostor tables for a registered model, from the user's folder.

The same procedure that built the shipped tables (``scripts/data/build_calibration.py``,
which calls :func:`measure_reference` too): each image's subject (the face nearest the
centre) is described by the model, the people are split in two halves by sha1(name)
(``eval.calibration.name_half``), the tables are measured on half 0 with every person
counted once (``calibration.measure_tables``), and the decision they imply is checked on
the people of half 1, who never touched them (``calibration.check_fpir``): the honesty
check whose claimed-vs-observed rows ``calibrate build`` prints.

A user's folder is far smaller than lfw-dev, so the rarest measured knot rests on fewer
events (``min_events``: a hundredth of the effective impostor pairs, 3 to 25), below it
the tail is extrapolated, and the check counts few events: its interval says how little
a small folder proves. Size and fusion factors are not measured here (neutral: 1), nor
the quality centre rule (``min_centre_distance`` 0); quality-band factors are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesight.errors import InvalidInputError
from facesight.eval.calibration import (
    FaceSet,
    FpirCheck,
    check_fpir,
    impostor_distances,
    measure_tables,
    quality_factors,
)
from facesight.eval.described import DescribedImage, DescriptorCache, describe_images
from facesight.eval.identification import person_folders
from facesight.face_models import DLIB_MODEL, Metric
from facesight.identity.calibrate import ReferenceCalibration
from facesight.vision.pipeline import FacePipeline

__all__ = [
    "CalibrationBuild",
    "build_model_calibration",
    "face_set",
    "measure_reference",
]

CHECK_TARGETS = (1e-2,)
"""The honesty check's target FPIR: a small folder has too few strangers for 1e-3."""

CHECK_TRIALS = 50


def face_set(paths: Sequence[Path], described: Sequence[DescribedImage]) -> FaceSet:
    """The subjects found, owned by their folder's name (LFW layout: person/image)."""
    kept = [(p, d) for p, d in zip(paths, described, strict=True) if d.descriptor is not None]
    if not kept:
        raise InvalidInputError("no face was found in any of the images")
    return FaceSet(
        vectors=np.stack([d.descriptor for _, d in kept if d.descriptor is not None]),
        owners=np.array([p.parent.name for p, _ in kept]),
        quality=np.array([d.quality_score or 0.0 for _, d in kept], np.float64),
    )


def measure_reference(
    faces: FaceSet,
    *,
    descriptor: str,
    source: str,
    command: str,
    metric: str = Metric.L2,
    min_events: int = 25,
    carried: ReferenceCalibration | None = None,
) -> ReferenceCalibration:
    """Tables and quality factors measured on ``faces``, with ``centre`` their mean.

    ``carried``: fields other scripts measured (size and fusion factors, the quality
    centre rule) kept as they are, with their ``written_by``; None leaves them neutral.
    """
    people = faces.people()
    tables = measure_tables(people, metric, min_events)
    return ReferenceCalibration(
        descriptor=descriptor,
        source=source,
        command=command,
        tables=tables,
        quality_factors=quality_factors(tables[1], faces, metric),
        size_factors=carried.size_factors if carried else (),
        fused_factors=carried.fused_factors if carried else {},
        # the mean descriptor of these faces: degraded faces collapse towards it
        centre=tuple(float(v) for v in faces.vectors.astype(np.float64).mean(axis=0)),
        min_centre_distance=carried.min_centre_distance if carried else 0.0,
        written_by=carried.written_by if carried else {},
    )


@dataclass(frozen=True)
class CalibrationBuild:
    """What ``calibrate build`` measured: the tables (on half 0) and their check (half 1)."""

    reference: ReferenceCalibration
    checks: list[FpirCheck]
    people: tuple[int, int]
    faces: tuple[int, int]
    images: int


def _min_events(faces: FaceSet, metric: str) -> int:
    """A hundredth of the effective impostor pairs (Kish's n, every person once), 3 to 25."""
    _, weights = impostor_distances(faces.people(), 1, metric)
    effective = float(weights.sum() ** 2 / max(float((weights**2).sum()), 1e-300))
    return int(min(25, max(3, effective // 100)))


def build_model_calibration(
    root: Path,
    pipeline: FacePipeline,
    *,
    cache: DescriptorCache | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CalibrationBuild:
    """Measure ``pipeline``'s model's tables on ``root`` (one sub-folder per person).

    Raises:
        InvalidInputError: the folder has too few people or faces on either half.
    """
    folders = person_folders(root)
    paths = [p for images in folders.values() for p in images]
    described = describe_images(paths, pipeline, cache=cache, on_progress=on_progress)
    faces = face_set(paths, described)
    build, check = faces.half(0), faces.half(1)
    for which, half in (("tables", build), ("check", check)):
        if len(half.people()) < 3:
            raise InvalidInputError(
                f"{root}: the {which} half has {len(half.people())} people with a face found; "
                "calibrating needs a folder of many people (tens at least), split in two "
                "halves by name"
            )
    metric = pipeline.embedder.metric
    spec = pipeline.embedder.spec
    label = spec.name if spec is not None else DLIB_MODEL
    try:
        reference = measure_reference(
            build,
            descriptor=pipeline.embedder_version,
            source=(
                f"{root} (half 0 of the people): {len(build.people())} people, "
                f"{len(build.owners)} faces; size and fusion factors neutral (1), "
                "no quality centre rule"
            ),
            command=f"facesight calibrate build --model {label} {root}",
            metric=metric,
            min_events=_min_events(build, metric),
        )
    except InvalidInputError as error:
        raise InvalidInputError(
            f"{root}: too few strangers to measure how close they come ({error}); add more people"
        ) from error
    checks = []
    for references in (1, 3):
        drawn = sum(len(v) > references for v in check.people().values())
        if drawn < 2:
            continue
        checks += check_fpir(
            reference,
            check,
            people=min(10, drawn),
            references=references,
            targets=CHECK_TARGETS,
            trials=CHECK_TRIALS,
            metric=metric,
        )
    return CalibrationBuild(
        reference,
        checks,
        (len(build.people()), len(check.people())),
        (len(build.owners), len(check.owners)),
        len(paths),
    )
