"""Registered collection roots (``facesight collections``, ``Library.collections``) and the
scan and report job kinds run on real folders of ../shared/faces."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.facade import Library

USER = "dave"


def _cli(library: Path, *args: str) -> Result:
    runner = CliRunner(env={"COLUMNS": "250", "FACESIGHT_USER": USER})
    return runner.invoke(cli, ["--library", str(library), *args])


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    path = tmp_path / "lib"
    done = _cli(path, "init")
    assert done.exit_code == 0, done.output
    return path


def test_collections_add_list_remove(lib: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "2024").mkdir(parents=True)
    linked = tmp_path / "linked"
    linked.symlink_to(photos / "2024")
    added = _cli(lib, "collections", "add", str(photos))
    assert added.exit_code == 0, added.output
    assert added.output.strip() == f"added collection 1: {photos.resolve()}"
    # stored resolved: the link is the folder it points to
    assert _cli(lib, "collections", "add", str(linked)).exit_code == 0
    listed = json.loads(_cli(lib, "collections", "list", "--json").output)
    assert [(c["id"], c["path"], c["added_by"]) for c in listed] == [
        (1, str(photos.resolve()), USER),
        (2, str((photos / "2024").resolve()), USER),
    ]
    assert all(c["added_at"].endswith("+00:00") for c in listed)
    assert "Collections" in _cli(lib, "collections", "list").output

    removed = _cli(lib, "collections", "remove", "1")
    assert removed.exit_code == 0, removed.output
    assert [c["id"] for c in json.loads(_cli(lib, "collections", "list", "--json").output)] == [2]
    with Library(lib, create=False) as library:
        records = [r for r in reversed(library.audit.records()) if r.action.startswith("coll")]
        assert [(r.action, r.actor, r.items["counts"]) for r in records] == [
            ("collections.add", USER, {"collection": 1}),
            ("collections.add", USER, {"collection": 2}),
            ("collections.remove", USER, {"collection": 1}),
        ]
        with pytest.raises(NotFoundError):
            library.collections.get(1)
        assert library.collections.get(2).path == str((photos / "2024").resolve())


def test_collections_refuse_what_is_not_a_readable_folder(lib: Path, tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not really")
    for path, problem in (
        (tmp_path / "missing", "no such folder"),
        (photo, "is not a folder"),
        (lib / "crops", "inside the library"),
    ):
        if problem == "inside the library":
            path.mkdir(exist_ok=True)
        answer = _cli(lib, "collections", "add", str(path))
        assert answer.exit_code == 1, answer.output
        assert problem in answer.output and "Traceback" not in answer.output
        assert len(answer.output.strip().splitlines()) == 1
    twice = tmp_path / "twice"
    twice.mkdir()
    assert _cli(lib, "collections", "add", str(twice)).exit_code == 0
    again = _cli(lib, "collections", "add", str(twice) + "/")
    assert again.exit_code == 1 and "registered already" in again.output
    gone = _cli(lib, "collections", "remove", "99")
    assert gone.exit_code == 1 and "no collection 99" in gone.output
    assert [c["id"] for c in json.loads(_cli(lib, "collections", "list", "--json").output)] == [1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_collections_refuse_a_folder_that_cannot_be_read(lib: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        with Library(lib, create=False) as library, pytest.raises(InvalidInputError):
            library.collections.add(locked)
    finally:
        locked.chmod(0o700)
