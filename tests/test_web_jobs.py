"""Background jobs through the workspace: ``facesight serve`` running for real (with the job
worker it starts) over a copy of the workspace library with a second registered model, so
that a reindex is a real long job. Jobs are queued through the API, run by the worker,
followed on their page (in Chromium too), cancelled; pages keep answering while one runs;
the audit log records who queued and cancelled; files are served by index only.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from facesight.face_models import ARCFACE_PRESET
from facesight.library.facade import Library

from .pages import audit_records
from .paths import PEOPLE
from .test_models import projection_model
from .tools import screenshot
from .workspace import (
    ENROLLED,
    Server,
    browser_sign_in,
    copy_library,
    facesight,
    scan_portraits,
    start_server,
    stop_server,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def _copy_with_model(workspace_library: Path, folder: Path, more_images: int = 0) -> Path:
    """A copy of the workspace library with the (tiny, real ONNX) model "proj" registered:
    reindexing with it describes every media file again. ``more_images`` lfw-dev portraits
    scanned into it first make that reindex last long enough to be interrupted on purpose
    on any machine."""
    copy = copy_library(workspace_library, folder / "lib")
    onnx = projection_model(folder / "proj.onnx", side=112, out=64, pool=4, seed=1, gemm=False)
    with Library(copy) as library:
        if more_images:
            scan_portraits(library, folder / "more", more_images)
        library.add_model(onnx, name="proj", **ARCFACE_PRESET)
    return copy


@pytest.fixture(scope="module")
def jobs_server(
    workspace_library: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server (and its worker) of its own, over a copy with the model "proj" registered."""
    server = start_server(_copy_with_model(workspace_library, tmp_path_factory.mktemp("jobs")))
    try:
        yield server
    finally:
        stop_server(server)


def _wait_job(client: httpx.Client, job_id: int, ok: Any, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/api/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if ok(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} never got there: {job}"
        time.sleep(0.2)


def test_a_rematch_queued_by_the_api_is_run_by_the_worker(jobs_server: Server) -> None:
    admin = jobs_server.api("admin")
    answer = admin.post("/api/v1/jobs/rematch", json={})
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert answer.headers["location"] == f"/api/v1/jobs/{queued['id']}"
    assert (queued["kind"], queued["state"], queued["created_by"]) == ("rematch", "queued", "admin")
    done = _wait_job(admin, queued["id"], lambda j: j["finished"])
    assert done["state"] == "done" and done["result"]["faces"] > 10, done
    assert done["fraction"] == 1.0 and done["files"] == []
    listed = admin.get("/api/v1/jobs", params={"kind": "rematch"}).json()
    assert listed["items"][0]["id"] == queued["id"]
    # the roles matrix: a reviewer may queue a clustering, not a rematch; a viewer neither
    assert jobs_server.api("reviewer").post("/api/v1/jobs/rematch", json={}).status_code == 403
    assert jobs_server.api("viewer").post("/api/v1/jobs/cluster", json={}).status_code == 403
    clustered = jobs_server.api("reviewer").post("/api/v1/jobs/cluster", json={})
    assert clustered.status_code == 202, clustered.text
    assert _wait_job(admin, clustered.json()["id"], lambda j: j["finished"])["state"] == "done"
    # a job's options are checked: no unknown fields, no body no job
    assert admin.post("/api/v1/jobs/rematch", json={"path": "/etc"}).status_code == 422
    assert admin.post("/api/v1/jobs/rematch").status_code == 422
    assert admin.get("/api/v1/jobs/987654321").status_code == 404


def test_files_are_served_by_index_only_as_attachments(jobs_server: Server) -> None:
    admin = jobs_server.api("admin")
    job_id = admin.get("/api/v1/jobs", params={"state": "done"}).json()["items"][0]["id"]
    assert admin.get(f"/api/v1/jobs/{job_id}/archive").status_code == 404  # none written
    # what a report job writes in its folder (the runner's part): a CSV, a hostile name, a
    # link out of the folder (never served)
    folder = jobs_server.library / "jobs" / str(job_id)
    (folder / "sightings.csv").write_text("face_id,person\n1,Joe Biden\n")
    (folder / 'we"ird name\r\n.txt').write_bytes(b"odd")
    os.symlink("/etc/passwd", folder / "passwd")
    job = admin.get(f"/api/v1/jobs/{job_id}").json()
    assert [f["name"] for f in job["files"]] == ["sightings.csv", 'we"ird name\r\n.txt']
    first = admin.get(job["files"][0]["url"])
    assert first.status_code == 200 and first.text.startswith("face_id,person")
    assert first.headers["content-disposition"] == 'attachment; filename="sightings.csv"'
    odd = admin.get(f"/api/v1/jobs/{job_id}/files/1")
    assert odd.content == b"odd"
    assert odd.headers["content-disposition"] == 'attachment; filename="we_ird_name_.txt"'
    assert admin.get(f"/api/v1/jobs/{job_id}/files/2").status_code == 404
    archive = admin.get(f"/api/v1/jobs/{job_id}/archive")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == ["sightings.csv", "we_ird_name_.txt"]
    # viewers may read jobs; downloading what a job wrote is REPORTS (every role has it)
    assert jobs_server.api("viewer").get(job["files"][0]["url"]).status_code == 200


def _nearest(server: Server, photo: Path) -> list[str]:
    found = server.api("viewer").post(
        "/api/v1/search", files={"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    )
    assert found.status_code == 200, found.text
    return [c["person"] for c in found.json()["faces"][0]["candidates"]]


def test_the_server_sees_references_another_process_added(jobs_server: Server) -> None:
    """The server keeps the gallery in memory; another process (a worker, the CLI) that
    changes the references is noticed before the next call."""
    clooney = sorted((PEOPLE / "George_Clooney").glob("*.jpg"))
    assert "George Clooney" not in _nearest(jobs_server, clooney[1])  # gallery cached now
    enrolled = facesight(jobs_server.library, "enroll", "George Clooney", str(clooney[0]))
    assert enrolled.returncode == 0, enrolled.stderr
    assert _nearest(jobs_server, clooney[1])[0] == "George Clooney"


def test_the_job_page_follows_a_job_to_done_in_the_browser(
    jobs_server: Server, browser: WebDriver
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser_sign_in(browser, jobs_server.url, "admin")
    browser.get(f"{jobs_server.url}/jobs")
    # the job page draws itself again when the job ends: an element read just then is gone
    wait = WebDriverWait(
        browser, 120, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    wait.until(lambda b: b.current_url.endswith("/jobs"))
    browser.find_element(By.CSS_SELECTOR, "[data-submit=rematch]").click()
    wait.until(lambda b: "/jobs/" in b.current_url)
    job_id = int(browser.current_url.rsplit("/", 1)[-1])
    wait.until(lambda b: b.find_element(By.ID, "job-state").text == "done")
    # the page is drawn again at the end, with the result
    wait.until(lambda b: b.find_elements(By.ID, "job-result"))
    bar = browser.find_element(By.ID, "job-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    assert browser.find_element(By.ID, "job-count").text.endswith(
        str(jobs_server.api("admin").get(f"/api/v1/jobs/{job_id}").json()["total"])
    )
    screenshot(browser, "jobs")
    browser.get(f"{jobs_server.url}/jobs")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.job-row")
    assert rows and rows[0].text.startswith(f"{job_id} rematch done")


def test_pages_answer_while_a_reindex_runs_and_cancel_stops_it(jobs_server: Server) -> None:
    admin = jobs_server.api("admin")
    viewer = jobs_server.sign_in("viewer")
    queued = admin.post("/api/v1/jobs/reindex", json={"model": "proj"})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    _wait_job(admin, job_id, lambda j: j["state"] == "running" and j["done"] >= 1)
    slowest = 0.0
    for page in ("/", "/review", "/jobs", f"/jobs/{job_id}", f"/api/v1/jobs/{job_id}"):
        started = time.monotonic()
        answer = viewer.get(page)
        slowest = max(slowest, time.monotonic() - started)
        assert answer.status_code == 200, (page, answer.text[:300])
    assert slowest < 10, f"a page took {slowest:.1f} s while the job ran"
    running = admin.get(f"/api/v1/jobs/{job_id}").json()
    assert running["state"] == "running", "the reindex ended before the pages were read"
    # a viewer cannot cancel; an admin can, and the worker stops it at its next step
    viewer_cancel = viewer.post(
        f"/api/v1/jobs/{job_id}/cancel", headers={"X-CSRF-Token": jobs_server.csrf(viewer)}
    )
    assert viewer_cancel.status_code == 403
    asked = admin.post(f"/api/v1/jobs/{job_id}/cancel")
    assert asked.status_code == 200 and asked.json()["cancel_requested"]
    ended = _wait_job(admin, job_id, lambda j: j["finished"])
    assert ended["state"] == "cancelled" and ended["done"] < (ended["total"] or 10**9)
    submits = audit_records(jobs_server.library, "--action", "job.submit")
    cancels = audit_records(jobs_server.library, "--action", "job.cancel")
    assert {"actor": "admin", "counts": {"job": job_id}} in [
        {"actor": r["actor"], "counts": r["items"].get("counts")} for r in submits
    ]
    assert cancels[0]["actor"] == "admin" and cancels[0]["items"]["counts"] == {"job": job_id}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (the killed server never reaped it) counts as gone
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    return state != "Z"


def _worker_pid(library: Path, job_id: int) -> int:
    with contextlib.closing(sqlite3.connect(library / "facesight.db")) as db:
        worker = db.execute("SELECT worker FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    return int(str(worker).split(":")[1])


@pytest.mark.slow
def test_a_job_survives_its_worker_killed_and_a_server_restart(
    workspace_library: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # 400 more portraits: the resumed reindex must outlast the second its worker takes to
    # notice its server died; 150 took no longer than that once workers started faster
    copy = _copy_with_model(workspace_library, tmp_path_factory.mktemp("restart"), 400)
    server = start_server(copy)
    try:
        admin = server.api("admin")
        job_id = admin.post("/api/v1/jobs/reindex", json={"model": "proj"}).json()["id"]
        _wait_job(admin, job_id, lambda j: j["state"] == "running" and j["done"] >= 1)
        # kill -9 of the worker mid-job: the server starts another, which resumes the job
        first = _worker_pid(copy, job_id)
        os.kill(first, signal.SIGKILL)
        resumed = _wait_job(admin, job_id, lambda j: j["attempts"] == 2 and j["done"] >= 1)
        assert resumed["state"] == "running", resumed
        second = _worker_pid(copy, job_id)
        assert second != first
        # the server dies at once: its worker sees its parent gone and stops too
        server.process.kill()
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _pid_alive(second):
            assert time.monotonic() < deadline, "the worker outlived its server"
            time.sleep(0.2)
    finally:
        stop_server(server)
    with contextlib.closing(sqlite3.connect(copy / "facesight.db")) as db:
        state, attempts = db.execute(
            "SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
    assert (state, attempts) == ("queued", 1)  # put back, the stopped attempt not counted

    server = start_server(copy)
    try:
        admin = server.api("admin")
        done = _wait_job(admin, job_id, lambda j: j["finished"], timeout_s=300)
        assert done["state"] == "done" and done["attempts"] == 2, done
        # the server's library runs the model the worker made active: a search finds the
        # enrolled people among the references the worker described again
        assert _nearest(server, ENROLLED["Joe Biden"])
    finally:
        stop_server(server)
