"""What a web browser can show of a media file: its MIME type, sniffed from the content.

A still is opened by Pillow (its header only) and a video by PyAV (its container and first
video stream's codec); the file's name ending decides only between formats the content
shares (MP4 and MOV are one container family, told apart by the ``ftyp`` brand; Matroska
and WebM by the ending).

Which formats a browser plays is the common ground of current Chrome, Firefox and Safari
(MDN, "Media container formats" and "Web video codec guide"): MP4/M4V with H.264 or AV1,
WebM (VP8, VP9, AV1), Ogg (Theora, VP8), QuickTime MOV with H.264; JPEG, PNG, GIF, WebP,
AVIF and BMP stills. HEVC (Firefox and Chromium without OS support play none), AVI, MPEG-1/2
program streams, WMV/ASF, Matroska, HEIC/HEIF, TIFF and camera RAW are not: the review
pages show the evidence frame the server makes instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from facesight.errors import UnreadableMediaError, UnsupportedMediaError
from facesight.media.formats import HEIF_EXTENSIONS, RAW_EXTENSIONS, register_heif
from facesight.media.video import probe_video

__all__ = ["BROWSER_STILLS", "MediaType", "media_type"]

BROWSER_STILLS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP"})
"""Pillow format names of stills every current browser shows."""

_PLAYABLE_CODECS = {
    "mp4": frozenset({"h264", "av1"}),
    "mov": frozenset({"h264"}),
    "webm": frozenset({"vp8", "vp9", "av1"}),
    "ogg": frozenset({"theora", "vp8"}),
}
"""Video codecs a browser plays, per container (the module docstring's sources)."""

_VIDEO_MIME = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
    "ogg": "video/ogg",
    "avi": "video/x-msvideo",
    "mpeg": "video/mpeg",
    "mpegts": "video/mp2t",
    "asf": "video/x-ms-asf",
    "flv": "video/x-flv",
}


@dataclass(frozen=True)
class MediaType:
    """What a media file is, for a browser.

    Attributes:
        mime: the MIME type of the content (``image/jpeg``, ``video/mp4``, ...).
        browser_playable: a current browser shows it as it is (see the module docstring).
        format: the container or image format (``mp4``, ``avi``, ``JPEG``, ``HEIF``, ...).
        codec: a video's codec (``h264``, ``hevc``, ...); "" for a still.
    """

    mime: str
    browser_playable: bool
    format: str
    codec: str = ""


def media_type(path: str | Path, kind: str) -> MediaType:
    """The MIME type of ``path`` (a still for ``kind == "image"``, else a video) and
    whether a browser can show it.

    Raises:
        MediaError: the file cannot be read or is not media of that kind.
    """
    path = Path(path)
    return _still_type(path) if kind == "image" else _video_type(path)


def _still_type(path: Path) -> MediaType:
    suffix = path.suffix.lower()
    if suffix in RAW_EXTENSIONS:  # Pillow reads some RAW files as their TIFF preview
        return MediaType("image/x-raw", False, "RAW")
    register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                name = str(image.format or "")
    except (FileNotFoundError, PermissionError) as exc:
        raise UnreadableMediaError(path, f"cannot be read ({exc.strerror})") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UnsupportedMediaError(path, f"not an image Pillow can read ({exc})") from exc
    if name == "HEIF" or suffix in HEIF_EXTENSIONS:
        return MediaType("image/heic" if suffix == ".heic" else "image/heif", False, "HEIF")
    mime = Image.MIME.get(name) or f"image/{name.lower() or 'unknown'}"
    return MediaType(mime, name in BROWSER_STILLS, name)


def _video_type(path: Path) -> MediaType:
    info = probe_video(path)
    family = _container(path, info.container)
    codec = info.codec
    mime = _VIDEO_MIME.get(family, "application/octet-stream")
    playable = codec in _PLAYABLE_CODECS.get(family, frozenset())
    return MediaType(mime, playable, family, codec)


def _container(path: Path, demuxer: str) -> str:
    """Our name of the container FFmpeg's ``demuxer`` read ``path`` with."""
    names = set(demuxer.split(","))
    if "mp4" in names or "mov" in names:
        with path.open("rb") as handle:
            head = handle.read(12)
        return "mov" if head[4:8] == b"ftyp" and head[8:12] == b"qt  " else "mp4"
    if "webm" in names or "matroska" in names:
        return "webm" if path.suffix.lower() == ".webm" else "matroska"
    for name in ("ogg", "avi", "mpeg", "mpegts", "asf", "flv"):
        if name in names:
            return name
    if not demuxer:
        raise UnsupportedMediaError(path, "its container format is not known")
    return demuxer.split(",")[0]
