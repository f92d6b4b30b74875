"""Still-image formats beyond 8-bit RGB: high bit depth, HEIC/HEIF, camera RAW.

``media.load_image`` decodes through here. What each format becomes:

- 16-bit greyscale (PNG, TIFF): scaled by its bit depth (``value / 257``), so
  the full 0..65535 range maps onto 0..255 instead of saturating at 255, as
  Pillow's own ``convert("RGB")`` does.
- 32-bit integer and 32-bit float greyscale (TIFF): scaled by the range the
  data occupies. Integers within 0..255 or 0..65535 are taken as 8- or 16-bit
  data in a wider container; floats within 0..1 as normalised intensities;
  anything else is stretched from its minimum to its maximum. Non-finite
  values (NaN, infinity) become black; an image with no finite value at all is
  refused as corrupt, never analysed as a blank picture.
- HEIC/HEIF (phones): decoded by pillow-heif, registered with Pillow on first use.
- Camera RAW: demosaiced by rawpy (the optional ``facesight[raw]`` extra) with
  the camera's white balance, 8 bits per channel. Without rawpy a RAW file is
  refused with the install hint; a folder scan counts such files by type
  instead of opening them (``walked_past_kind``).

An animated GIF (or APNG, multi-page TIFF) is analysed on its first frame only:
facesight's records for a still have no frame times, and animated GIFs are
mostly short loops whose faces are in the first frame too. Convert one to a
video (``ffmpeg -i in.gif out.mp4``) to have every frame analysed with timecodes.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import CorruptMediaError, ImageTooLargeError, UnsupportedMediaError

__all__ = [
    "HEIF_EXTENSIONS",
    "RAW_EXTENSIONS",
    "SIDECAR_EXTENSIONS",
    "load_raw",
    "raw_supported",
    "register_heif",
    "to_rgb8",
    "walked_past_kind",
]

HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})

RAW_EXTENSIONS = frozenset(
    {
        ".3fr", ".ari", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq",
        ".k25", ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf",
        ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
    }
)  # fmt: skip
"""Camera RAW file name endings (LibRaw's list, which rawpy wraps)."""

SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae", ".thm", ".json"})
"""Files cameras, phones and photo tools keep beside a photo: walked past, counted apart."""

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def to_rgb8(image: Image.Image, path: Path) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB of a decoded Pillow image, high bit depths scaled (see module)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image).astype(np.float64) / 257.0
    elif image.mode in ("I", "F"):
        grey = _scale_by_range(np.asarray(image), path)
    else:  # convert() copies even an RGB image: a 12 MP photo's 36 MB
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return np.asarray(rgb, dtype=np.uint8)
    eight = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(eight[:, :, None], 3, axis=2)


def _scale_by_range(values: NDArray[np.generic], path: Path) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore"):  # a signalling NaN warns when cast (test_fuzz.py)
        data = values.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        raise CorruptMediaError(path, "no finite pixel value (all NaN or infinite)")
    data = np.where(finite, data, np.nan)
    low, high = float(np.nanmin(data)), float(np.nanmax(data))
    if values.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        scaled = data * 255.0
    elif values.dtype.kind in "iu" and low >= 0 and high <= 255:
        scaled = data
    elif values.dtype.kind in "iu" and low >= 0 and high <= 65535:
        scaled = data / 257.0
    elif high > low:
        scaled = (data - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(data)
    return np.nan_to_num(scaled, nan=0.0)


@functools.cache
def register_heif() -> bool:
    """Teach Pillow HEIC/HEIF (once per process); False when pillow-heif is missing."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def raw_supported() -> bool:
    """True when rawpy (the ``facesight[raw]`` extra) is installed."""
    try:
        import rawpy  # noqa: F401
    except ImportError:
        return False
    return True


def load_raw(path: Path, max_pixels: int) -> NDArray[np.uint8]:
    """Demosaic a camera RAW file into (H, W, 3) uint8 RGB with the camera's white balance."""
    try:
        import rawpy
    except ImportError as exc:
        raise UnsupportedMediaError(
            path, f"camera RAW ({path.suffix.lower()}) needs rawpy: pip install 'facesight[raw]'"
        ) from exc
    try:
        with rawpy.imread(str(path)) as raw:
            height, width = raw.sizes.height, raw.sizes.width
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    path,
                    f"{width}x{height} = {width * height:,} pixels is over the limit of "
                    f"{max_pixels:,} (raise --max-pixels if the image is genuine)",
                )
            rgb = raw.postprocess(use_camera_wb=True, output_bps=8)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise CorruptMediaError(path, f"cannot decode camera RAW data: {exc}") from exc
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def walked_past_kind(path: Path) -> str:
    """Why a folder scan does not open ``path``: 'raw' (rawpy missing), 'sidecar' or 'other'."""
    suffix = path.suffix.lower()
    if suffix in RAW_EXTENSIONS:
        return "raw"
    if suffix in SIDECAR_EXTENSIONS:
        return "sidecar"
    return "other"
