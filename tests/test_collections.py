"""Registered collection roots (``facesight collections``, ``Library.collections``) and the
scan and report job kinds run on real folders of ../shared/faces."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesight.cli.main import cli
from facesight.errors import InvalidInputError, NotFoundError
from facesight.library.collection_jobs import queue_scan, report_params
from facesight.library.facade import Library
from facesight.library.job_worker import claim, run_job
from facesight.library.jobs import Job, JobKind, JobState

from .paths import LFW_DEV, PEOPLE

USER = "dave"
CANCELLED_SCAN_FILES = 200
"""Images of lfw-dev in the scan cancelled part-way: thirteen tasks of 16 small files, far
more than one worker holds in flight, so the cancel lands before the last is committed even
on a loaded machine (the job's progress reaches the database about once a second)."""


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


def test_collections_on_either_backend(
    library_location: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a PostgreSQL library's files
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with Library(library_location, actor="erin") as library:
        a = library.collections.add(first)
        b = library.collections.add(second)
        with pytest.raises(InvalidInputError, match="registered already"):
            library.collections.add(first)
        assert [(c.id, c.path, c.added_by) for c in library.collections.list()] == [
            (a.id, str(first.resolve()), "erin"),
            (b.id, str(second.resolve()), "erin"),
        ]
        assert library.collections.remove(a.id) == a
        assert library.collections.list() == [b]
        assert library.audit.verify().ok


# -- the scan and report job kinds, run as the worker runs them -------------------------


def _run_next(library: Library) -> Job:
    """Run the oldest queued job here, as the job worker does; the job as it ended."""
    job = claim(library, "test-worker")
    assert job is not None
    return run_job(library, job, "test-worker")


def _linked_folder(folder: Path, images: list[Path]) -> Path:
    """``folder`` holding a link to each of ``images`` (the images stay in ../shared/faces)."""
    folder.mkdir()
    for image in images:
        (folder / f"{image.parent.name}-{image.name}").symlink_to(image)
    return folder


def test_a_scan_job_reports_progress_and_each_bad_file(library: Library, tmp_path: Path) -> None:
    folder = _linked_folder(tmp_path / "photos", sorted((PEOPLE / "Barack_Obama").iterdir())[:3])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg at all")
    collection = library.collections.add(folder)
    queued = queue_scan(library, collection.id)
    assert queue_scan(library, collection.id) == queued  # "Scan now" twice: the same scan
    job = _run_next(library)
    assert job.state == JobState.DONE and job.id == queued.id, job.error
    result = job.result
    assert (job.done, job.total) == (4, 4)
    assert job.failure_count == 1 and len(job.failures) == 1
    assert job.failures[0].startswith(f"{folder.resolve() / 'broken.jpg'}: ")
    assert result["collection_id"] == collection.id
    assert (result["media_scanned"], result["failures"]) == (3, 1)
    assert result["faces_found"] == sum(1 for s in library.sightings(include_unmatched=True))
    assert result["faces_found"] >= 3
    assert queue_scan(library, collection.id).id != job.id  # a finished scan is not followed
    with pytest.raises(NotFoundError):
        queue_scan(library, collection.id + 1)


def _stored(library: Library) -> tuple[int, int, list[str]]:
    """(media, faces, sha256s of the media) as the database holds them."""
    conn = sqlite3.connect(library.path / "facesight.db")
    try:
        media = [str(r[0]) for r in conn.execute("SELECT sha256 FROM media")]
        faces = int(conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
    finally:
        conn.close()
    return len(media), faces, media


def _crop_files(library: Library) -> set[str]:
    return {
        p.relative_to(library.path).as_posix()
        for p in library.crops_dir.rglob("*")
        if p.is_file() and "references" not in p.parts
    }


def test_a_cancelled_scan_keeps_whole_files_and_a_rescan_finishes_it(
    library: Library, tmp_path: Path
) -> None:
    people = sorted(p for p in (LFW_DEV / "people").iterdir() if p.is_dir())
    images = [i for person in people for i in sorted(person.iterdir())][:CANCELLED_SCAN_FILES]
    folder = _linked_folder(tmp_path / "lfw", images)
    collection = library.collections.add(folder)
    job_id = library.jobs.submit(JobKind.SCAN, {"collection_id": collection.id}).id

    ready = threading.Event()

    def cancel_once_started() -> None:  # another connection, as the job page's button is
        with Library(library.path, create=False) as other:
            ready.set()
            deadline = time.monotonic() + 120
            while other.jobs.job(job_id).done == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            other.jobs.cancel(job_id)

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    assert ready.wait(60)
    # one core, so one scan worker (``default_workers``) takes the tasks in turn: on a machine
    # of many cores every task would be in flight at once and end before the cancel lands
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        job = _run_next(library)
    finally:
        os.sched_setaffinity(0, cores)
        canceller.join()
    assert job.state == JobState.CANCELLED, job
    assert job.cancel_requested and job.total == len(images)
    media, faces, hashes = _stored(library)
    assert 0 < media < len(images)  # part-way: some files committed, some not
    assert faces > 0 and len(set(hashes)) == media
    # every crop on disk belongs to a committed face: the files in flight left none
    assert _crop_files(library) <= set(library.store.stored_crop_paths())

    library.jobs.submit(JobKind.SCAN, {"collection_id": collection.id})
    again = _run_next(library)
    result = again.result
    assert again.state == JobState.DONE and again.failure_count == 0
    assert (result["media_skipped"], result["media_scanned"]) == (media, len(images) - media)
    all_media, all_faces, all_hashes = _stored(library)
    assert all_media == len(images) == len(set(all_hashes))
    assert all_faces == faces + result["faces_found"]
    assert _crop_files(library) <= set(library.store.stored_crop_paths())


def test_a_report_job_writes_each_format_and_a_manifest_of_them(
    library: Library, tmp_path: Path
) -> None:
    photos = sorted((PEOPLE / "Barack_Obama").iterdir())
    library.enroll("Barack Obama", [photos[0]])
    library.scan(photos[1:3])
    with pytest.raises(InvalidInputError, match="choose one or more"):
        report_params(library, None, ["pdf"])
    with pytest.raises(NotFoundError):
        report_params(library, "Nobody Enrolled", ["html"])
    params = report_params(library, "barack obama", ["json", "html", "csv", "json"])
    assert params == {"person": "Barack Obama", "formats": ["html", "csv", "json"]}
    library.jobs.submit(JobKind.REPORT, params)
    job = _run_next(library)
    assert job.state == JobState.DONE and job.failure_count == 0, job.error
    result = job.result
    person_id = library.store.require_person("Barack Obama")
    stem = f"report-person-{person_id}"
    assert result["files"] == [f"{stem}.{k}" for k in ("html", "csv", "json")] + [
        f"{stem}.manifest.json"
    ]
    assert result["sightings"] >= 2
    files = {f.name: f for f in library.jobs.files(job.id)}
    assert sorted(files) == sorted(result["files"])
    manifest = json.loads(library.jobs.file(job.id, files[result["manifest"]].index).read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert listed == {name: files[name].sha256 for name in result["files"][:-1]}
    rows = json.loads((library.jobs.output_dir(job.id) / f"{stem}.json").read_text())
    assert {row["person"] for row in rows["rows"]} == {"Barack Obama"}
