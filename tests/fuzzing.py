"""Damaged files for fuzzing: valid seeds made from one shared face photo, and edits.

Shared by ``test_fuzz.py`` (hypothesis draws the edits) and ``test_fuzz_found.py``
(the edits of each crash found, replayed as regular tests).
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from hypothesis import strategies as st
from PIL import Image

from facesight.errors import MediaError
from facesight.media.images import LoadedImage, load_image

from .paths import PEOPLE

OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"

Edit = tuple[str, int, bytes]


def edits(header: int = 1024) -> st.SearchStrategy[list[Edit]]:
    """Up to 8 edits: (kind, position, bytes); positions are taken modulo the data's
    length when applied, half of them inside the first ``header`` bytes."""
    position = st.one_of(st.integers(0, header), st.integers(0, 2**31))
    kind = st.sampled_from(["overwrite", "cut", "insert"])
    edit = st.tuples(kind, position, st.binary(min_size=1, max_size=16))
    return st.lists(edit, max_size=8)


def damage(seed: bytes, plan: list[Edit]) -> bytes:
    """``seed`` with ``plan`` applied: a byte overwritten, the tail cut, bytes inserted."""
    data = bytearray(seed)
    for kind, position, chunk in plan:
        pos = position % max(len(data), 1)
        if kind == "overwrite" and data:
            data[pos] = chunk[0]
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = chunk
    return bytes(data)


def face(size: int = 96) -> Image.Image:
    """The shared face photo, RGB, resized to ``size`` x ``size``."""
    with Image.open(OBAMA) as image:
        return image.convert("RGB").resize((size, size))


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    exif.get_ifd(0x8825).update(
        {1: "N", 2: (Fraction(48), Fraction(51), Fraction(3)), 3: "E", 4: (2.0, 21.0, 0.5)}
    )
    return exif


def _image_seeds() -> dict[str, bytes]:
    photo = face()
    grey = np.asarray(photo.convert("L"))
    seeds: dict[str, bytes] = {}
    for name, image, options in (
        ("jpg", photo, {"format": "JPEG", "exif": _exif()}),
        ("png", Image.fromarray(grey.astype(np.uint16) * 257), {"format": "PNG"}),
        ("tif", Image.fromarray(grey.astype(np.float32) / 255), {"format": "TIFF"}),
        ("gif", photo, {"format": "GIF", "save_all": True, "append_images": [photo.rotate(90)]}),
        ("webp", photo, {"format": "WEBP", "exif": _exif()}),
        ("bmp", photo, {"format": "BMP"}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, **options)
        seeds[name] = buffer.getvalue()
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(photo).save(buffer, format="HEIF", quality=60)
    seeds["heic"] = buffer.getvalue()
    return seeds


IMAGE_SEEDS = _image_seeds()


def _video_seed() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            pixels = np.full((48, 64, 3), i * 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


VIDEO_SEED = _video_seed()


def check_image(path: Path) -> None:
    """load_image returns upright uint8 RGB with sane GPS, or raises MediaError naming ``path``."""
    try:
        loaded = load_image(path)
    except MediaError as error:
        assert error.path == str(path)
        return
    assert isinstance(loaded, LoadedImage)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.ndim == 3
    assert loaded.pixels.shape[2] == 3
    if loaded.gps is not None:
        assert -90 <= loaded.gps[0] <= 90 and -180 <= loaded.gps[1] <= 180
