"""Which new face a review decision of re-analysed content belongs to (a rule, no SQL).

When content is analysed again (a new descriptor model), its faces are stored anew and
the decisions reviewers made about the old faces must follow them. A still's face is the
new face whose box overlaps the old one most, with an intersection over union of at least
0.5 (the same threshold the store uses to tell that a stored face *is* an enrolled
reference); a video track is the new track overlapping the old one's time range most, by
at least half of the shorter range. A decision whose face is not found again is dropped
with the old face; the audit log keeps that it was made.

The store is handed :func:`carry_reviews` (``scan.collection`` does it) and applies its
answer inside the transaction that replaces the content.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facesight.faces import box_iou

__all__ = ["MIN_OVERLAP", "FacePlace", "carry_reviews"]

MIN_OVERLAP = 0.5
"""Least box IoU (stills) or shared share of the shorter time range (video tracks)."""

FacePlace = tuple[tuple[float, float, float, float], float | None, float | None]
"""Where a face is: its box (x1, y1, x2, y2), and for a video track its start and end
seconds (None for a still)."""


def carry_reviews(old: Sequence[FacePlace], new: Sequence[FacePlace]) -> list[int | None]:
    """For each old face, the index in ``new`` of the face its decisions go to, or None."""
    return [_best(place, new) for place in old]


def _best(old: FacePlace, new: Sequence[FacePlace]) -> int | None:
    box, start, end = old
    best, best_score = None, 0.0
    for index, (new_box, new_start, new_end) in enumerate(new):
        if start is not None and end is not None and new_start is not None and new_end is not None:
            score = _time_overlap(start, end, new_start, new_end)
        else:
            score = float(box_iou(np.array([new_box], np.float32), np.array(box, np.float32))[0])
        if score >= MIN_OVERLAP and score > best_score:
            best, best_score = index, score
    return best


def _time_overlap(start: float, end: float, new_start: float, new_end: float) -> float:
    shared = min(end, new_end) - max(start, new_start)
    shortest = min(end - start, new_end - new_start)
    # + 1 ms: two one-frame tracks at the same instant overlap fully
    return (shared + 1e-3) / (shortest + 1e-3) if shared >= 0 else 0.0
