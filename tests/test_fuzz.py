"""Fuzzing the parsers of outside bytes: dlib ``.dat``, images, EXIF/XMP, video.

Each target takes a valid seed file, damages it the ways files are damaged
(bytes overwritten, cut short, bytes inserted; most edits land in the first
kilobyte, where headers are) and checks the one contract every reader has:
it returns a well-formed result or raises its ``FaceSightError`` subclass,
never anything else (no IndexError, OverflowError, struct.error, hang).

Bounded: ``FACESIGHT_FUZZ_EXAMPLES`` examples per target (default 60: all
targets in about 35 s on two cores), under the ``slow`` marker. Hypothesis's example
database is off: every crash found is kept as a regular, fast test in
``test_fuzz_found.py`` instead.

Deterministic by default (``derandomize``: the same examples every run, so a test
run, CI's included, never fails on a new random find); ``FACESIGHT_FUZZ_EXPLORE=1``
draws fresh random examples to look for new crashes, e.g.
``FACESIGHT_FUZZ_EXPLORE=1 FACESIGHT_FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facesight.errors import InvalidInputError, MediaError, ModelError
from facesight.exports.xmp import exif_orientation, write_sidecar
from facesight.media.video import probe_video, sample_frames
from facesight.vision.models.dlib_format import parse_dlib_net
from facesight.vision.models.dlib_resnet import DLIB_RESNET_V1
from facesight.vision.models.registry import DLIB_RESNET_FILE, dlib_model_path

from .fuzzing import IMAGE_SEEDS, VIDEO_SEED, Edit, check_image, damage, edits, face

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("FACESIGHT_FUZZ_EXAMPLES", "60"))
EXPLORE = os.environ.get("FACESIGHT_FUZZ_EXPLORE") == "1"
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not EXPLORE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    # hypothesis runs many examples in one test call: a module-wide folder, not tmp_path
    with tempfile.TemporaryDirectory(prefix="facesight-fuzz-") as folder:
        yield Path(folder)


@pytest.mark.parametrize("kind", sorted(IMAGE_SEEDS))
def test_fuzz_load_image(kind: str, scratch: Path) -> None:
    @FUZZ
    @given(plan=edits())
    def run(plan: list[Edit]) -> None:
        path = scratch / f"fuzz.{kind}"
        path.write_bytes(damage(IMAGE_SEEDS[kind], plan))
        check_image(path)

    run()


_TEXT = st.text(max_size=40)
_NUMBER = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.fractions(max_denominator=10**6),
)
_VALUE = st.one_of(_TEXT, _NUMBER, st.tuples(_NUMBER, _NUMBER, _NUMBER), st.binary(max_size=20))


@FUZZ
@given(
    when=st.one_of(_TEXT, st.binary(max_size=30)),
    gps=st.dictionaries(st.integers(0, 31), _VALUE, max_size=6),
    orientation=_VALUE,
)
def test_fuzz_exif_fields(when: object, gps: dict[int, object], orientation: object) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = when
    exif.get_ifd(0x8825).update(gps)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's, while writing the fixture
            face(32).save(buffer, format="JPEG", exif=exif)
    except (AttributeError, TypeError, ValueError, OverflowError, struct.error):
        return  # Pillow cannot write this value: not an input anyone can hand us
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exif.jpg"
        path.write_bytes(buffer.getvalue())
        check_image(path)
        assert 1 <= exif_orientation(path) <= 8


@FUZZ
@given(plan=edits())
def test_fuzz_exif_orientation(plan: list[Edit]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "o.jpg"
        path.write_bytes(damage(IMAGE_SEEDS["jpg"], plan))
        try:
            value = exif_orientation(path)
        except MediaError:
            return
        assert 1 <= value <= 8


@FUZZ
@given(plain=st.binary(max_size=5000), plan=edits(header=64), ours=st.booleans())
def test_fuzz_existing_sidecar(plain: bytes, plan: list[Edit], ours: bool) -> None:
    existing = damage(b'<x:xmpmeta x:xmptk="facesight ', plan) if ours else plain
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jpg.xmp"
        path.write_bytes(existing)
        try:
            write_sidecar(path, "<x:xmpmeta/>")
        except InvalidInputError:
            assert path.read_bytes() == existing  # another program's file is left alone
            return
        assert path.read_text(encoding="utf-8") == "<x:xmpmeta/>"


@FUZZ
@given(plan=edits(header=4096))
def test_fuzz_video_reader(plan: list[Edit]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        path.write_bytes(damage(VIDEO_SEED, plan))
        try:
            probe_video(path)
            frames = list(sample_frames(path, every_frame=True))
        except MediaError as error:
            assert error.path == str(path)
            return
        for frame in frames:
            assert frame.pixels.dtype == np.uint8 and frame.pixels.shape[2] == 3


@pytest.fixture(scope="module")
def weights() -> bytes:
    return dlib_model_path(DLIB_RESNET_FILE).read_bytes()


def test_fuzz_dlib_parser(weights: bytes) -> None:
    # edits land in the first 64 KiB: the structure (versions, shapes) before the big tensors
    @FUZZ
    @given(plan=edits(header=65536))
    def run(plan: list[Edit]) -> None:
        try:
            parse_dlib_net(damage(weights, plan), DLIB_RESNET_V1, source="fuzz.dat")
        except ModelError as error:
            assert "fuzz.dat" in str(error)

    run()
