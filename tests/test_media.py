"""Finding and decoding media: every kind of bad input gets a specific error."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesight.errors import (
    CorruptMediaError,
    ImageTooLargeError,
    MediaError,
    UnreadableMediaError,
    UnsupportedMediaError,
)
from facesight.media.images import find_media, load_image, sha256_of

from .paths import PEOPLE

OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"


def _jpeg(path: Path, size: tuple[int, int] = (64, 48), exif: Image.Exif | None = None) -> Path:
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)  # left half red, to check orientation
    exif = exif if exif is not None else Image.Exif()
    Image.fromarray(pixels).save(path, format="JPEG", exif=exif)
    return path


def test_load_image_real_photo_is_rgb_uint8() -> None:
    image = load_image(OBAMA)
    assert image.pixels.dtype == np.uint8
    assert image.pixels.ndim == 3 and image.pixels.shape[2] == 3
    assert image.width_px > 100 and image.height_px > 100


def test_load_image_empty_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(CorruptMediaError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(path)


def test_load_image_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "truncated.jpg"
    path.write_bytes(OBAMA.read_bytes()[:3000])
    with pytest.raises(CorruptMediaError, match=r"truncated\.jpg: cannot decode"):
        load_image(path)


def test_load_image_garbage_with_image_extension_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "random.png"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedMediaError, match=r"random\.png: not an image"):
        load_image(path)


def test_load_image_text_file_named_jpg_says_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are my notes, not a photo\n")
    with pytest.raises(UnsupportedMediaError, match="looks like text"):
        load_image(path)


def test_load_image_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (13000, 12000)).save(path)  # 156 MP, a few KB on disk
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageTooLargeError, match=r"13000x12000 = 156,000,000 pixels"):
        load_image(path)


def test_load_image_custom_pixel_limit(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "small.jpg")
    with pytest.raises(ImageTooLargeError, match="over the limit of 100"):
        load_image(path, max_pixels=100)


def test_load_image_fifo_is_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    with pytest.raises(UnreadableMediaError, match="not a regular file"):
        load_image(path)  # would block forever if opened


def _load_as_nobody(path: Path) -> str:
    """Run load_image in a forked child that dropped root, and return the error text."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, try, report, exit without cleanup
        message = "no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            load_image(path)
        except UnreadableMediaError as error:
            message = str(error)
        except BaseException as error:
            message = f"unexpected {type(error).__name__}: {error}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        return pipe.read()


def test_load_image_unreadable_file_names_permission(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="facesight-perm-"))
    try:
        folder.chmod(0o755)
        path = _jpeg(folder / "secret.jpg")
        path.chmod(0)
        if os.geteuid() == 0:  # root reads everything: ask as an unprivileged user
            message = _load_as_nobody(path)
        else:
            with pytest.raises(UnreadableMediaError) as caught:
                load_image(path)
            message = str(caught.value)
        assert message == f"{path}: cannot read: Permission denied"
    finally:
        shutil.rmtree(folder)


def test_find_media_reports_broken_symlink_and_loop(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    (root / "sub").mkdir(parents=True)
    good = _jpeg(root / "sub" / "a.jpg")
    (root / "dangling.jpg").symlink_to(root / "missing.jpg")
    (root / "sub" / "loop").symlink_to(root)
    (root / "self.jpg").symlink_to(root / "self.jpg")
    (root / "readme.txt").write_text("ignored: not an image extension")
    found = list(find_media([root]))
    paths = [f for f in found if isinstance(f, Path)]
    errors = {Path(e.path).name: e.problem for e in found if isinstance(e, MediaError)}
    assert paths == [good]
    assert errors["dangling.jpg"].startswith("broken symlink")
    assert errors["self.jpg"] == "symlink loop"
    assert errors["loop"].startswith("symlink loop")


def test_find_media_missing_root_is_an_error_not_an_exception(tmp_path: Path) -> None:
    [error] = list(find_media([tmp_path / "nowhere"]))
    assert isinstance(error, UnreadableMediaError)
    assert "no such file" in str(error)


def test_load_image_applies_exif_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image = load_image(_jpeg(tmp_path / "rotated.jpg", size=(64, 48), exif=exif))
    assert (image.width_px, image.height_px) == (48, 64)
    assert image.pixels[2, 24, 0] > 200 and image.pixels[-3, 24, 0] < 60  # red half now on top


def test_load_image_reads_capture_time_and_gps(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 14:03:09"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.88)
    gps[3], gps[4] = "W", (2.0, 17.0, 40.2)
    image = load_image(_jpeg(tmp_path / "geo.jpg", exif=exif))
    assert image.captured_at == "2021-06-05T14:03:09"
    assert image.gps is not None
    assert image.gps[0] == pytest.approx(48.8583, abs=1e-4)
    assert image.gps[1] == pytest.approx(-2.2945, abs=1e-4)


def test_sha256_of_identifies_content_not_name(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.jpeg"
    copy.write_bytes(OBAMA.read_bytes())
    assert sha256_of(copy) == sha256_of(OBAMA)
