"""How far a face can be trusted as evidence: size and sharpness, with reasons.

Deliberately simple here (the calibration work refines it): a face whose box
is smaller than ``min_size_px`` or whose aligned chip is blurred (low
variance of the Laplacian) carries a warning that travels with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_FACE_PX", "MIN_SHARPNESS", "FaceQuality", "assess_quality", "sharpness"]

MIN_FACE_PX = 48.0
"""Faces whose box is narrower than this many pixels are too small to trust."""

MIN_SHARPNESS = 40.0
"""Chips whose Laplacian variance (grey levels squared) is below this look blurred."""


@dataclass(frozen=True)
class FaceQuality:
    """Size and sharpness of one face, and the warnings they raise."""

    size_px: float
    sharpness: float
    warnings: tuple[str, ...]

    @property
    def trusted(self) -> bool:
        return not self.warnings


def sharpness(chip: NDArray[np.uint8]) -> float:
    """Variance of the 4-neighbour Laplacian of a (h, w, 3) uint8 chip's grey levels."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def assess_quality(
    chip: NDArray[np.uint8],
    size_px: float,
    *,
    min_size_px: float = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
) -> FaceQuality:
    """Judge one face from its aligned chip and its box width in source pixels."""
    sharp = sharpness(chip)
    warnings = []
    if size_px < min_size_px:
        warnings.append(f"small face ({size_px:.0f} px wide, under {min_size_px:.0f} px)")
    if sharp < min_sharpness:
        warnings.append(f"blurred (sharpness {sharp:.0f}, under {min_sharpness:.0f})")
    return FaceQuality(size_px=float(size_px), sharpness=sharp, warnings=tuple(warnings))
