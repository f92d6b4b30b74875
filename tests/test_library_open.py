"""Opening a library: who may create one, read-only libraries, private permissions."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.errors import NotFoundError
from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE

BIDEN = sorted((PEOPLE / "Joe_Biden").glob("*.jpg"))


def _cli(library: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--library", str(library), *args])


@pytest.mark.parametrize("command", [["people"], ["sightings"], ["failures"], ["forget", "X"]])
def test_commands_other_than_init_enroll_scan_never_create_a_library(
    tmp_path: Path, command: list[str]
) -> None:
    result = _cli(tmp_path / "typo", *command, *(["--yes"] if command[0] == "forget" else []))
    assert result.exit_code == 1, result.output
    assert "does not exist" in result.output and "facesight init" in result.output
    assert not (tmp_path / "typo").exists()


def test_a_zero_length_database_is_not_a_library(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "facesight.db").touch()
    result = _cli(tmp_path / "lib", "people")
    assert result.exit_code == 1 and "does not exist" in result.output
    assert (tmp_path / "lib" / "facesight.db").stat().st_size == 0
    with pytest.raises(NotFoundError, match="does not exist"):
        Library(tmp_path / "lib", create=False)


def test_init_creates_a_library_once(tmp_path: Path) -> None:
    first = _cli(tmp_path / "lib", "init")
    assert first.exit_code == 0 and "created" in first.output
    assert _cli(tmp_path / "lib", "people", "--json").exit_code == 0
    again = _cli(tmp_path / "lib", "init")
    assert again.exit_code == 0 and "already" in again.output


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _loose(root: Path) -> list[str]:
    """Paths in the library that someone else than the owner could read or list."""
    paths = [root, *root.rglob("*")]
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & 0o077]


def test_a_new_library_is_private_whatever_the_umask(
    tmp_path: Path, loose_umask: None, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Joe Biden", BIDEN[:1])
        library.scan(BIDEN[1:2])
        library.face_index()
        assert library.notices == []
    assert _loose(tmp_path / "lib") == []


def test_an_old_loose_library_is_tightened_once(
    tmp_path: Path, loose_umask: None, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Joe Biden", BIDEN[:1])
    for path in [tmp_path / "lib", *(tmp_path / "lib").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        [notice] = library.notices
        assert "permissions" in notice
    assert _loose(tmp_path / "lib") == []
    with Library(tmp_path / "lib", detector=detector, embedder=embedder) as library:
        assert library.notices == []


@pytest.fixture
def read_only_library(
    tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[Path]:
    """A library on a read-only bind mount (root only)."""
    source, mount = tmp_path / "source", tmp_path / "ro"
    with Library(source / "lib", detector=detector, embedder=embedder) as library:
        library.enroll("Joe Biden", BIDEN[:1])
        library.scan(BIDEN[1:2])
    mount.mkdir()
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot make a read-only bind mount here (needs root)")
    try:
        yield mount / "lib"
    finally:
        subprocess.run(
            ["umount", "-l", str(mount)], check=True
        )  # lazy: a failed test may hold files


def test_reading_commands_work_on_a_read_only_library(
    read_only_library: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    people = _cli(read_only_library, "people", "--json")
    assert people.exit_code == 0, people.output
    assert "Joe Biden" in people.output and "read-only" in people.output
    with Library(read_only_library, detector=detector, embedder=embedder) as library:
        assert library.read_only
        assert library.sightings("Joe Biden")
        library.identify(BIDEN[1])
        assert any("audit" in n for n in library.notices)
    report = _cli(read_only_library, "report", "--all", "--csv", "-")
    assert report.exit_code == 0 and "not recorded in the audit log" in report.output
    enroll = _cli(read_only_library, "enroll", "Someone", str(BIDEN[2 % len(BIDEN)]))
    assert enroll.exit_code == 1 and "read-only" in enroll.output
    assert "Traceback" not in enroll.output
