"""How the pages write numbers, times and decision states (Jinja filters, no rule).

An estimated rate is shown with two significant digits (``3.1e-04``): the calibration's own
intervals are wider than that. A rate that is not known (an uncalibrated model) shows as an
em dash, never as 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["FILTERS", "distance", "items_text", "rate", "seconds", "state_label"]


def rate(value: float | None) -> str:
    """An estimated false-match rate, or "—" when none is known."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    return f"{value:.1e}" if value < 0.01 else f"{value:.2f}"


def distance(value: float | None) -> str:
    """A descriptor distance, to the third decimal (the thresholds are given so)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.3f}"


def seconds(value: float | None) -> str:
    """A time in a video as ``m:ss.ss`` (``—`` when not known)."""
    if value is None or not math.isfinite(value):
        return "—"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def items_text(items: Mapping[str, Any], most: int = 20) -> str:
    """An audit record's items (``faces: 3, 4, 5``), each list cut to its first ``most``."""
    parts = []
    for kind, values in items.items():
        if isinstance(values, list | tuple):
            shown = ", ".join(str(v) for v in values[:most])
            more = f" … ({len(values)} in all)" if len(values) > most else ""
            parts.append(f"{kind}: {shown}{more}")
        else:
            parts.append(f"{kind}: {values}")
    return "; ".join(parts)


def state_label(state: str) -> str:
    """A decision state (``confirmed:12``) as a word for a badge (``confirmed``)."""
    return state.split(":", 1)[0]


FILTERS: dict[str, Callable[..., Any]] = {
    "rate": rate,
    "distance": distance,
    "seconds": seconds,
    "state_label": state_label,
    "items_text": items_text,
}
"""The filters the templates use, registered on the app's Jinja environment."""
