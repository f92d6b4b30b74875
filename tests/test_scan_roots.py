"""What a scan walks: never the library itself, missing roots are errors, symlinks as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesight.cli.main import cli
from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))
OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*.jpg"))[0]


def _media_count(library: Library) -> int:
    return int(library.store.query("SELECT COUNT(*) AS n FROM media")[0]["n"])


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """A folder of two real photos (copied into the test's temporary folder)."""
    folder = tmp_path / "collection"
    folder.mkdir()
    for image in BIDEN[:2]:
        shutil.copy(image, folder / image.name)
    return folder


def test_a_library_inside_the_scanned_folder_is_never_ingested(
    collection: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(collection / "lib", detector=detector, embedder=embedder) as library:
        counts = []
        for _ in range(3):
            summary = library.scan([collection])
            counts.append(_media_count(library))
            assert summary.library_skipped == 1
        assert counts == [2, 2, 2]
        with pytest.raises(InvalidInputError, match="inside the library"):
            library.scan([collection / "lib" / "crops"])


def test_a_symlink_into_the_library_is_never_followed(
    collection: Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        library.scan([collection])
        (collection / "lib-link").symlink_to(tmp_path / "lib", target_is_directory=True)
        crop = sorted((tmp_path / "lib" / "crops").rglob("*.jpg"))[0]
        (collection / "crop-link.jpg").symlink_to(crop)
        summary = library.scan([collection])
        assert summary.library_skipped == 1 and _media_count(library) == 2


def test_symlinked_folders_are_followed_unless_told_not_to(
    collection: Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(OBAMA, elsewhere / "third.jpg")
    (collection / "linked").symlink_to(elsewhere, target_is_directory=True)
    with Library(tmp_path / "a", detector=detector, embedder=embedder) as library:
        library.scan([collection], follow_links=False)
        assert _media_count(library) == 2
        library.scan([collection])
        assert _media_count(library) == 3


def test_a_missing_root_is_an_error_naming_it(
    tmp_path: Path, collection: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        with pytest.raises(NotFoundError, match="nonexistent"):
            library.scan([collection, tmp_path / "nonexistent"])
        assert _media_count(library) == 0
    result = CliRunner().invoke(
        cli, ["--library", str(tmp_path / "lib"), "scan", str(tmp_path / "nonexistent")]
    )
    assert result.exit_code != 0 and "nonexistent" in result.output
    assert "Traceback" not in result.output


def test_scan_help_says_the_library_is_left_out() -> None:
    result = CliRunner().invoke(cli, ["scan", "--help"])
    assert "library" in result.output and "--no-follow-links" in result.output
