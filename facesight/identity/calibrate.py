"""Distance -> estimated false-match rate, and the identification threshold it implies.

A distance means nothing until it is compared with how close *strangers* come.
The reference for that is an impostor distribution measured on real faces
(lfw-dev, people split by a hash of their name so half of them stay out for
checking, every person counted once however many photos they have) and
shipped with the package as numbers in ``facesight/data/calibration.json``;
``scripts/data/build_calibration.py`` reproduces them and
``scripts/data/check_calibration.py`` checks the decision on the other half.
There is one table per template size, because a person's template is the
centroid of their references and a centroid of k faces sits closer to everyone:
the k-face tables are the 1-face table with distances scaled by how much closer
(``ImpostorTable.scaled``), so their tail rests on every person of the half.

Faces too poor to be named: a degraded face's descriptor collapses towards the
centre of all faces; under ``min_centre_distance`` from it a face is never a
match (``ReferenceCalibration.usable``, ``scripts/data/measure_quality_rule.py``).
Small and fused (video track) probes are matched by strangers more often
(``size_factors``, ``fused_factors``: ``scripts/data/measure_video_rules.py``).
Each field a measuring script writes names that script's command in
``written_by`` (:func:`write_measured_fields`): no number in the file is typed.

Each table holds log10(FMR) at increasing distances, interpolated linearly;
below the measured range the log-linear tail fitted to the rarest measured
events is extrapolated. The gallery's own cross-person distances then raise
the estimate when this gallery's people look more alike than lfw-dev's
(``gallery_factor``): never lower, so the estimate stays conservative.

Identification (1:N) multiplies chances: a stranger compared with N people
is falsely named with probability FPIR = 1 - prod(1 - FMR_p). The decision
rule is in FMR space: a candidate is a match when its estimated FMR is at
most the per-person level ``alpha`` that makes the gallery's FPIR equal the
target. Larger galleries therefore get stricter automatically.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from facesight.defaults import DEFAULT_TARGET_FPIR
from facesight.errors import InvalidInputError, ModelError
from facesight.files import write_text_atomically
from facesight.quality import quality_band

__all__ = [
    "DEFAULT_TARGET_FPIR",
    "Calibration",
    "ImpostorTable",
    "ReferenceCalibration",
    "gallery_factor",
    "load_reference_calibration",
]


_GALLERY_PRIOR_EVENTS = 10.0
"""Pseudo-events that shrink the gallery's own correction towards 1 when it has few pairs."""

_MAX_GALLERY_FACTOR = 20.0


@dataclass(frozen=True)
class ImpostorTable:
    """False-match rate of one template size as a function of distance.

    Attributes:
        distances: increasing distances where the rate was measured.
        log10_fmr: log10 of the fraction of impostor comparisons at or under each distance.
        tail_slope: d log10(FMR) / d distance, used below ``distances[0]``.
        pairs: how many impostor comparisons the table was measured on.
    """

    distances: NDArray[np.float64]
    log10_fmr: NDArray[np.float64]
    tail_slope: float
    pairs: int

    def fmr(self, distance: ArrayLike) -> NDArray[np.float64]:
        """Estimated fraction of strangers at or under ``distance`` (vectorised)."""
        d = np.asarray(distance, np.float64)
        inside = np.interp(d, self.distances, self.log10_fmr)
        tail = self.log10_fmr[0] + self.tail_slope * (d - self.distances[0])
        log_rate = np.where(d < self.distances[0], tail, inside)
        result: NDArray[np.float64] = np.minimum(10.0**log_rate, 1.0)
        return result

    def distance_at(self, fmr: float) -> float:
        """The distance whose estimated FMR is ``fmr`` (inverse of :meth:`fmr`)."""
        if not 0.0 < fmr <= 1.0:
            raise InvalidInputError(f"a false-match rate must be in (0, 1], got {fmr}")
        level = math.log10(fmr)
        if level < self.log10_fmr[0]:
            return float(self.distances[0] + (level - self.log10_fmr[0]) / self.tail_slope)
        return float(np.interp(level, self.log10_fmr, self.distances))

    def scaled(self, factor: float) -> ImpostorTable:
        """The same rates at every distance times ``factor`` (a template of k faces sits
        closer to everyone by a nearly constant ratio: ``eval.calibration.measure_tables``)."""
        return ImpostorTable(
            self.distances * factor, self.log10_fmr, self.tail_slope / factor, self.pairs
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImpostorTable:
        return cls(
            distances=np.asarray(data["distances"], np.float64),
            log10_fmr=np.asarray(data["log10_fmr"], np.float64),
            tail_slope=float(data["tail_slope"]),
            pairs=int(data["pairs"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "distances": [round(float(v), 5) for v in self.distances],
            "log10_fmr": [round(float(v), 4) for v in self.log10_fmr],
            "tail_slope": round(self.tail_slope, 4),
            "pairs": self.pairs,
        }

    @classmethod
    def measure(
        cls,
        impostor: NDArray[np.float64],
        *,
        weights: NDArray[np.float64] | None = None,
        min_events: int = 25,
    ) -> ImpostorTable:
        """Build a table from impostor distances, each with a weight (default 1).

        Rates are weighted fractions. Knots are placed at quantiles from
        ``min_events / n`` up to 0.5 (log spaced), n being the effective
        number of comparisons (Kish: (sum w)^2 / sum w^2); the tail slope is
        fitted on the knots whose rate is under ``100 * min_events / n``,
        where the log-rate is still close to linear.
        """
        values = np.asarray(impostor, np.float64)
        w = np.ones(len(values)) if weights is None else np.asarray(weights, np.float64)
        finite = np.isfinite(values)
        order = np.argsort(values[finite], kind="stable")
        d, w = values[finite][order], w[finite][order]
        n = float(w.sum() ** 2 / max(float((w**2).sum()), 1e-300))
        if n < 100 * min_events:
            raise InvalidInputError(
                f"need at least {100 * min_events} impostor distances, got {n:.0f} (effective)"
            )
        cumulative = np.cumsum(w) / w.sum()
        levels = np.logspace(math.log10(min_events / n), math.log10(0.5), 60)
        knots = np.unique(d[np.minimum(np.searchsorted(cumulative, levels), len(d) - 1)])
        rates = cumulative[np.searchsorted(d, knots, side="right") - 1]
        low = rates <= 100 * min_events / n
        slope = float(np.polyfit(knots[low], np.log10(rates[low]), 1)[0])
        return cls(knots, np.log10(rates), slope, len(d))


@dataclass(frozen=True)
class ReferenceCalibration:
    """The shipped impostor tables, one per template size (1, 2, ... faces)."""

    descriptor: str
    source: str
    command: str
    tables: dict[int, ImpostorTable]
    quality_factors: dict[str, float] = field(default_factory=dict)
    size_factors: tuple[tuple[float, float], ...] = ()
    fused_factors: dict[int, float] = field(default_factory=dict)
    centre: tuple[float, ...] = ()
    min_centre_distance: float = 0.0
    written_by: dict[str, str] = field(default_factory=dict)

    @classmethod
    def uncalibrated(cls, descriptor: str) -> ReferenceCalibration:
        """No tables: a registered model nobody has calibrated. Its estimated rates are
        NaN and it names nobody automatically (only a fixed ``max_distance`` decides);
        its probe factors are neutral (1)."""
        return cls(descriptor, "", "", {})

    @property
    def calibrated(self) -> bool:
        """Whether impostor tables exist (``uncalibrated`` has none)."""
        return bool(self.tables)

    def usable(self, descriptors: NDArray[np.float32]) -> NDArray[np.bool_]:
        """(n,) whether each (n, d) descriptor may be named automatically.

        A degraded face's descriptor collapses towards the centre of all faces
        (``centre``: the mean descriptor of the tables' faces), where strangers
        come close to it more often than the tables say and its own person is
        missed. Under ``min_centre_distance`` (``scripts/data/measure_quality_rule.py``,
        docs/accuracy.md) the estimate no longer holds: such faces keep their
        candidates but are never a match.
        """
        rows = np.asarray(descriptors, np.float64)
        rows = rows.reshape(len(rows), -1) if rows.ndim > 1 else rows.reshape(1, -1)
        if not self.centre or rows.shape[1] != len(self.centre):
            return np.ones(len(rows), bool)
        distance = np.linalg.norm(rows - np.asarray(self.centre, np.float64), axis=1)
        result: NDArray[np.bool_] = distance >= self.min_centre_distance
        return result

    def quality_factor(self, band: str | None) -> float:
        """How much more often strangers match a face of this quality band (>= 1)."""
        return self.quality_factors.get(band, 1.0) if band is not None else 1.0

    def size_factor(self, width_px: float | None) -> float:
        """How much more often strangers match a face this small (>= 1): the factor of
        the first ``(up to width, factor)`` step of ``size_factors`` it falls under."""
        if width_px is None or not np.isfinite(width_px):
            return 1.0
        return next((f for limit, f in self.size_factors if width_px <= limit), 1.0)

    def fused_factor(self, faces: int) -> float:
        """How much more often strangers match a probe fused from ``faces`` faces (a
        video track's centroid sits closer to everyone, like a template)."""
        if faces <= 1 or not self.fused_factors:
            return 1.0
        return self.fused_factors[min(faces, max(self.fused_factors))]

    def probe_factor(
        self, quality: float | None, width_px: float | None = None, fused: int = 1
    ) -> float:
        """The probe's total correction: the larger of its quality band's and its
        size's factor (a small face is also a poor one), times its fusion factor."""
        band = None if quality is None or not np.isfinite(quality) else quality_band(quality)
        worst = max(self.quality_factor(band), self.size_factor(width_px))
        return worst * self.fused_factor(fused)

    def table(self, template_size: int) -> ImpostorTable:
        """The table for a template of this many faces (the largest measured beyond it)."""
        if template_size < 1:
            raise InvalidInputError(f"a template has at least one face, got {template_size}")
        if not self.tables:
            raise ModelError(
                f"{self.descriptor} has no calibration: run `facesight calibrate build --model "
                "NAME PEOPLE_DIR`, or decide with a fixed --max-distance"
            )
        return self.tables[min(template_size, max(self.tables))]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceCalibration:
        return cls(
            descriptor=str(data["descriptor"]),
            source=str(data["source"]),
            command=str(data["command"]),
            tables={int(k): ImpostorTable.from_json(v) for k, v in data["tables"].items()},
            quality_factors={str(k): float(v) for k, v in data.get("quality_factors", {}).items()},
            size_factors=tuple((float(w), float(f)) for w, f in data.get("size_factors", [])),
            fused_factors={int(k): float(v) for k, v in data.get("fused_factors", {}).items()},
            centre=tuple(float(v) for v in data.get("centre", [])),
            min_centre_distance=float(data.get("min_centre_distance", 0.0)),
            written_by={str(k): str(v) for k, v in data.get("written_by", {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "descriptor": self.descriptor,
            "source": self.source,
            "command": self.command,
            "tables": {str(k): t.to_json() for k, t in sorted(self.tables.items())},
            "quality_factors": {k: round(v, 3) for k, v in self.quality_factors.items()},
            "size_factors": [[w, round(f, 3)] for w, f in self.size_factors],
            "fused_factors": {str(k): round(v, 3) for k, v in self.fused_factors.items()},
            "centre": [round(v, 6) for v in self.centre],
            "min_centre_distance": self.min_centre_distance,
            "written_by": dict(sorted(self.written_by.items())),
        }


def write_measured_fields(path: Path, fields: dict[str, Any], command: str) -> None:
    """Replace ``fields`` in the calibration file at ``path``, keeping every other field,
    and record ``command`` as what wrote each of them (``written_by``).

    The measuring scripts (``scripts/data/measure_quality_rule.py --write``,
    ``scripts/data/measure_video_rules.py --write``) write their results this way;
    ``scripts/data/build_calibration.py`` carries them forward.

    Raises:
        ModelError: the file, with the new fields, is not a calibration file.
        OutputError: the file cannot be replaced.
    """
    try:
        data = json.loads(path.read_text())
        data.update(fields)
        data["written_by"] = dict(
            sorted({**data.get("written_by", {}), **dict.fromkeys(fields, command)}.items())
        )
        ReferenceCalibration.from_json(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: not a calibration file ({exc})") from exc
    write_text_atomically(path, json.dumps(data, indent=1) + "\n")


def load_reference_calibration() -> ReferenceCalibration:
    """The impostor tables shipped in ``facesight/data/calibration.json``."""
    try:
        text = resources.files("facesight").joinpath("data/calibration.json").read_text()
        return ReferenceCalibration.from_json(json.loads(text))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"the shipped calibration (facesight/data/calibration.json): {exc}"
        ) from exc


def gallery_factor(
    reference: ReferenceCalibration,
    distances: NDArray[np.float64],
    template_sizes: NDArray[np.int64],
) -> float:
    """How much more often this gallery's people match each other than lfw-dev's (>= 1).

    Args:
        distances: cross-person distances from each person's template to every
            reference of the other people.
        template_sizes: the template size of the person on the template side.

    The expected number of those distances under a level where lfw-dev
    would give 10 events is compared with the observed number; both are
    shrunk towards each other by ``_GALLERY_PRIOR_EVENTS`` pseudo-events, so
    a small gallery keeps the reference as it is.
    """
    d = np.asarray(distances, np.float64)
    if len(d) == 0 or not reference.calibrated:
        return 1.0
    level = min(1e-2, max(10.0 / len(d), 1e-5))
    sizes = np.asarray(template_sizes)
    observed, expected = 0.0, 0.0
    for size in np.unique(sizes):
        table = reference.table(int(size))
        cut = table.distance_at(level)
        mine = d[sizes == size]
        observed += float((mine <= cut).sum())
        expected += level * len(mine)
    factor = (observed + _GALLERY_PRIOR_EVENTS) / (expected + _GALLERY_PRIOR_EVENTS)
    return float(min(max(factor, 1.0), _MAX_GALLERY_FACTOR))


@dataclass(frozen=True)
class Calibration:
    """Calibrated scores for one gallery.

    Attributes:
        reference: the shipped impostor tables.
        template_sizes: faces in each enrolled person's template.
        factor: the gallery's own correction (>= 1), from :func:`gallery_factor`.
        target_fpir: the identification decision's target false-positive rate.
    """

    reference: ReferenceCalibration
    template_sizes: tuple[int, ...]
    factor: float = 1.0
    target_fpir: float = DEFAULT_TARGET_FPIR

    def __post_init__(self) -> None:
        if not 0.0 < self.target_fpir < 1.0:
            raise InvalidInputError(f"target FPIR must be in (0, 1), got {self.target_fpir}")

    @property
    def people(self) -> int:
        return len(self.template_sizes)

    def fmr(self, distance: float, template_size: int = 1, band: str | None = None) -> float:
        """Estimated chance that a stranger comes this close to a template of that size.

        ``band`` is the probe face's quality band: poorer faces are matched by
        strangers somewhat more often (``quality_factors``, measured on lfw-dev).
        """
        scale = self.reference.quality_factor(band)
        return float(self.fmrs(np.asarray(distance), template_size, scale))

    def fmrs(
        self, distances: NDArray[np.float32], template_size: int, quality_factors: ArrayLike = 1.0
    ) -> NDArray[np.float64]:
        """:meth:`fmr` for many distances to templates of one size (vectorised).

        ``quality_factors`` broadcasts against ``distances``: one per probe
        face, ``reference.quality_factor`` of its band.
        """
        if not self.reference.calibrated:
            return np.full(np.shape(distances), np.nan)
        rate = self.reference.table(template_size).fmr(distances)
        scaled: NDArray[np.float64] = np.minimum(
            rate * self.factor * np.asarray(quality_factors, np.float64), 1.0
        )
        return scaled

    def fpir_of(self, fmr: float) -> float:
        """Chance that a stranger matches *someone* in this gallery at per-person rate ``fmr``."""
        return -math.expm1(self.people * math.log1p(-min(fmr, 1.0 - 1e-16)))

    @property
    def alpha(self) -> float:
        """Per-person FMR at which the whole gallery's FPIR equals ``target_fpir``."""
        people = max(self.people, 1)
        return -math.expm1(math.log1p(-self.target_fpir) / people)

    def threshold(self, template_size: int = 1, band: str | None = None) -> float:
        """The decision distance for a template of that size and a probe of that band."""
        return self.threshold_for(template_size, self.reference.quality_factor(band))

    def threshold_for(self, template_size: int, probe_factor: float) -> float:
        """The decision distance for a template of that size and a probe whose
        estimated FMR is raised by ``probe_factor`` (``ReferenceCalibration.probe_factor``)."""
        if not self.reference.calibrated:
            return float("nan")  # nothing is under it: an uncalibrated model names nobody
        scale = self.factor * probe_factor
        return self.reference.table(template_size).distance_at(min(self.alpha / scale, 1.0))

    def is_match(self, fmr: float) -> bool:
        return fmr <= self.alpha
