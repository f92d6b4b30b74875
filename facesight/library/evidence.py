"""Evidence the review pages serve by face id: crops, the frame with the box drawn, the media.

Only files the library knows are handed out: a face's crop and a reference's crop as the
database names them, a face's media file at the path it was last scanned at. A path from a
caller is never opened; an id the library does not know is a ``NotFoundError``.

The evidence frame is the whole picture the face was found in (a still decoded again with
the scan's safe loader, EXIF orientation applied, so the stored box fits; a video's frame at
the track's best time), the box and its label drawn as ``exports.frames`` draws them, at
most ``EVIDENCE_LONG_SIDE`` pixels on its long side. When the media file is gone, cannot be
read, or is no longer the picture that was scanned (another size), the stored crop is
served instead and ``EvidenceImage.source`` says so.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import MediaError, NotFoundError
from facesight.exports.frames import draw_box, frame_label
from facesight.media.browser import media_type
from facesight.media.images import load_image
from facesight.media.video import read_frame_at
from facesight.records import Sighting
from facesight.store.sqlite import Store
from facesight.timecode import format_timecode

__all__ = ["EVIDENCE_LONG_SIDE", "EvidenceImage", "EvidenceService", "MediaFile"]

EVIDENCE_LONG_SIDE = 1600
"""The long side of an evidence frame, in pixels: a full-HD screen shows it whole, and a
phone's 12-megapixel photo (4032 px) becomes a JPEG of a few hundred kB."""

_JPEG_QUALITY = 90


@dataclass(frozen=True)
class EvidenceImage:
    """An evidence frame as JPEG bytes and where its pixels came from: ``media file``,
    ``video frame at 00:00:03.200``, or ``stored crop (media file missing)`` (or
    ``... unreadable: <why>``, ``... changed``)."""

    jpeg: bytes
    source: str
    width_px: int
    height_px: int


@dataclass(frozen=True)
class MediaFile:
    """A face's media file as the library knows it.

    Attributes:
        path: where it was last scanned.
        mime: its MIME type, from its content (``facesight.media.browser``).
        kind: ``image`` or ``video``.
        browser_playable: a current browser shows it as it is; else show the evidence frame.
    """

    path: Path
    mime: str
    kind: str
    browser_playable: bool


class EvidenceService:
    """Crops, evidence frames and media files of stored faces, by id.

    Args:
        store: the library database.
        sighting: one stored face (``NotFoundError`` when unknown).
        max_pixels: refuse media with more pixels (as scans do).
    """

    def __init__(
        self, store: Store, sighting: Callable[[int], Sighting], *, max_pixels: int
    ) -> None:
        self.store = store
        self.sighting = sighting
        self.max_pixels = max_pixels

    def crop_file(self, face_id: int) -> Path:
        """The crop file of a stored face.

        Raises:
            NotFoundError: no stored face has this id, or no crop of it is kept.
        """
        return _existing(self.store.face_crop(face_id), f"face {face_id}")

    def reference_crop_file(self, reference_id: int) -> Path:
        """The crop file of an enrolled reference.

        Raises:
            NotFoundError: no reference has this id, or no crop of it is kept.
        """
        crops = self.store.reference_crops([reference_id])
        if reference_id not in crops:
            raise NotFoundError(f"no reference has id {reference_id}")
        return _existing(crops[reference_id], f"reference {reference_id}")

    def media_file(self, face_id: int) -> MediaFile:
        """The media file a stored face was found in, with its MIME type.

        Raises:
            NotFoundError: unknown face, or its media file is no longer where it was scanned.
            MediaError: the file is there but cannot be read as media of its kind.
        """
        sighting = self.sighting(face_id)
        path = Path(sighting.path)
        if not path.is_file():
            raise NotFoundError(
                f"face {face_id}: its media file is no longer at {path}; "
                "its evidence frame falls back to the stored crop"
            )
        found = media_type(path, sighting.kind)
        return MediaFile(path, found.mime, sighting.kind, found.browser_playable)

    def evidence_frame(self, face_id: int) -> EvidenceImage:
        """The picture the face was found in, its box and label drawn, as JPEG (see the
        module docstring); the stored crop when the media file cannot serve.

        Raises:
            NotFoundError: unknown face, or neither its media file nor its crop can serve.
        """
        sighting = self.sighting(face_id)
        try:
            pixels, source = self._frame(sighting)
        except _NoFrame as why:
            return self._crop_instead(sighting, str(why))
        image = _shrunk(Image.fromarray(pixels))
        scale = image.width / pixels.shape[1]
        box = tuple(v * scale for v in sighting.xyxy)
        drawn = draw_box(np.asarray(image), box, frame_label(sighting))
        return EvidenceImage(_jpeg(drawn), source, drawn.width, drawn.height)

    def _frame(self, sighting: Sighting) -> tuple[NDArray[np.uint8], str]:
        path = Path(sighting.path)
        if not path.exists():
            raise _NoFrame("media file missing")
        try:
            if sighting.kind == "video" and sighting.time_s is not None:
                pixels = read_frame_at(path, sighting.time_s, self.max_pixels)
                source = f"video frame at {format_timecode(sighting.time_s)}"
            else:
                pixels = load_image(path, self.max_pixels).pixels
                source = "media file"
        except MediaError as error:
            raise _NoFrame(f"media file unreadable: {error.problem}") from error
        height, width = pixels.shape[:2]
        scanned = (sighting.width_px, sighting.height_px)
        # a video's stored size is its coded size: a rotated one is shown upright, turned
        fits = sorted((width, height)) == sorted(scanned) if sighting.kind == "video" else None
        if not fits and (width, height) != scanned:
            # another picture under the scanned name: the stored box would point elsewhere
            raise _NoFrame(
                f"media file changed: {width}x{height}, scanned as "
                f"{sighting.width_px}x{sighting.height_px}"
            )
        return pixels, source

    def _crop_instead(self, sighting: Sighting, why: str) -> EvidenceImage:
        crop = sighting.crop_path
        if not crop or not Path(crop).is_file():
            raise NotFoundError(f"face {sighting.face_id}: {why}, and no crop of it is kept")
        try:
            with Image.open(crop) as opened:
                image = _shrunk(opened.convert("RGB"))
        except OSError as error:
            raise NotFoundError(f"face {sighting.face_id}: {why}, and its crop: {error}") from None
        return EvidenceImage(_jpeg(image), f"stored crop ({why})", image.width, image.height)


class _NoFrame(Exception):
    """The media file cannot give the evidence frame; the message says why."""


def _existing(path: str | None, what: str) -> Path:
    if path is None:
        raise NotFoundError(f"{what}: no crop of it is kept")
    found = Path(path)
    if not found.is_file():
        raise NotFoundError(f"{what}: its crop {found} is missing (`facesight doctor` checks)")
    return found


def _shrunk(image: Image.Image) -> Image.Image:
    long_side = max(image.size)
    if long_side <= EVIDENCE_LONG_SIDE:
        return image
    scale = EVIDENCE_LONG_SIDE / long_side
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # 4:4:4: chroma subsampling would smear the thin coloured box into the face around it
    image.save(out, format="JPEG", quality=_JPEG_QUALITY, subsampling=0)
    return out.getvalue()
