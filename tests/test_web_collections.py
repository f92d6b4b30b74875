"""Collections and reports in the workspace, against ``facesight serve`` running for real (its
job worker included) over a copy of the workspace library: an admin scans a registered root
and its faces appear, other roles may not start a scan, a report job's files download with a
manifest that vouches for them; and the same in Chromium (screenshots of both pages)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from facesight.library.facade import Library

from .paths import GROUP, PEOPLE
from .tools import screenshot
from .workspace import (
    Server,
    browser_sign_in,
    copy_library,
    facesight,
    start_server,
    stop_server,
    wait_until,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

SCANNED_BEFORE = GROUP / "face_recognition_obama_and_biden.jpg"
"""The one group photo the workspace library holds already (a scan of the root skips it)."""


@dataclass
class Workspace:
    server: Server
    folder: Path
    collection_id: int


def _register(library: Path, folder: Path) -> int:
    added = facesight(library, "collections", "add", str(folder))
    assert added.returncode == 0, added.stderr
    found = re.match(r"added collection (\d+): ", added.stdout)
    assert found is not None, added.stdout
    return int(found.group(1))


@pytest.fixture(scope="module")
def workspace(
    workspace_library: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """A server of its own (scans and reports change the library) with a registered root of
    group photos (links to ../shared/faces), one of them known already, and a broken file."""
    base = tmp_path_factory.mktemp("collections")
    library = copy_library(workspace_library, base / "lib")
    folder = base / "photos"
    folder.mkdir()
    for name in ("deepface_couple.jpg", "face_recognition_two_people.jpg", SCANNED_BEFORE.name):
        (folder / name).symlink_to(GROUP / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is no JPEG")
    collection_id = _register(library, folder)
    server = start_server(library)
    try:
        yield Workspace(server, folder, collection_id)
    finally:
        stop_server(server)


def _finished_scan(server: Server, collection_id: int, job_id: int) -> dict[str, Any] | None:
    answer = server.api("viewer").get(f"/api/v1/collections/{collection_id}")
    assert answer.status_code == 200, answer.text
    scans = {s["id"]: s for s in answer.json()["scans"]}
    job = scans[job_id]
    return job if job["state"] in ("done", "failed", "cancelled") else None


def _finished_report(server: Server, job_id: int) -> dict[str, Any] | None:
    answer = server.api("viewer").get("/api/v1/reports")
    assert answer.status_code == 200, answer.text
    job = {r["id"]: r for r in answer.json()["items"]}[job_id]
    return job if job["state"] in ("done", "failed", "cancelled") else None


def test_an_admin_scans_a_registered_root_and_its_faces_appear(workspace: Workspace) -> None:
    server, root = workspace.server, workspace.collection_id
    admin = server.sign_in("admin")
    page = admin.get("/collections")
    assert page.status_code == 200
    assert str(workspace.folder.resolve()) in page.text and "Scan now" in page.text
    started = admin.post(f"/collections/{root}/scan", data={"csrf": server.csrf(admin)})
    assert started.status_code == 303, started.text
    found = re.fullmatch(r"/jobs/(\d+)", started.headers["location"])
    assert found is not None
    job_id = int(found.group(1))

    job = wait_until("the scan job", lambda: _finished_scan(server, root, job_id), 120)
    assert job["state"] == "done", job
    assert job["total"] == job["done"] == 4  # three photos and the broken file
    assert job["failure_count"] == 1 and job["created_by"] == "admin"
    result = job["result"]
    assert (result["media_scanned"], result["media_skipped"], result["failures"]) == (2, 1, 1)
    assert result["faces_found"] >= 4  # two people in each photo

    with Library(server.library, create=False) as library:
        failures = library.jobs.job(job_id).failures
        new = [
            s
            for s in library.sightings(include_unmatched=True)
            if s.path.startswith(str(workspace.folder)) and SCANNED_BEFORE.name not in s.path
        ]
    assert failures == [
        f"{workspace.folder.resolve() / 'broken.jpg'}: {failures[0].split(': ', 1)[1]}"
    ]
    assert len(new) == result["faces_found"]
    shown = server.api("viewer").get(f"/api/v1/faces/{new[0].face_id}")
    assert shown.status_code == 200 and shown.json()["path"] == new[0].path

    listed = admin.get("/collections").text
    assert f'href="/jobs/{job_id}"' in listed and "state-done" in listed


def test_only_an_admin_may_start_a_scan(workspace: Workspace) -> None:
    server, root = workspace.server, workspace.collection_id
    for role in ("viewer", "reviewer"):
        client = server.sign_in(role)
        page = client.get("/collections")
        assert page.status_code == 200 and str(workspace.folder.resolve()) in page.text
        assert "Scan now" not in page.text
        refused = client.post(f"/collections/{root}/scan", data={"csrf": server.csrf(client)})
        assert refused.status_code == 403, refused.text
        assert server.api(role).post(f"/api/v1/collections/{root}/scan").status_code == 403
    missing = server.api("admin").post("/api/v1/collections/987654321/scan")
    assert missing.status_code == 404
    with Library(server.library, create=False) as library:
        scans = [j for j in library.jobs.jobs(kind="scan") if j.created_by != "admin"]
    assert scans == []


def test_a_report_job_downloads_each_file_and_a_manifest_that_vouches_for_them(
    workspace: Workspace,
) -> None:
    server = workspace.server
    api = server.api("viewer")
    refused = api.post("/api/v1/reports", json={"person": "Nobody At All", "formats": ["csv"]})
    assert refused.status_code == 404
    bad = api.post("/api/v1/reports", json={"person": None, "formats": ["pdf"]})
    assert bad.status_code == 422
    started = api.post("/api/v1/reports", json={"person": "barack obama"})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    assert started.json()["params"] == {
        "person": "Barack Obama",
        "formats": ["html", "csv", "json"],
    }

    job = wait_until("the report job", lambda: _finished_report(server, job_id), 120)
    assert job["state"] == "done", job
    files = {f["name"]: f for f in job["files"]}
    assert sorted(files) == sorted(job["result"]["files"])
    downloaded = {}
    for name, listed in files.items():
        answer = api.get(listed["url"])
        assert answer.status_code == 200, (name, answer.text[:200])
        assert hashlib.sha256(answer.content).hexdigest() == listed["sha256"]
        downloaded[name] = answer.content
    manifest = json.loads(downloaded[job["result"]["manifest"]])
    vouched = {e["path"]: e["sha256"] for e in manifest["files"]}
    assert vouched and set(vouched) | {job["result"]["manifest"]} == set(downloaded)
    for name, sha256 in vouched.items():
        assert hashlib.sha256(downloaded[name]).hexdigest() == sha256
    rows = json.loads(
        next(v for k, v in downloaded.items() if k.endswith(".json") and k in vouched)
    )
    assert rows["rows"] and {r["person"] for r in rows["rows"]} == {"Barack Obama"}
    archive = api.get(job["archive_url"])
    assert archive.status_code == 200 and len(archive.content) > 0


# -- in the browser ------------------------------------------------------------------------


def _sign_in(browser: WebDriver, url: str, name: str) -> None:
    browser_sign_in(browser, url, name)
    wait_until("the home page", lambda: browser.current_url.rstrip("/") == url)


def test_an_admin_clicks_scan_now_and_sees_the_scan_finish(
    workspace: Workspace, browser: WebDriver, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    server = workspace.server
    more = tmp_path / "more"
    more.mkdir()
    for photo in sorted((PEOPLE / "Matt_Damon").iterdir())[:2]:
        (more / photo.name).symlink_to(photo)
    root = _register(server.library, more)
    _sign_in(browser, server.url, "admin")
    browser.find_element(By.LINK_TEXT, "Collections").click()
    browser.find_element(By.ID, f"scan-{root}").click()
    found = wait_until("the job page", lambda: re.search(r"/jobs/(\d+)$", browser.current_url), 30)
    job_id = int(found.group(1))
    wait_until("the scan to finish", lambda: _finished_scan(server, root, job_id), 120)
    browser.get(f"{server.url}/collections")
    row = browser.find_element(By.CSS_SELECTOR, f"#collection-{root} table.scans tbody tr")
    assert row.find_element(By.CSS_SELECTOR, "td.state-done").text == "done"
    assert "2 of 2" in row.text and "2 scanned" in row.text  # photos the library lacked
    screenshot(browser, "collections")


def test_a_user_generates_a_report_and_downloads_it(
    workspace: Workspace, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server = workspace.server
    _sign_in(browser, server.url, "viewer")
    browser.find_element(By.LINK_TEXT, "Reports").click()
    Select(browser.find_element(By.ID, "report-person")).select_by_visible_text("Joe Biden")
    browser.find_element(By.ID, "format-html").click()  # unticked: CSV and JSON only
    browser.find_element(By.ID, "generate-report").click()
    found = wait_until("the job page", lambda: re.search(r"/jobs/(\d+)$", browser.current_url), 30)
    job_id = int(found.group(1))
    job = wait_until("the report", lambda: _finished_report(server, job_id), 120)
    assert job["state"] == "done" and job["params"]["formats"] == ["csv", "json"]
    browser.get(f"{server.url}/reports")
    links = {
        str(a.get_attribute("textContent")): str(a.get_attribute("href"))
        for a in browser.find_elements(By.CSS_SELECTOR, f"#report-{job_id} a.download")
    }
    assert sorted(links) == sorted(job["result"]["files"]), browser.page_source[-3000:]
    csv_name = next(name for name in links if name.endswith(".csv"))
    # the download as the browser makes it (its session cookie, same origin)
    text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done, e => done('failed: ' + e));",
        links[csv_name],
    )
    assert "Joe Biden" in text
    expected = {f["name"]: f["sha256"] for f in job["files"]}[csv_name]
    assert hashlib.sha256(text.encode()).hexdigest() == expected
    screenshot(browser, "reports")
