"""XMP sidecars: MWG face regions from real detections, read back by ExifTool."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from facesight.errors import InvalidInputError, UnreadableMediaError, UnsupportedMediaError
from facesight.exports.xmp import (
    FaceRegion,
    exif_orientation,
    sidecar_path,
    sidecar_paths,
    write_sidecar,
    xmp_sidecar,
)
from facesight.media.images import load_image
from facesight.vision.detect import FaceDetector

from .paths import GROUP, PEOPLE
from .tools import read_xmp

COUPLE = GROUP / "deepface_couple.jpg"
ODD_NAMES = ['Zoë "Q" <O\'Brien> & Co', "李小龍", "Ελένη\tΠαπαδοπούλου", "José 🙂"]  # noqa: RUF001
# PIL's transpose that turns a stored image upright, per EXIF orientation (as exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# ... and the one that makes the stored image from an upright one.
STORED = {**UPRIGHT, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def _regions(info: dict[str, object]) -> tuple[dict[str, object], list[dict[str, object]]]:
    region_info = info["RegionInfo"]
    assert isinstance(region_info, dict)
    return region_info["AppliedToDimensions"], region_info["RegionList"]


def test_sidecar_of_real_faces_reads_back_in_exiftool(
    tmp_path: Path, detector: FaceDetector, exiftool: str
) -> None:
    image = load_image(COUPLE)
    faces = detector.detect(image.pixels)
    assert len(faces) == 2
    boxes = [tuple(float(v) for v in faces.xyxy[i]) for i in range(2)]
    regions = [FaceRegion(name, box) for name, box in zip(["Anna", "Ben"], boxes, strict=True)]  # type: ignore[arg-type]
    path = sidecar_path(COUPLE, tmp_path)
    write_sidecar(path, xmp_sidecar(regions, image.width_px, image.height_px))
    assert path.name == "deepface_couple.jpg.xmp"
    ET.parse(path)  # well-formed XML

    (info,) = read_xmp(exiftool, path)
    dims, listed = _regions(info)
    assert dims == {"W": image.width_px, "H": image.height_px, "Unit": "pixel"}
    assert [r["Name"] for r in listed] == ["Anna", "Ben"]
    assert info["PersonInImage"] == ["Anna", "Ben"]
    for region, (x1, y1, x2, y2) in zip(listed, boxes, strict=True):
        area = region["Area"]
        assert isinstance(area, dict) and region["Type"] == "Face"
        assert area["Unit"] == "normalized"
        # stArea x/y are the box centre, w/h its size, as fractions of the image.
        assert area["X"] == pytest.approx((x1 + x2) / 2 / image.width_px, abs=1e-6)
        assert area["Y"] == pytest.approx((y1 + y2) / 2 / image.height_px, abs=1e-6)
        assert area["W"] == pytest.approx((x2 - x1) / image.width_px, abs=1e-6)
        assert area["H"] == pytest.approx((y2 - y1) / image.height_px, abs=1e-6)


def test_special_characters_in_names_round_trip(tmp_path: Path, exiftool: str) -> None:
    regions = [
        FaceRegion(name, (10.0 * i, 10.0, 10.0 * i + 8, 18.0)) for i, name in enumerate(ODD_NAMES)
    ]
    path = tmp_path / "odd.jpg.xmp"
    write_sidecar(path, xmp_sidecar(regions, 100, 50))
    ET.parse(path)
    (info,) = read_xmp(exiftool, path)
    _, listed = _regions(info)
    assert [r["Name"] for r in listed] == ODD_NAMES
    assert info["PersonInImage"] == ODD_NAMES


def test_unnamed_face_has_a_region_but_no_person(tmp_path: Path, exiftool: str) -> None:
    path = tmp_path / "x.jpg.xmp"
    regions = [FaceRegion("", (0, 0, 10, 10)), FaceRegion("Ann", (10, 0, 20, 10))]
    write_sidecar(path, xmp_sidecar(regions, 40, 20))
    (info,) = read_xmp(exiftool, path)
    _, listed = _regions(info)
    assert ["Name" in r for r in listed] == [False, True]
    assert info["PersonInImage"] == "Ann" or info["PersonInImage"] == ["Ann"]


def test_boxes_are_clipped_to_the_image(tmp_path: Path, exiftool: str) -> None:
    path = tmp_path / "edge.jpg.xmp"
    write_sidecar(path, xmp_sidecar([FaceRegion("Edge", (-10, -20, 50, 40))], 100, 80))
    (info,) = read_xmp(exiftool, path)
    _, (region,) = _regions(info)
    assert region["Area"] == {"X": 0.25, "Y": 0.25, "W": 0.5, "H": 0.5, "Unit": "normalized"}


def _save_oriented(upright: Image.Image, orientation: int, path: Path) -> None:
    stored = upright.transpose(STORED[orientation]) if orientation in STORED else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, format="PNG", exif=exif, compress_level=1)


def test_regions_follow_exif_orientation_to_stored_pixels(
    tmp_path: Path, detector: FaceDetector, exiftool: str
) -> None:
    upright_pixels = load_image(PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg").pixels
    x1, y1, x2, y2 = (round(float(v)) for v in detector.detect(upright_pixels).xyxy[0])
    upright = Image.fromarray(upright_pixels)
    height, width = upright_pixels.shape[:2]
    paths = []
    for orientation in range(1, 9):
        media = tmp_path / f"photo{orientation}.png"
        _save_oriented(upright, orientation, media)
        # Our loader turns it upright again and we read the tag it did that with.
        assert np.array_equal(load_image(media).pixels, upright_pixels)
        assert exif_orientation(media) == orientation
        packet = xmp_sidecar(
            [FaceRegion("Obama", (x1, y1, x2, y2))], width, height, orientation=orientation
        )
        write_sidecar(sidecar_path(media, tmp_path), packet)
        paths.append(sidecar_path(media, tmp_path))

    want = upright_pixels[y1:y2, x1:x2]
    for orientation, info in enumerate(read_xmp(exiftool, *paths), start=1):
        dims, (region,) = _regions(info)
        stored = np.asarray(Image.open(tmp_path / f"photo{orientation}.png").convert("RGB"))
        assert (dims["W"], dims["H"]) == (stored.shape[1], stored.shape[0])
        crop = _stored_crop(stored, region["Area"])  # type: ignore[arg-type]
        if orientation in UPRIGHT:
            crop = np.asarray(Image.fromarray(crop).transpose(UPRIGHT[orientation]))
        assert np.array_equal(crop, want), f"orientation {orientation}"


def _stored_crop(stored: NDArray[np.uint8], area: dict[str, float]) -> NDArray[np.uint8]:
    height, width = stored.shape[:2]
    left = round((area["X"] - area["W"] / 2) * width)
    top = round((area["Y"] - area["H"] / 2) * height)
    right, bottom = left + round(area["W"] * width), top + round(area["H"] * height)
    return stored[top:bottom, left:right]


def test_exif_orientation_defaults_and_errors(tmp_path: Path) -> None:
    assert exif_orientation(PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg") == 1
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(UnsupportedMediaError):
        exif_orientation(text)
    with pytest.raises(UnreadableMediaError):
        exif_orientation(tmp_path / "missing.jpg")


def test_sidecar_names_keep_the_media_file_name() -> None:
    assert sidecar_path("/photos/2020/IMG_1.JPG", "/out") == Path("/out/IMG_1.JPG.xmp")
    digest = hashlib.sha256(b"/photos/2020/IMG_1.JPG").hexdigest()[:8]
    assert sidecar_path("/photos/2020/IMG_1.JPG", "/out", unique=True) == Path(
        f"/out/IMG_1-{digest}.JPG.xmp"
    )
    with pytest.raises(InvalidInputError):
        sidecar_path("/", "/out")


def test_shared_file_names_get_path_hashes_in_any_order(tmp_path: Path) -> None:
    media = ["/a/photo.jpg", "/b/photo.jpg", "/c/PHOTO.jpg", "/d/other.jpg", "/a/photo.jpg"]
    names = sidecar_paths(media, tmp_path)
    assert list(names) == ["/a/photo.jpg", "/b/photo.jpg", "/c/PHOTO.jpg", "/d/other.jpg"]
    assert names["/d/other.jpg"] == tmp_path / "other.jpg.xmp"
    hashed = [names[p].name for p in media[:3]]
    assert len({n.casefold() for n in hashed}) == 3
    assert all(n.endswith(".jpg.xmp") and n != "photo.jpg.xmp" for n in hashed)
    assert sidecar_paths(reversed(media), tmp_path) == names
    for path in names.values():
        write_sidecar(path, xmp_sidecar([], 10, 10))
    assert len(list(tmp_path.iterdir())) == 4


def test_write_sidecar_replaces_its_own_but_not_another_programs(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg.xmp"
    write_sidecar(path, xmp_sidecar([FaceRegion("A", (0, 0, 5, 5))], 10, 10))
    write_sidecar(path, xmp_sidecar([FaceRegion("B", (0, 0, 5, 5))], 10, 10))
    assert 'mwg-rs:Name="B"' in path.read_text(encoding="utf-8")
    foreign = '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2"></x:xmpmeta>'
    path.write_text(foreign, encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not written by facesight"):
        write_sidecar(path, xmp_sidecar([], 10, 10))
    assert path.read_text(encoding="utf-8") == foreign
    assert [p.name for p in tmp_path.iterdir()] == ["photo.jpg.xmp"]  # no temp file left


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FaceRegion("A", (5, 5, 5, 9)), "x2 > x1"),
        (lambda: FaceRegion("A", (0, 0, float("nan"), 9)), "finite"),
        (lambda: FaceRegion("A\x00B", (0, 0, 4, 4)), "control characters"),
        (lambda: xmp_sidecar([FaceRegion("A", (20, 20, 30, 30))], 10, 10), "outside"),
        (lambda: xmp_sidecar([], 0, 10), "positive"),
        (lambda: xmp_sidecar([], 10, 10, orientation=9), "1-8"),
    ],
)
def test_bad_regions_and_sizes_are_refused(make: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()  # type: ignore[operator]
