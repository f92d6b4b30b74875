"""Formats users have: high bit depths, HEIC/HEIF, camera RAW, and files a scan walks past.

Every fixture is made here, in ``tmp_path``, from one shared face photo.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray
from PIL import Image

from facesight.cli.main import cli
from facesight.errors import CorruptMediaError, UnsupportedMediaError
from facesight.library.facade import Library
from facesight.media.images import find_media, load_image
from facesight.vision.detect import FaceDetector

from .paths import PEOPLE

OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"


def _grey() -> NDArray[np.uint8]:
    with Image.open(OBAMA) as image:
        return np.asarray(image.convert("L"))


def _photo() -> Image.Image:
    with Image.open(OBAMA) as image:
        return image.convert("RGB")


def _mode(path: Path) -> str:
    with Image.open(path) as image:
        return image.mode


def _close_to_grey(pixels: NDArray[np.uint8], grey: NDArray[np.uint8], tolerance: int) -> None:
    assert pixels.shape == (*grey.shape, 3)
    diff = np.abs(pixels[:, :, 0].astype(int) - grey.astype(int))
    assert int(diff.max()) <= tolerance, int(diff.max())


def test_sixteen_bit_grey_png_scales_by_bit_depth(tmp_path: Path, detector: FaceDetector) -> None:
    grey = _grey()
    path = tmp_path / "deep.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)
    assert _mode(path).startswith("I;16")
    pixels = load_image(path).pixels
    _close_to_grey(pixels, grey, 0)
    assert len(detector.detect(pixels)) == 1


def test_thirty_two_bit_integer_tiff_scales_by_its_range(
    tmp_path: Path, detector: FaceDetector
) -> None:
    grey = _grey()
    path = tmp_path / "deep.tif"
    Image.fromarray(grey.astype(np.int32) * 100_000 - 5_000_000).save(path)
    assert _mode(path) == "I"
    pixels = load_image(path).pixels
    low, high = int(grey.min()), int(grey.max())
    expected = np.rint((grey.astype(float) - low) * 255 / (high - low)).astype(np.uint8)
    _close_to_grey(pixels, expected, 1)
    assert len(detector.detect(pixels)) == 1


def test_float_tiff_in_unit_range_scales_to_eight_bits(
    tmp_path: Path, detector: FaceDetector
) -> None:
    grey = _grey()
    path = tmp_path / "float.tif"
    Image.fromarray(grey.astype(np.float32) / 255.0).save(path)
    assert _mode(path) == "F"
    pixels = load_image(path).pixels
    _close_to_grey(pixels, grey, 1)
    assert len(detector.detect(pixels)) == 1


def test_float_tiff_with_nan_keeps_the_finite_pixels(tmp_path: Path) -> None:
    grey = _grey().astype(np.float32) * 3.0  # beyond 0..255: stretched by range
    grey[:10, :10] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(grey).save(path)
    pixels = load_image(path).pixels
    assert pixels[:10, :10].max() == 0
    assert pixels.max() == 255


def test_float_tiff_without_a_finite_value_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "nan.tif"
    Image.fromarray(np.full((20, 30), np.nan, np.float32)).save(path)
    with pytest.raises(CorruptMediaError, match="no finite pixel"):
        load_image(path)


def test_high_bit_depth_scan_finds_the_face_not_no_faces(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    grey = _grey()
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "a.png")
    Image.fromarray(grey.astype(np.int32) * 70_000).save(folder / "b.tif")
    Image.fromarray(grey.astype(np.float32) / 255.0).save(folder / "c.tif")
    summary = library.scan([folder])
    assert summary.media_scanned == 3
    assert summary.media_without_faces == 0
    assert summary.faces_found == 3


def test_animated_gif_is_read_on_its_first_frame(tmp_path: Path) -> None:
    photo = _photo()
    blank = Image.new("RGB", photo.size, (0, 0, 255))
    path = tmp_path / "anim.gif"
    other = Image.new("RGB", photo.size, (255, 0, 0))
    photo.save(path, save_all=True, append_images=[blank, other], duration=100)
    with Image.open(path) as image:
        assert image.n_frames == 3
    pixels = load_image(path).pixels
    assert abs(float(pixels.mean()) - float(np.asarray(photo).mean())) < 20


def test_heic_photo_is_decoded(tmp_path: Path, detector: FaceDetector) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")  # a core dependency: always installed
    photo = _photo()
    path = tmp_path / "phone.HEIC"
    pillow_heif.from_pillow(photo).save(path, quality=90)
    pixels = load_image(path).pixels
    assert pixels.shape == (photo.height, photo.width, 3)
    assert float(np.abs(pixels.astype(int) - np.asarray(photo, dtype=int)).mean()) < 8
    assert len(detector.detect(pixels)) == 1


def test_heic_folder_scans_as_images(library: Library, tmp_path: Path) -> None:
    import pillow_heif

    folder = tmp_path / "phone"
    folder.mkdir()
    photo = _photo()
    pillow_heif.from_pillow(photo).save(folder / "IMG_0001.heic", quality=90)
    pillow_heif.from_pillow(photo.rotate(5)).save(folder / "IMG_0002.HEIF", quality=90)
    summary = library.scan([folder])
    assert summary.media_scanned == 2
    assert summary.faces_found == 2
    assert not summary.failures


def _raw_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "camera"
    folder.mkdir()
    for name in ("a.CR2", "b.nef", "c.arw", "d.dng", "e.raf", "f.orf", "g.rw2"):
        (folder / name).write_bytes(b"not really raw" * 10)
    (folder / "a.CR2.xmp").write_text("<x:xmpmeta/>")
    (folder / "notes.txt").write_text("hello")
    (folder / "clip.mid").write_bytes(b"MThd")
    return folder


def test_raw_without_rawpy_is_counted_by_kind_not_ignored(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)  # as if facesight[raw] were not installed
    summary = library.scan([_raw_folder(tmp_path)])
    assert summary.walked_past == {"raw": 7, "sidecar": 1, "other": 2}
    assert summary.media_scanned == 0


def test_scan_summary_names_what_it_walked_past(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)
    folder = _raw_folder(tmp_path)
    result = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "scan", str(folder)])
    assert result.exit_code == 0, result.output
    assert (
        "Walked past 10 file(s) in the folders without opening them: 7 camera RAW "
        "(install facesight[raw] to read them), 1 sidecar (.xmp, .aae, .thm, .json), 2 other."
    ) in result.stdout


def test_raw_file_named_without_rawpy_is_a_failure_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)
    path = _raw_folder(tmp_path) / "b.nef"
    with pytest.raises(UnsupportedMediaError, match=r"facesight\[raw\]"):
        load_image(path)


def test_raw_with_rawpy_is_opened_and_bad_data_reported(library: Library, tmp_path: Path) -> None:
    pytest.importorskip("rawpy")
    folder = _raw_folder(tmp_path)
    assert len([p for p in find_media([folder]) if isinstance(p, Path)]) == 7
    summary = library.scan([folder])
    assert summary.walked_past == {"sidecar": 1, "other": 2}
    assert sorted(f.kind for f in summary.failures) == ["corrupt"] * 7


def test_heic_orientation_is_read_in_a_process_that_decoded_no_image(tmp_path: Path) -> None:
    # export-xmp reads orientation before (or without) decoding: HEIC must open there too
    import pillow_heif

    path = tmp_path / "phone.heic"
    pillow_heif.from_pillow(_photo()).save(path, quality=60)
    script = (
        "import sys; from facesight.exports.xmp import exif_orientation; "
        "print(exif_orientation(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def _write_dng(path: Path, rgb: NDArray[np.uint8]) -> None:
    """A minimal uncompressed DNG: the photo sampled through an RGGB Bayer filter, 16 bits."""
    h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    deep = rgb[:h, :w].astype(np.uint16) * 257
    mosaic = np.empty((h, w), np.uint16)
    mosaic[0::2, 0::2] = deep[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = deep[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = deep[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = deep[1::2, 1::2, 2]
    pixels = mosaic.astype("<u2").tobytes()
    model = b"facesight test\x00"
    formats = {1: "B", 2: "s", 3: "H", 4: "I"}
    tags = {  # tag: (TIFF type, values); 273 (strip offset) is filled in below
        254: (4, [0]), 256: (4, [w]), 257: (4, [h]), 258: (3, [16]), 259: (3, [1]),
        262: (3, [32803]), 271: (2, b"facesight\x00"), 272: (2, model), 273: (4, [0]),
        277: (3, [1]), 278: (4, [h]), 279: (4, [len(pixels)]), 284: (3, [1]),
        33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]), 50706: (1, [1, 4, 0, 0]),
        50708: (2, model),
    }  # fmt: skip
    extra_at = 8 + 2 + 12 * len(tags) + 4
    extra_size = sum(len(v) for t, v in tags.values() if t == 2 and len(v) > 4)
    tags[273] = (4, [extra_at + extra_size])
    entries, extra = b"", b""
    for tag, (kind, values) in sorted(tags.items()):
        args = [values] if kind == 2 else values  # "<15s" packs one bytes value
        raw = struct.pack(f"<{len(values)}{formats[kind]}", *args)
        if len(raw) > 4:
            entries += struct.pack("<HHII", tag, kind, len(values), extra_at + len(extra))
            extra += raw
        else:
            entries += struct.pack("<HHI", tag, kind, len(values)) + raw.ljust(4, b"\0")
    header = b"II*\0" + struct.pack("<IH", 8, len(tags))
    path.write_bytes(header + entries + struct.pack("<I", 0) + extra + pixels)


def test_raw_dng_is_demosaiced_and_its_face_found(tmp_path: Path, detector: FaceDetector) -> None:
    pytest.importorskip("rawpy")  # the [raw] extra; the test extra installs it
    photo = np.asarray(_photo())
    path = tmp_path / "camera.dng"
    _write_dng(path, photo)
    pixels = load_image(path).pixels
    assert pixels.shape == photo.shape
    assert len(detector.detect(pixels)) == 1
