"""DET curves for evaluation reports: error rates from distances, and a PNG plot of them.

Plots are drawn with matplotlib's non-GUI Agg canvas on a private ``Figure`` (never
``pyplot``), so no display is needed and no global figure state is touched. matplotlib
is the optional ``facesight[eval]`` extra, imported when a plot is drawn; an evaluation
calls :func:`require_plotting` first, so a missing extra is said before the long work.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from facesight.errors import (
    InvalidInputError,
    MissingExtraError,
    UnreadableMediaError,
    UnsupportedMediaError,
)
from facesight.files import atomic_file

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

__all__ = ["ErrorCurve", "error_curve", "png_data_uri", "require_plotting", "save_det_plot"]

# Axis floors of the log-log plot; rates of exactly 0 are drawn on the floor so they stay visible.
MIN_FALSE_POSITIVE = 1e-5
MIN_FALSE_NEGATIVE = 1e-3
FIGSIZE_IN = (6.4, 4.8)
DPI = 100
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ErrorCurve:
    """One DET curve: false positive rates (x) against false negative rates (y), same length.

    Both are float64 arrays of shape (n,), one point per threshold in increasing order, so
    ``false_positive`` never decreases and ``false_negative`` never increases.
    """

    label: str
    false_positive: NDArray[np.float64]
    false_negative: NDArray[np.float64]

    def __post_init__(self) -> None:
        fp, fn = self.false_positive, self.false_negative
        if fp.ndim != 1 or fp.shape != fn.shape:
            raise InvalidInputError(
                f"ErrorCurve {self.label!r}: rates must be 1-D arrays of one length, "
                f"got shapes {fp.shape} and {fn.shape}"
            )


def error_curve(
    label: str, genuine: NDArray[np.float64], impostor: NDArray[np.float64]
) -> ErrorCurve:
    """The DET curve of a matcher from the distances (lower = more alike) of its pairs.

    ``genuine`` (shape (g,)) holds same-person distances, ``impostor`` (shape (i,))
    different-person distances. A pair is accepted when its distance is <= the threshold.
    NaN in ``genuine`` (a face not found) is a miss at every threshold; NaN in ``impostor``
    is ignored, since a pair that cannot be compared cannot be falsely accepted either.
    Every distinct finite distance of either set is one threshold, in increasing order.

    Raises InvalidInputError when either array is not 1-D, ``genuine`` is empty, or
    ``impostor`` has no non-NaN distance.
    """
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    if genuine.ndim != 1 or impostor.ndim != 1:
        raise InvalidInputError(
            f"error_curve {label!r}: distances must be 1-D arrays, "
            f"got shapes {genuine.shape} and {impostor.shape}"
        )
    impostor = np.sort(impostor[~np.isnan(impostor)])
    if genuine.size == 0 or impostor.size == 0:
        raise InvalidInputError(
            f"error_curve {label!r}: need at least one genuine and one non-NaN impostor "
            f"distance, got {genuine.size} and {impostor.size}"
        )
    missed = np.isnan(genuine)
    found = np.sort(genuine[~missed])
    both = np.concatenate([found, impostor])
    thresholds = np.unique(both[np.isfinite(both)])
    # searchsorted(side="right") counts the sorted values <= each threshold in one pass.
    accepted_impostors = np.searchsorted(impostor, thresholds, side="right")
    accepted_genuine = np.searchsorted(found, thresholds, side="right")
    return ErrorCurve(
        label=label,
        false_positive=accepted_impostors / impostor.size,
        false_negative=(genuine.size - accepted_genuine) / genuine.size,
    )


def require_plotting() -> None:
    """Raise MissingExtraError naming ``facesight[eval]`` when matplotlib is not installed."""
    _matplotlib()


def _matplotlib() -> tuple[type[Figure], type[FigureCanvasAgg]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError("drawing DET curves", "matplotlib", "eval") from exc
    return Figure, FigureCanvasAgg


def save_det_plot(
    curves: Sequence[ErrorCurve],
    path: Path,
    *,
    title: str,
    x_label: str,
    y_label: str,
    marks: Sequence[float] = (1e-3, 1e-2),
) -> None:
    """Write a 640x480 PNG of DET curves on log-log axes, atomically.

    x is the false positive rate from 1e-5 to 1, y the false negative rate from 1e-3 to 1;
    rates of 0 are drawn on the axis floor. ``marks`` are false positive rates drawn as
    dashed vertical lines (the operating points a report quotes). The parent folder is
    created; the file is replaced only once fully written. OSError from the disk propagates.

    Raises InvalidInputError when ``curves`` is empty, MissingExtraError without matplotlib.
    """
    if not curves:
        raise InvalidInputError("save_det_plot: no curves to plot; pass at least one ErrorCurve")
    _, canvas = _matplotlib()
    figure = _det_figure(curves, title=title, x_label=x_label, y_label=y_label, marks=marks)
    canvas(figure)  # attaches the Agg canvas, so savefig needs no GUI backend
    with atomic_file(path) as handle:
        figure.savefig(handle, format="png", dpi=DPI)


def _det_figure(
    curves: Sequence[ErrorCurve],
    *,
    title: str,
    x_label: str,
    y_label: str,
    marks: Sequence[float],
) -> Figure:
    figure_class, _ = _matplotlib()
    figure = figure_class(figsize=FIGSIZE_IN, dpi=DPI, layout="tight")
    axes = figure.add_subplot()
    for mark in marks:
        axes.axvline(mark, color="grey", linestyle="--", linewidth=1)
    for curve in curves:
        axes.plot(
            np.clip(curve.false_positive, MIN_FALSE_POSITIVE, 1.0),
            np.clip(curve.false_negative, MIN_FALSE_NEGATIVE, 1.0),
            label=curve.label,
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(MIN_FALSE_POSITIVE, 1.0)
    axes.set_ylim(MIN_FALSE_NEGATIVE, 1.0)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, which="both", linewidth=0.5, alpha=0.5)
    axes.legend(loc="upper right")
    return figure


def png_data_uri(path: Path) -> str:
    """The PNG file at ``path`` as a ``data:image/png;base64,...`` URI for a self-contained page.

    Raises UnreadableMediaError when the file cannot be read and UnsupportedMediaError when
    it is not a PNG.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableMediaError(path, f"cannot read the image: {exc.strerror or exc}") from exc
    if not data.startswith(_PNG_SIGNATURE):
        raise UnsupportedMediaError(path, "not a PNG file; only PNG images can be embedded")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
