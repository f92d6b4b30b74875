"""Evidence images: the frame a sighting was seen in, with its face box drawn.

For a still the frame is the image itself; for a video it is decoded again at
the sighting's best timecode (frames are not kept in the library, only crops),
so the file must still be where it was scanned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from facesight.errors import MediaError
from facesight.files import atomic_file
from facesight.media.images import load_image
from facesight.media.video import read_frame_at
from facesight.records import MediaFailure, Sighting
from facesight.timecode import format_timecode

__all__ = [
    "BOX_RGB",
    "LABEL_FRACTION",
    "FrameWritten",
    "draw_box",
    "frame_label",
    "sighting_frame",
    "write_sighting_frames",
]

BOX_RGB = (255, 196, 0)
"""The colour of the face box and of the label's background."""

LABEL_FRACTION = 1 / 30
"""Label text height as a share of the frame's shorter side: about 36 px on a 1080p frame,
12 px (the floor) on a 360p one, legible when the frame is shown whole on a screen."""

_MIN_LABEL_PX = 12


@dataclass(frozen=True)
class FrameWritten:
    """One evidence frame written (``path``), or why it could not be (``failure``)."""

    face_id: int
    path: Path | None
    failure: MediaFailure | None = None


def sighting_frame(sighting: Sighting) -> NDArray[np.uint8]:
    """The upright pixels the sighting's box refers to.

    Raises:
        MediaError: the media file can no longer be read.
    """
    if sighting.kind == "video" and sighting.time_s is not None:
        return read_frame_at(sighting.path, sighting.time_s)
    return load_image(Path(sighting.path)).pixels


def draw_box(pixels: NDArray[np.uint8], xyxy: tuple[float, ...], label: str) -> Image.Image:
    """The image with the box outlined and ``label`` written above it (below it when the
    box touches the top), in a TrueType font sized to the frame (``LABEL_FRACTION``)."""
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 400))
    x1, y1, x2, y2 = xyxy
    draw.rectangle((x1, y1, x2, y2), outline=BOX_RGB, width=width)
    size = max(_MIN_LABEL_PX, round(min(image.size) * LABEL_FRACTION))
    # Pillow's bundled TrueType font (Pillow >= 10.1): scalable, the same on every machine
    font = ImageFont.load_default(size=size)
    pad = max(2, size // 4)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    lift, span = bottom - top + 2 * pad, right - left + 2 * pad
    top_y = y1 - lift if y1 >= lift else y2
    left_x = max(0.0, min(x1, image.size[0] - span))
    draw.rectangle((left_x, top_y, left_x + span, top_y + lift), fill=BOX_RGB)
    draw.text((left_x + pad - left, top_y + pad - top), label, fill=(0, 0, 0), font=font)
    return image


def frame_label(sighting: Sighting) -> str:
    """The label of an evidence frame: who, the decision category, the est. FMR of the
    person named, and the timecode in a video."""
    named = sighting.named
    who = sighting.person or "no match"
    parts = [who, sighting.category]
    if named is not None and named.fmr == named.fmr:
        parts.append(f"est. FMR {named.fmr:.1e}")
    if sighting.time_s is not None:
        parts.append(format_timecode(sighting.time_s))
    return " | ".join(parts)


def _file_name(sighting: Sighting) -> str:
    stem = re.sub(r"[^\w.-]+", "_", Path(sighting.path).stem)[:60]
    when = ""
    if sighting.time_s is not None:
        when = f"_{format_timecode(sighting.time_s).replace(':', '-')}"
    return f"{stem}{when}_face{sighting.face_id}.jpg"


def write_sighting_frames(sightings: list[Sighting], directory: Path) -> Iterator[FrameWritten]:
    """Write each sighting's frame with its box as ``<media>_<time>_face<id>.jpg``.

    A media file that cannot be read any more gives a ``failure``, not an error.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for sighting in sightings:
        try:
            image = draw_box(sighting_frame(sighting), sighting.xyxy, frame_label(sighting))
        except MediaError as error:
            yield FrameWritten(sighting.face_id, None, MediaFailure.from_error(error))
            continue
        target = directory / _file_name(sighting)
        with atomic_file(target) as handle:
            image.save(handle, format="JPEG", quality=90)
        yield FrameWritten(sighting.face_id, target)
