"""Background jobs on a real library: submit, run, cancel, a worker killed mid-job and the
next one resuming it, and a long-lived library noticing what a worker changed.

The long job is a real one: reindexing the workspace library with another registered
model (``tests/test_models.projection_model``) describes every stored media file again
(detection and description of each), reporting each file as it goes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facesight.errors import InvalidInputError, NotFoundError
from facesight.face_models import ARCFACE_PRESET
from facesight.library.facade import Library
from facesight.library.job_worker import MAX_ATTEMPTS, claim, recover, run_worker
from facesight.library.jobs import Job, JobKind, JobState
from facesight.library.unknowns import UnknownPeople
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO
from .test_models import projection_model
from .workspace import copy_library, facesight, scan_portraits

OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"


@pytest.fixture
def lib_copy(
    workspace_library: Path, tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder
) -> Iterator[Library]:
    """A copy of the workspace library, open (the shared one stays as other tests expect)."""
    path = copy_library(workspace_library, tmp_path / "lib")
    with Library(path, detector=detector, embedder=embedder) as library:
        yield library


def _with_model(library: Library, tmp_path: Path) -> None:
    """Register a second (tiny, real ONNX) model: reindexing with it re-describes everything."""
    onnx = projection_model(tmp_path / "proj.onnx", side=112, out=64, pool=4, seed=1, gemm=False)
    library.add_model(onnx, name="proj", **ARCFACE_PRESET)


def _worker(library: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "facesight", "--library", str(library), "jobs", "work", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(
    library: Library, job_id: int, ok: Callable[[Job], bool], timeout_s: float = 120
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ok(library.jobs.job(job_id)):
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never got there: {library.jobs.job(job_id)}")


def test_submit_run_done_rematch(lib_copy: Library) -> None:
    job = lib_copy.jobs.submit(JobKind.REMATCH, {})
    assert (job.state, job.attempts, job.done, job.total) == (JobState.QUEUED, 0, 0, None)
    assert run_worker(lib_copy, until_empty=True) == 1
    done = lib_copy.jobs.job(job.id)
    faces = lib_copy.store.face_count(lib_copy.pipeline.embedder_version)[0]
    assert done.state is JobState.DONE and done.error == ""
    assert done.result == {"faces": faces} and faces > 10
    assert (done.done, done.total, done.attempts) == (faces, faces, 1)
    assert done.started_at is not None and done.finished_at is not None
    assert lib_copy.jobs.jobs()[0].id == job.id  # newest first
    records = lib_copy.audit_records(action="job.submit")
    assert records[0].items == {"counts": {"job": job.id}} and records[0].details == "rematch"


def test_cluster_job_refreshes_the_unknowns(lib_copy: Library) -> None:
    job = lib_copy.jobs.submit(JobKind.CLUSTER)
    run_worker(lib_copy, until_empty=True)
    done = lib_copy.jobs.job(job.id)
    assert done.state is JobState.DONE
    assert done.result == {"clusters": len(UnknownPeople(lib_copy).clusters())}


def test_cancel_a_queued_job_it_never_runs(lib_copy: Library) -> None:
    # the copied library may hold cancellations of its own (the route walk cancels a job)
    before = len(lib_copy.audit_records(action="job.cancel"))
    job = lib_copy.jobs.submit(JobKind.REMATCH)
    cancelled = lib_copy.jobs.cancel(job.id)
    assert cancelled.state is JobState.CANCELLED and cancelled.finished_at is not None
    assert run_worker(lib_copy, until_empty=True) == 0
    assert lib_copy.jobs.job(job.id).started_at is None
    assert lib_copy.audit_records(action="job.cancel")[0].items == {"counts": {"job": job.id}}
    # a finished job stays as it is, and nothing more is recorded
    assert lib_copy.jobs.cancel(job.id).state is JobState.CANCELLED
    assert len(lib_copy.audit_records(action="job.cancel")) == before + 1


def test_a_failing_job_is_failed_with_its_error_line(lib_copy: Library) -> None:
    job = lib_copy.jobs.submit(JobKind.REINDEX, {"model": "nobody"})
    run_worker(lib_copy, until_empty=True)
    failed = lib_copy.jobs.job(job.id)
    assert failed.state is JobState.FAILED
    assert "nobody" in failed.error and "\n" not in failed.error


def test_submit_refuses_unknown_kinds_paths_and_nested_params(lib_copy: Library) -> None:
    before = lib_copy.jobs.jobs()  # the copy may hold the route walk's cancelled job
    with pytest.raises(InvalidInputError, match="unknown job kind"):
        lib_copy.jobs.submit("format-disk")
    for params in ({"root": "/etc"}, {"root": "../up"}, {"x": {"nested": 1}}, {"Bad Key": 1}):
        with pytest.raises(InvalidInputError):
            lib_copy.jobs.submit(JobKind.REMATCH, params)
    with pytest.raises(NotFoundError):
        lib_copy.jobs.job(999)
    with pytest.raises(NotFoundError):
        lib_copy.jobs.cancel(999)
    assert lib_copy.jobs.jobs() == before


def test_a_job_whose_worker_died_is_resumed_then_failed_after_max_attempts(
    lib_copy: Library,
) -> None:
    job = lib_copy.jobs.submit(JobKind.REMATCH)
    # a worker on another machine claims it and is never heard of again
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = claim(lib_copy, "elsewhere:4242:0")
        assert claimed is not None and claimed.attempts == attempt
        assert recover(lib_copy) == []  # its heartbeat is fresh: still its own
        found = recover(lib_copy, now_s=time.time() + 60)
        want = JobState.QUEUED if attempt < MAX_ATTEMPTS else JobState.FAILED
        assert [(r.job_id, r.state) for r in found] == [(job.id, want)]
    failed = lib_copy.jobs.job(job.id)
    assert failed.state is JobState.FAILED and "stopped 3 times" in failed.error
    assert run_worker(lib_copy, until_empty=True) == 0


@pytest.mark.slow
def test_cancel_a_running_reindex_and_resume_one_after_kill_9(
    lib_copy: Library, tmp_path: Path
) -> None:
    # enough media that neither reindex ends before the test has cancelled or killed it
    scan_portraits(lib_copy, tmp_path / "more", 150)
    _with_model(lib_copy, tmp_path)
    path = lib_copy.path
    media = lib_copy.store.query("SELECT COUNT(*) AS n FROM media")[0]["n"]

    # cancel while it runs: the worker stops it at its next report
    job = lib_copy.jobs.submit(JobKind.REINDEX, {"model": "proj"})
    worker = _worker(path)
    try:
        _wait_for(lib_copy, job.id, lambda j: j.state is JobState.RUNNING)
        assert lib_copy.jobs.cancel(job.id).cancel_requested
        _wait_for(lib_copy, job.id, lambda j: j.finished)
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    cancelled = lib_copy.jobs.job(job.id)
    assert cancelled.state is JobState.CANCELLED and cancelled.done < media  # part-way

    # kill -9 mid-job: the next worker finds the job running under a dead process and
    # runs it again (attempt 2) to the end
    job = lib_copy.jobs.submit(JobKind.REINDEX, {"model": "proj"})
    worker = _worker(path)
    try:
        _wait_for(lib_copy, job.id, lambda j: j.state is JobState.RUNNING)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=60)
    assert lib_copy.jobs.job(job.id).state is JobState.RUNNING  # left behind
    again = _worker(path, "--until-empty")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    resumed = lib_copy.jobs.job(job.id)
    assert resumed.state is JobState.DONE, resumed
    assert resumed.attempts == 2 and "died" in err
    assert lib_copy.notice_changes() and lib_copy.model is not None
    assert lib_copy.store.stale_media(lib_copy.pipeline.embedder_version) == []


def test_a_long_lived_library_notices_a_worker_reindex(lib_copy: Library, tmp_path: Path) -> None:
    """The web server's library (held open) sees what the worker changed: after a reindex
    with another model the search runs with that model and finds the re-described faces."""
    _with_model(lib_copy, tmp_path)
    before = lib_copy.search_face(OBAMA, top_k=3)
    assert before and lib_copy.model is None  # dlib
    lib_copy.notice_changes()
    job = lib_copy.jobs.submit(JobKind.REINDEX, {"model": "proj"})
    worker = _worker(lib_copy.path, "--until-empty")
    _, err = worker.communicate(timeout=600)
    assert worker.returncode == 0, err
    assert lib_copy.jobs.job(job.id).state is JobState.DONE
    assert lib_copy.notice_changes() is True
    assert lib_copy.model is not None and lib_copy.model.name == "proj"
    after = lib_copy.search_face(OBAMA, top_k=3)
    assert after and {h.sighting.face_id for h in after}.isdisjoint(
        {h.sighting.face_id for h in before}
    )
    assert lib_copy.notice_changes() is False  # nothing new since


def test_a_long_lived_library_notices_an_enrollment_elsewhere(
    lib_copy: Library, detector: FaceDetector, embedder: FaceEmbedder
) -> None:
    names = set(lib_copy.gallery().person_names)
    with Library(lib_copy.path, detector=detector, embedder=embedder) as other:
        other.enroll("Someone Else", [PEOPLE / "Angelina_Jolie" / "deepface_img2.jpg"])
    assert set(lib_copy.gallery().person_names) == names  # cached
    assert lib_copy.notice_changes() is True
    assert "Someone Else" in set(lib_copy.gallery().person_names)


def test_the_queue_and_its_recovery_on_both_backends(
    library_location: str | Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    files = tmp_path / "files"
    with Library(
        library_location, files_dir=files, detector=detector, embedder=embedder
    ) as library:
        library.enroll("Barack Obama", [OBAMA])
        library.scan([PEOPLE / "Barack_Obama"])
        rematch = library.jobs.submit(JobKind.REMATCH)
        cluster = library.jobs.submit(JobKind.CLUSTER)
        assert library.jobs.cancel(cluster.id).state is JobState.CANCELLED
        assert [j.id for j in library.jobs.jobs()] == [cluster.id, rematch.id]
        assert [j.id for j in library.jobs.jobs(state="queued")] == [rematch.id]
        assert [j.id for j in library.jobs.jobs(before=cluster.id)] == [rematch.id]
        # runs (its heartbeat from a connection of its own) to the end
        assert run_worker(library, until_empty=True, heartbeat_s=0.05) == 1
        done = library.jobs.job(rematch.id)
        assert done.state is JobState.DONE and done.result["faces"] >= 3
        # a worker elsewhere that died: queued again, then run here
        again = library.jobs.submit(JobKind.REMATCH)
        assert claim(library, "elsewhere:1:0") is not None
        assert [r.state for r in recover(library, now_s=time.time() + 60)] == [JobState.QUEUED]
        assert run_worker(library, until_empty=True) == 1
        assert library.jobs.job(again.id).attempts == 2
        # a change made by another process is noticed
        library.notice_changes()
        with Library(
            library_location, files_dir=files, detector=detector, embedder=embedder
        ) as other:
            other.enroll(
                "Joe Biden", [PEOPLE / "Joe_Biden" / sorted(os.listdir(PEOPLE / "Joe_Biden"))[0]]
            )
        assert library.notice_changes() is True
        assert "Joe Biden" in set(library.gallery().person_names)


def test_the_jobs_commands(lib_copy: Library) -> None:
    path = lib_copy.path
    submitted = facesight(path, "jobs", "submit", "rematch")
    assert submitted.returncode == 0, submitted.stderr
    job_id = int(submitted.stdout.strip())
    listed = json.loads(facesight(path, "jobs", "list", "--state", "queued", "--json").stdout)
    assert [(j["id"], j["kind"], j["state"]) for j in listed] == [(job_id, "rematch", "queued")]
    cancelled = facesight(path, "jobs", "cancel", str(job_id))
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    shown = json.loads(facesight(path, "jobs", "show", str(job_id), "--json").stdout)
    assert shown["state"] == "cancelled" and shown["files"] == []
    missing = facesight(path, "jobs", "show", "999")
    assert missing.returncode == 1 and "there is no job 999" in missing.stderr
    worked = facesight(path, "jobs", "submit", "cluster")
    ran = facesight(path, "jobs", "work", "--until-empty")
    assert ran.returncode == 0 and "1 job(s) run" in ran.stderr, ran.stderr
    assert lib_copy.jobs.job(int(worked.stdout)).state is JobState.DONE
