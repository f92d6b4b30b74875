"""A face region another tool tagged, and how it maps onto the upright image facesight uses.

Every reader of this package (``mwg``, ``mp``, ``picasa``) yields :class:`TaggedRegion`:
a box normalised 0-1 (x1, y1, x2, y2, top-left origin) in the frame its writer used, with
the person's name and where it came from. facesight's boxes are in upright pixels (EXIF
orientation applied), so :func:`upright_box` maps a region written in the *stored* frame
(MWG, as ``facesight export-xmp`` writes it and the MWG guidelines 2.0 section 5.9 say)
through the file's orientation; :func:`stored_frame` decides the frame from the region's
``AppliedToDimensions`` where they tell (a writer that rotated its regions with the image
says so by giving the upright size of a rotated image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from facesight.errors import InvalidInputError

__all__ = ["TagReading", "TaggedRegion", "normalised_box", "stored_frame", "upright_box"]

_SLACK = 0.02
"""How far past the image edge (a fraction of it) a region may reach before it is refused as
wrong numbers rather than clipped: writers round, and a face at the edge is often tagged
past it (digiKam lets the user drag a region slightly out)."""


@dataclass(frozen=True)
class TaggedRegion:
    """One tagged face: ``box`` normalised (x1, y1, x2, y2) in its writer's frame.

    Attributes:
        name: the person's name as the tool wrote it ("" for an unnamed face region).
        box: 0-1 fractions of the image width and height, top-left origin.
        tool: which format and software wrote it ("MWG regions (digiKam-8.1.0)").
        source: the file it was read from (a sidecar, the media file, a .picasa.ini).
        applied_px: the image size (w, h) in pixels the writer applied it to, when given.
    """

    name: str
    box: tuple[float, float, float, float]
    tool: str
    source: str
    applied_px: tuple[int, int] | None = None


@dataclass
class TagReading:
    """What one tag file gave: its regions, its problems (one line each), and the media
    sha256 written into it (``facesight export-xmp`` sidecars), if any."""

    source: str
    regions: list[TaggedRegion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    media_sha256: str | None = None


def normalised_box(left: float, top: float, width: float, height: float) -> tuple[float, ...]:
    """(x1, y1, x2, y2) of a normalised box given by its top-left corner and size, clipped
    to the image. Raises InvalidInputError for numbers no image region can have (not
    finite, not positive, or reaching well outside the image)."""
    values = (left, top, width, height)
    if not all(math.isfinite(v) for v in values):
        raise InvalidInputError(f"region numbers must be finite, got {values}")
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"region size must be positive, got {width} x {height}")
    right, bottom = left + width, top + height
    if left < -_SLACK or top < -_SLACK or right > 1 + _SLACK or bottom > 1 + _SLACK:
        raise InvalidInputError(
            f"region ({left:g}, {top:g}, {width:g} x {height:g}) lies outside the image "
            "(normalised coordinates are fractions 0-1)"
        )
    x1, y1 = max(left, 0.0), max(top, 0.0)
    x2, y2 = min(right, 1.0), min(bottom, 1.0)
    if x2 <= x1 or y2 <= y1:
        raise InvalidInputError(f"region ({left:g}, {top:g}, {width:g} x {height:g}) is empty")
    return (x1, y1, x2, y2)


def stored_frame(region: TaggedRegion, orientation: int, stored_px: tuple[int, int]) -> bool:
    """Whether ``region`` is in the stored pixels' frame (True) or already upright.

    The MWG guidelines (and ``export-xmp``) put regions in the stored frame; a rotated
    image (orientation 5-8) whose region names the *upright* size as
    ``AppliedToDimensions`` was written by a tool that rotated its regions with the image,
    so it is taken as upright. Without dimensions, or when they fit both, the stored frame.
    """
    if orientation < 5 or region.applied_px is None:
        return True
    w, h = region.applied_px
    stored_w, stored_h = stored_px
    if stored_w == stored_h or w <= 0 or h <= 0:
        return True
    stored_landscape = stored_w > stored_h
    return (w > h) == stored_landscape


def upright_box(box: tuple[float, ...], orientation: int) -> tuple[float, float, float, float]:
    """A normalised box of the stored image as a normalised box of the upright image.

    The inverse of ``facesight.exports.xmp``'s stored-area mapping: for each EXIF
    orientation (1-8), where the stored point (x, y) lands once the image is turned upright.
    Raises InvalidInputError for an orientation outside 1-8.
    """
    if orientation not in range(1, 9):
        raise InvalidInputError(f"EXIF orientation must be 1-8, got {orientation}")
    x1, y1, x2, y2 = box
    corners = [_upright_point(x, y, orientation) for x, y in ((x1, y1), (x2, y2))]
    (u1, v1), (u2, v2) = corners
    return (min(u1, u2), min(v1, v2), max(u1, u2), max(v1, v2))


def _upright_point(x: float, y: float, orientation: int) -> tuple[float, float]:
    # export-xmp maps upright (u, v) to stored (x, y); these solve it for (u, v).
    return {
        1: (x, y),
        2: (1 - x, y),
        3: (1 - x, 1 - y),
        4: (x, 1 - y),
        5: (y, x),
        6: (1 - y, x),
        7: (1 - y, 1 - x),
        8: (y, 1 - x),
    }[orientation]
