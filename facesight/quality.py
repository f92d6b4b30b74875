"""How far a face can be trusted as evidence: one quality number with its reasons.

Five measurements, each turned into a factor between 0 (useless) and 1 (no
concern) by a linear ramp; the face's quality is the smallest factor, so the
weakest link names the reason:

* size: the detector box's width in source pixels;
* sharpness: variance of the Laplacian of the aligned chip (a small face
  blown up to 150 px is blurred too);
* yaw and pitch: estimated from the five landmarks (nose offset from the eye
  midpoint along and across the eye line), so no extra model runs;
* detector score.

The ramps were set from lfw-dev, where faces are 78-117 px wide, sharpness
spans 10-240 (1st-99th percentile) and |yaw| stays under 0.33: a typical LFW
face is "good". ``docs/accuracy.md`` reports what each band does to
accuracy (``facesight eval pairs`` prints it): on lfw-dev, poorer faces miss
more genuine matches but are not matched falsely more often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MIN_FACE_PX",
    "MIN_SHARPNESS",
    "QUALITY_BANDS",
    "FaceQuality",
    "assess_quality",
    "head_pose",
    "quality_band",
    "sharpness",
]

MIN_FACE_PX = 48.0
"""Faces narrower than this many pixels carry a warning (factor below 0.5)."""

MIN_SHARPNESS = 25.0
"""Chips whose Laplacian variance is below this carry a warning (factor below 0.5)."""

QUALITY_BANDS = ("good", "fair", "poor")
"""Bands of :attr:`FaceQuality.score`: good >= 0.7 > fair >= 0.3 > poor."""

_FRONTAL_PITCH = 0.55
"""Nose position between the eye line (0) and the mouth line (1) of a frontal face (lfw-dev)."""

# (name, bad, good): the factor is 0 at ``bad``, 1 at ``good``, linear between.
_RAMPS = {
    "size": (16.0, 80.0),
    "sharpness": (5.0, 45.0),
    "yaw": (0.55, 0.25),
    "pitch": (0.40, 0.20),
    "detector": (0.80, 0.97),
}


@dataclass(frozen=True)
class FaceQuality:
    """The measurements of one face, its quality score (0-1) and the reasons it is low.

    Attributes:
        size_px: box width in source pixels.
        sharpness: Laplacian variance of the aligned chip (grey levels squared).
        yaw: nose offset along the eye line in eye distances (0 frontal, +-0.5 in profile).
        pitch: nose offset from the frontal position towards the mouth, in eye-mouth heights.
        detector_score: the detector's confidence.
        score: the smallest of the five factors (1 = no concern).
        reasons: one phrase for each factor below 1, weakest first.
        warnings: the reasons whose factor is below 0.5.
    """

    size_px: float
    sharpness: float
    yaw: float
    pitch: float
    detector_score: float
    score: float
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def trusted(self) -> bool:
        return not self.warnings

    @property
    def band(self) -> str:
        return quality_band(self.score)


def quality_band(score: float) -> str:
    """``good`` (>= 0.7), ``fair`` (>= 0.3) or ``poor``."""
    return "good" if score >= 0.7 else "fair" if score >= 0.3 else "poor"


def sharpness(chip: NDArray[np.uint8]) -> float:
    """Variance of the 4-neighbour Laplacian of a (h, w, 3) uint8 chip's grey levels."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def head_pose(kps5: NDArray[np.float32]) -> tuple[float, float]:
    """(yaw, pitch) proxies from five landmarks (eyes, nose, mouth corners; image coordinates).

    Yaw is the nose's offset from the eye midpoint along the eye line, in
    eye distances; pitch is its offset across it, as a fraction of the
    eye-to-mouth height, minus the frontal 0.55. Both are 0 for a frontal face.
    """
    points = np.asarray(kps5, np.float64).reshape(5, 2)
    left_eye, right_eye, nose = points[0], points[1], points[2]
    mouth = (points[3] + points[4]) / 2
    eye_line = right_eye - left_eye
    eye_distance = max(float(np.linalg.norm(eye_line)), 1e-6)
    along = eye_line / eye_distance
    across = np.array([-along[1], along[0]])
    eyes = (left_eye + right_eye) / 2
    height = float((mouth - eyes) @ across)
    yaw = float((nose - eyes) @ along) / eye_distance
    pitch = float((nose - eyes) @ across) / height - _FRONTAL_PITCH if abs(height) > 1e-6 else 1.0
    return yaw, pitch


def _factor(name: str, value: float) -> float:
    bad, good = _RAMPS[name]
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0))


def assess_quality(
    chip: NDArray[np.uint8],
    size_px: float,
    kps5: NDArray[np.float32] | None = None,
    detector_score: float = 1.0,
) -> FaceQuality:
    """Judge one face from its aligned chip, box width, landmarks and detector score."""
    sharp = sharpness(chip)
    yaw, pitch = head_pose(kps5) if kps5 is not None else (0.0, 0.0)
    factors = {
        "size": (_factor("size", size_px), f"small face ({size_px:.0f} px wide)"),
        "sharpness": (_factor("sharpness", sharp), f"blurred (sharpness {sharp:.0f})"),
        "yaw": (_factor("yaw", abs(yaw)), f"turned sideways (yaw {yaw:+.2f})"),
        "pitch": (_factor("pitch", abs(pitch)), f"tilted up or down (pitch {pitch:+.2f})"),
        "detector": (
            _factor("detector", detector_score),
            f"unsure detection (score {detector_score:.2f})",
        ),
    }
    ranked = sorted(factors.values(), key=lambda f: f[0])
    return FaceQuality(
        size_px=float(size_px),
        sharpness=sharp,
        yaw=yaw,
        pitch=pitch,
        detector_score=float(detector_score),
        score=ranked[0][0],
        reasons=tuple(text for value, text in ranked if value < 1.0),
        warnings=tuple(text for value, text in ranked if value < 0.5),
    )
