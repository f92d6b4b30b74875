"""Finding input files, hashing them and decoding images safely.

Everything here is about files, never about faces. Formats are sniffed by
content (Pillow), not trusted from the extension; pixel counts are checked
from the header before any pixel is decoded, so a decompression bomb costs
nothing; EXIF orientation is applied and EXIF capture time / GPS position kept.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from facesight.defaults import DEFAULT_MAX_PIXELS
from facesight.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    MediaError,
    UnreadableMediaError,
    UnsupportedMediaError,
)
from facesight.files import sha256_stream
from facesight.media.formats import (
    HEIF_EXTENSIONS,
    RAW_EXTENSIONS,
    load_raw,
    raw_supported,
    register_heif,
    to_rgb8,
    walked_past_kind,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "LoadedImage",
    "find_media",
    "load_image",
    "sha256_of",
    "still_extensions",
]


IMAGE_EXTENSIONS = (
    frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
    | HEIF_EXTENSIONS
)
"""Stills decoded through Pillow (HEIC/HEIF through pillow-heif); camera RAW is apart."""


def still_extensions() -> frozenset[str]:
    """Still-image name endings this installation decodes: RAW only with ``facesight[raw]``."""
    return IMAGE_EXTENSIONS | RAW_EXTENSIONS if raw_supported() else IMAGE_EXTENSIONS


_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132


@dataclass(frozen=True)
class LoadedImage:
    """A decoded still image, upright, with what its metadata told us.

    Attributes:
        pixels: (H, W, 3) uint8 RGB, EXIF orientation applied.
        captured_at: EXIF DateTimeOriginal as ISO 8601 (no zone), or None.
        gps: (latitude, longitude) in decimal degrees, or None.
    """

    pixels: NDArray[np.uint8]
    captured_at: str | None = None
    gps: tuple[float, float] | None = None

    @property
    def width_px(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.pixels.shape[0])


def find_media(
    roots: Iterable[str | Path],
    extensions: frozenset[str] | None = None,
    walked_past: dict[str, int] | None = None,
    *,
    skip_dir: Path | None = None,
    follow_links: bool = True,
    on_skip: Callable[[Path], None] | None = None,
) -> Iterator[Path | MediaError]:
    """Yield every candidate file under ``roots`` (files or folders, recursive).

    Candidates are chosen by extension (default: ``still_extensions()``);
    their content is checked later when decoded. Problems (missing paths,
    broken symlinks, symlink loops, folders that cannot be listed) are yielded
    as ``MediaError`` values, not raised, so one bad entry never stops the
    walk. Each real folder is entered once. Files inside folders that are not
    candidates are counted into ``walked_past`` by kind ('raw', 'sidecar',
    'other'), so nothing is passed over unsaid.

    Args:
        skip_dir: a folder never entered, however it is reached (the library's
            own, so a scan never ingests its crops); ``on_skip`` is told each time.
        follow_links: enter symlinked folders and read symlinked files met
            below the roots (the roots themselves are always followed).
    """
    seen_dirs: set[tuple[int, int]] = set()
    wanted = still_extensions() if extensions is None else extensions
    skip_real = None if skip_dir is None else os.path.realpath(skip_dir)
    rules = _WalkRules(
        wanted, seen_dirs, follow_links, _dir_key(skip_dir), skip_real, on_skip, walked_past
    )
    for root in roots:
        yield from _walk(Path(root), rules, explicit=True)


@dataclass(frozen=True)
class _WalkRules:
    extensions: frozenset[str]
    seen_dirs: set[tuple[int, int]]
    follow_links: bool
    skip: tuple[int, int] | None
    skip_real: str | None
    on_skip: Callable[[Path], None] | None
    walked_past: dict[str, int] | None


def _dir_key(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None  # a library not created yet holds nothing to skip
    return (info.st_dev, info.st_ino)


def _walk(path: Path, rules: _WalkRules, explicit: bool) -> Iterator[Path | MediaError]:
    if not explicit and not rules.follow_links and path.is_symlink():
        return
    try:
        info = path.stat()
    except OSError as exc:
        yield _stat_error(path, exc)
        return
    if stat.S_ISDIR(info.st_mode):
        key = (info.st_dev, info.st_ino)
        if key == rules.skip:
            if rules.on_skip is not None:
                rules.on_skip(path)
            return
        if key in rules.seen_dirs:
            if path.is_symlink():
                yield UnreadableMediaError(path, "symlink loop: this folder was already scanned")
            return
        rules.seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            yield UnreadableMediaError(path, f"cannot list folder: {exc.strerror or exc}")
            return
        for entry in entries:
            yield from _walk(Path(entry.path), rules, explicit=False)
    elif explicit or path.suffix.lower() in rules.extensions:
        if rules.skip_real is not None and not explicit and path.is_symlink():
            real = os.path.realpath(path)
            if os.path.commonpath([real, rules.skip_real]) == rules.skip_real:
                return  # a link to one of the library's own files (a crop)
        yield path
    elif rules.walked_past is not None:
        kind = walked_past_kind(path)
        rules.walked_past[kind] = rules.walked_past.get(kind, 0) + 1


def _stat_error(path: Path, exc: OSError) -> MediaError:
    if path.is_symlink():
        try:
            os.stat(path)
        except OSError as inner:
            if inner.errno == 40:  # ELOOP
                return UnreadableMediaError(path, "symlink loop")
        return UnreadableMediaError(path, f"broken symlink (points to {os.readlink(path)})")
    if isinstance(exc, FileNotFoundError):
        return UnreadableMediaError(path, "no such file or folder")
    return UnreadableMediaError(path, f"cannot read: {exc.strerror or exc}")


def _open_regular(path: Path) -> Any:
    """Open a regular file for reading; FIFOs and devices are refused before open()."""
    try:
        info = path.stat()
    except OSError as exc:
        raise _stat_error(path, exc) from exc
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableMediaError(path, "not a regular file (device, pipe or socket)")
    try:
        return path.open("rb")
    except OSError as exc:
        raise UnreadableMediaError(path, f"cannot read: {exc.strerror or exc}") from exc


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's content: the identity of a media file in the store."""
    with _open_regular(path) as handle:
        try:
            return sha256_stream(handle)
        except OSError as exc:
            raise UnreadableMediaError(path, f"read error: {exc.strerror or exc}") from exc


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode one still image safely into upright RGB pixels.

    Raises a ``MediaError`` subclass naming the file and the problem: empty,
    truncated or undecodable data, content that is not an image, more than
    ``max_pixels`` pixels (checked from the header, before decoding), or a
    file that cannot be read. High bit depths are scaled to 8 bits, HEIC/HEIF
    and camera RAW (with ``facesight[raw]``) decoded, and an animated image
    read on its first frame: see ``facesight.media.formats``.
    """
    path = Path(path)
    with _open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise CorruptMediaError(path, "empty file (0 bytes)")
        if path.suffix.lower() in RAW_EXTENSIONS:
            return LoadedImage(pixels=load_raw(path, max_pixels))
        with warnings.catch_warnings():
            # We enforce our own pixel limit below; Pillow's warning would be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Damaged metadata makes Pillow warn and go on (found by tests/test_fuzz.py);
            # the pixels still decode, and a warning naming no file helps nobody.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            image = _open_image(path, handle, max_pixels)
            try:
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # a copy saved per image
                pixels = to_rgb8(image, path)
            except (OSError, ValueError, SyntaxError) as exc:
                raise CorruptMediaError(path, f"cannot decode {image.format} data: {exc}") from exc
            captured_at, gps = _read_exif(image)
    return LoadedImage(pixels=pixels, captured_at=captured_at, gps=gps)


def _open_image(path: Path, handle: Any, max_pixels: int) -> Image.Image:
    register_heif()
    try:
        image = Image.open(handle)
    except UnidentifiedImageError as exc:
        head = _describe_head(path)
        raise UnsupportedMediaError(path, f"not an image Pillow can decode ({head})") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(path, str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptMediaError(path, f"cannot decode image header: {exc}") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            path,
            f"{width}x{height} = {width * height:,} pixels is over the limit of "
            f"{max_pixels:,} (raise --max-pixels if the image is genuine)",
        )
    return image


def _describe_head(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return "content unreadable"
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return "looks like text" if printable else f"starts with bytes {head.hex(' ')}"


def _read_exif(image: Image.Image) -> tuple[str | None, tuple[float, float] | None]:
    try:
        exif = image.getexif()
        when = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
        return _parse_exif_time(when), _parse_gps(exif.get_ifd(_GPS_IFD))
    except Exception:  # broken EXIF never makes an image unusable
        return None, None


def _parse_exif_time(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _parse_gps(gps: dict[int, Any]) -> tuple[float, float] | None:
    # GPS IFD tags: 1 LatitudeRef, 2 Latitude, 3 LongitudeRef, 4 Longitude.
    if not all(tag in gps for tag in (1, 2, 3, 4)):
        return None

    def degrees(dms: Any, ref: str, negative: str) -> float:
        d, m, s = (float(x) for x in dms)
        value = d + m / 60.0 + s / 3600.0
        return -value if ref.upper().startswith(negative) else value

    lat = degrees(gps[2], str(gps[1]), "S")
    lon = degrees(gps[4], str(gps[3]), "W")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lat, 7), round(lon, 7)
