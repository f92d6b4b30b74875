"""The decision rule of a library in words: the line every listing of matches shows with it.

A person reading a sighting, an identification or a report needs to know what "match" meant
there: a fixed distance (``--max-distance``), or the calibrated rule that keeps the whole
gallery's false-positive identification rate at the target (``facesight.identity.calibrate``),
with the per-person false-match rate and the distances it comes to for the template sizes in
use. The command line prints it; the report writes it as its ``rule``.
"""

from __future__ import annotations

from facesight.identity.calibrate import Calibration

__all__ = ["decision_note"]

_SIZES_SHOWN = 3
"""Template sizes whose decision distance the line names (the smallest ones): more would
make it wrap, and the rest are a few thousandths apart."""


def decision_note(calibration: Calibration, max_distance: float | None) -> str:
    """One line saying how matches are decided, with the numbers behind it.

    Args:
        calibration: the library's calibration (``Library.calibration()``).
        max_distance: the fixed decision distance, or None for the calibrated rule.
    """
    people = calibration.people
    if max_distance is not None:
        return (
            f"match = distance <= {max_distance:.3f} (fixed by --max-distance; "
            f"{people} enrolled people)"
        )
    if people == 0:
        return "nobody is enrolled yet: no face can be matched"
    if not calibration.reference.calibrated:
        return (
            f"no automatic match: the model ({calibration.reference.descriptor}) is "
            "uncalibrated; candidates are ranked by distance (give --max-distance, or run "
            "`facesight calibrate build --model NAME PEOPLE_DIR`)"
        )
    sizes = sorted(set(calibration.template_sizes))
    cuts = ", ".join(f"{calibration.threshold(k):.3f} for {k} ref." for k in sizes[:_SIZES_SHOWN])
    return (
        f"match = est. FPIR <= {calibration.target_fpir:g} for {people} enrolled "
        f"{'person' if people == 1 else 'people'}: "
        f"per-person est. FMR <= {calibration.alpha:.1e} (distance <= {cuts})"
    )
