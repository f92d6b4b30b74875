"""Every crash the fuzzer (``test_fuzz.py``) found, replayed as a regular test.

Each case is a seed from ``tests/fuzzing.py`` and the edits that broke a reader.
Images: damaged EXIF or TIFF tags made Pillow warn (a ``UserWarning`` naming no
file on stderr, an exception under ``-W error``) instead of decoding or failing
cleanly; a float TIFF holding a signalling NaN made numpy warn while scaling it.
Video: a damaged codec tag left the stream without a decoder, and ``probe_video``
raised AttributeError.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from PIL import Image

from facesight.errors import MediaError, UnsupportedMediaError
from facesight.exports.xmp import exif_orientation
from facesight.media.video import probe_video, sample_frames

from .fuzzing import IMAGE_SEEDS, VIDEO_SEED, Edit, check_image, damage

PILLOW_WARNS: list[tuple[str, list[Edit], str]] = [
    ("jpg", [("insert", 58, b"\x0c"), ("insert", 197, b"\xaf")], "Tag data larger than file"),
    ("jpg", [("insert", 37, b"\x89")], "Corrupt EXIF data"),
    ("jpg", [("overwrite", 47, b"4"), ("insert", 162, b"\x7f")], "Truncated File Read"),
    ("tif", [("overwrite", 112, b"\xc9"), ("overwrite", 124, b"C")], "Tag data larger"),
    ("tif", [("overwrite", 9, b"\x11"), ("insert", 74, b"`")], "Corrupt EXIF data"),
    ("tif", [("insert", 116, b"\xdb"), ("overwrite", 110, b"w")], "Truncated File Read"),
    ("tif", [("overwrite", 248, b"\xa8"), ("overwrite", 86, b"d")], "Metadata Warning"),
    ("tif", [("overwrite", 50, b"\xe2")], "Metadata Warning"),
]


def _pillow_warnings(data: bytes) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.getexif()
                image.load()
        except Exception:
            pass
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize(("kind", "plan", "warning"), PILLOW_WARNS)
def test_damaged_metadata_decodes_or_fails_without_a_warning(
    kind: str, plan: list[Edit], warning: str, tmp_path: Path
) -> None:
    data = damage(IMAGE_SEEDS[kind], plan)
    assert any(warning in w for w in _pillow_warnings(data))  # the case still reproduces
    path = tmp_path / f"damaged.{kind}"
    path.write_bytes(data)
    check_image(path)  # filterwarnings = error: a warning escaping fails here
    if kind == "jpg":
        try:
            assert 1 <= exif_orientation(path) <= 8
        except MediaError as error:
            assert error.path == str(path)


def test_float_tiff_with_a_signalling_nan_decodes_without_a_warning(tmp_path: Path) -> None:
    # 0x7f in a float's top byte (0x7f8xxxxx, quiet bit clear): numpy warned while casting
    path = tmp_path / "snan.tif"
    path.write_bytes(
        damage(IMAGE_SEEDS["tif"], [("overwrite", 414865, b"\x7f"), ("insert", 127, bytes(6))])
    )
    check_image(path)


def test_video_with_a_damaged_codec_tag_is_unsupported_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(damage(VIDEO_SEED, [("insert", 1110, b"\x01")]))
    with pytest.raises(UnsupportedMediaError, match="codec FFmpeg cannot decode"):
        probe_video(path)
    with pytest.raises(UnsupportedMediaError):
        list(sample_frames(path))


def test_video_whose_metadata_is_not_utf8_is_read_not_a_crash(tmp_path: Path) -> None:
    # found by test_fuzz_video_reader: a byte 0x80 in the container's metadata made
    # PyAV raise UnicodeDecodeError while opening the file
    path = tmp_path / "clip.mp4"
    path.write_bytes(damage(VIDEO_SEED, [("overwrite", 8, b"\x80")]))
    try:
        info = probe_video(path)
    except MediaError as error:
        assert str(path) in str(error)
    else:
        assert info.frames > 0 or info.duration_s > 0
