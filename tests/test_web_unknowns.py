"""Unknown people in the workspace, against ``facesight serve`` running for real over a copy of
the workspace library with four strangers clustered (photos of George Clooney, Matt Damon,
Kit Harington and Rose Leslie, nobody enrolled): the list by media count with crops, one's
faces a page at a time, split, merge and name (with the re-match job it queues), each as the
role allowed and refused (403) to the others, each audited under the account; the list read
as stored, never re-clustered by a request; naming one in Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from facesight.library.facade import Library
from facesight.library.jobs import JobKind
from facesight.library.unknowns import UnknownPeople
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .curation import audit, crop_widths, find, send_form, sign_in_browser
from .paths import PEOPLE
from .tools import screenshot
from .workspace import UNKNOWN, Server, copy_library, start_server, stop_server

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

STRANGERS = {
    "clooney": UNKNOWN,
    "damon": PEOPLE / "Matt_Damon",
    "kit": PEOPLE / "Kit_Harington",
    "rose": PEOPLE / "Rose_Leslie",
}
"""Each test acts on a stranger of its own, so none depends on another having run."""
SCANNED_LATER = PEOPLE / "Jack_Dorsey"
"""Scanned while the server runs, clustered only when the test runs what the job runs."""

NASTY = "<img src=x onerror=alert(1)> Clooney"


@dataclass
class Site:
    server: Server
    library: Path
    detector: FaceDetector
    embedder: FaceEmbedder

    def open(self) -> Library:
        return Library(self.library, create=False, detector=self.detector, embedder=self.embedder)


@pytest.fixture(scope="module")
def site(
    workspace_library: Path,
    tmp_path_factory: pytest.TempPathFactory,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> Iterator[Site]:
    copy = copy_library(workspace_library, tmp_path_factory.mktemp("unknowns") / "lib")
    with Library(copy, create=False, detector=detector, embedder=embedder) as library:
        library.scan([STRANGERS["damon"], STRANGERS["kit"], STRANGERS["rose"]])
        UnknownPeople(library).refresh()
    server = start_server(copy)
    try:
        yield Site(server, copy, detector, embedder)
    finally:
        stop_server(server)


def _clusters(server: Server) -> list[dict[str, Any]]:
    answer = server.api("viewer").get("/api/v1/unknowns", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _cluster_of(server: Server, folder: Path) -> dict[str, Any]:
    """The stored cluster whose faces are all from ``folder``."""
    for cluster in _clusters(server):
        paths = [a["path"] for a in cluster["appearances"]]
        if all(Path(p).parent == folder for p in paths):
            return cluster
    raise AssertionError(f"no unknown person of {folder.name}")


def test_the_list_shows_each_unknown_person_by_media_with_crops_a_page_at_a_time(
    site: Site,
) -> None:
    server = site.server
    api = server.api("viewer")
    everyone = _clusters(server)
    assert len(everyone) >= 4
    media = [c["media"] for c in everyone]
    assert media == sorted(media, reverse=True)
    damon = _cluster_of(server, STRANGERS["damon"])
    assert damon["media"] == 5 and damon["faces"] == 5 and len(damon["sample_faces"]) == 4
    for url in damon["sample_crop_urls"]:
        crop = api.get(url)
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    # one at a time: each once, in order
    seen, after = [], None
    while True:
        page = api.get("/api/v1/unknowns", params={"limit": 1, "after": after}).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == [c["id"] for c in everyone]
    assert api.get("/api/v1/unknowns", params={"after": "[1,2]"}).status_code == 422
    # the page: the same people, their counts and crops; shown faces are audited
    html = server.sign_in("viewer").get("/unknowns")
    assert html.status_code == 200
    assert f'id="cluster-{damon["id"]}"' in html.text
    for face_id in damon["sample_faces"]:
        assert f'src="/faces/{face_id}/crop"' in html.text
    assert "no clustering job has finished yet" in html.text
    assert 'id="cluster-again"' not in html.text  # a viewer may not curate
    viewed = audit(server, "view.sightings", "viewer")
    assert any(set(damon["sample_faces"]) <= set(r["items"]["faces"]) for r in viewed)


def test_one_unknown_persons_faces_come_a_page_at_a_time(site: Site) -> None:
    server = site.server
    kit = _cluster_of(server, STRANGERS["kit"])
    api = server.api("viewer")
    seen, after = [], None
    while True:
        page = api.get(f"/api/v1/unknowns/{kit['id']}", params={"limit": 2, "after": after})
        assert page.status_code == 200, page.text
        seen += [s["face_id"] for s in page.json()["items"]]
        after = page.json()["next_after"]
        if after is None:
            break
    assert sorted(seen) == sorted(f for a in kit["appearances"] for f in a["face_ids"])
    assert len(seen) == len(set(seen)) == kit["faces"]
    html = server.sign_in("viewer").get(f"/unknowns/{kit['id']}")
    assert html.status_code == 200 and all(f'id="face-{f}"' in html.text for f in seen)
    assert 'id="split-submit"' not in html.text and 'id="name-form"' not in html.text
    assert api.get("/api/v1/unknowns/987654321").status_code == 404


def test_the_list_is_read_as_stored_and_clustering_is_a_queued_job(site: Site) -> None:
    server = site.server
    with site.open() as library:
        summary = library.scan([SCANNED_LATER])
        assert summary.failures == []
        later = {
            s.face_id
            for s in library.sightings(include_unmatched=True)
            if Path(s.path).parent == SCANNED_LATER
        }
    assert len(later) >= 4
    clustered = {f for c in _clusters(server) for a in c["appearances"] for f in a["face_ids"]}
    assert not later & clustered  # a request never re-clusters
    assert server.api("viewer").get("/api/v1/unknowns").json()["refreshed_at"] is None
    # queueing a clustering job: curate (reviewer, admin), not a viewer
    assert server.api("viewer").post("/api/v1/jobs/cluster", json={}).status_code == 403
    queued = server.api("reviewer").post("/api/v1/jobs/cluster", json={})
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["kind"] == "cluster" and job["url"] == f"/jobs/{job['id']}"
    assert any(r["actor"] == "reviewer" for r in audit(server, "job.submit", "reviewer"))
    # the server's worker runs it: the faces scanned since are an unknown person now
    deadline = time.monotonic() + 120
    while (state := server.api("viewer").get(f"/api/v1/jobs/{job['id']}").json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["state"] == "done", state
    assert _cluster_of(server, SCANNED_LATER)["faces"] >= 4
    listed = server.api("viewer").get("/api/v1/unknowns").json()
    assert listed["refreshed_at"] == state["finished_at"] and listed["clustering_job"] is None
    page = server.sign_in("viewer").get("/unknowns")
    assert f'id="refreshed-at">{state["finished_at"]}<' in page.text


def test_split_and_merge_need_curate_and_are_audited_under_the_account(site: Site) -> None:
    server = site.server
    damon = _cluster_of(server, STRANGERS["damon"])
    face = damon["appearances"][0]["face_ids"][0]
    body = {"face_ids": [face], "as_new": True}
    split_url = f"/api/v1/unknowns/{damon['id']}/split"
    assert server.api("viewer").post(split_url, json=body).status_code == 403
    refused = send_form(server, "viewer", f"/unknowns/{damon['id']}/split", {"face": face})
    assert refused.status_code == 403
    split = server.api("reviewer").post(split_url, json=body)
    assert split.status_code == 200, split.text
    new_id = split.json()["new_cluster_id"]
    moved = server.api("viewer").get(f"/api/v1/unknowns/{new_id}").json()["items"]
    assert [s["face_id"] for s in moved] == [face]
    records = audit(server, "unknowns.split", "reviewer")
    assert records and records[0]["items"]["faces"] == [face]
    # merged back by the page's form (an admin may curate too)
    merge_url = f"/unknowns/{damon['id']}/merge"
    assert send_form(server, "viewer", merge_url, {"other": new_id}).status_code == 403
    assert (
        server.api("viewer")
        .post(f"/api/v1/unknowns/{damon['id']}/merge", json={"other": new_id})
        .status_code
        == 403
    )
    merged = send_form(server, "admin", merge_url, {"other": new_id})
    assert merged.status_code == 303 and merged.headers["location"] == f"/unknowns/{damon['id']}"
    assert server.api("viewer").get(f"/api/v1/unknowns/{new_id}").status_code == 404
    after = server.api("viewer").get(f"/api/v1/unknowns/{damon['id']}").json()
    assert face in [s["face_id"] for s in after["items"]]
    records = audit(server, "unknowns.merge", "admin")
    assert records and records[0]["items"]["clusters"] == [damon["id"], new_id]
    # the page's split form: the selected faces come off, the page comes back
    again = send_form(server, "reviewer", f"/unknowns/{damon['id']}/split", {"face": face})
    assert again.status_code == 303
    left = server.api("viewer").get(f"/api/v1/unknowns/{damon['id']}").json()["items"]
    assert face not in [s["face_id"] for s in left]


def test_naming_needs_name_enrolls_and_queues_a_rematch_and_shows_the_name_as_text(
    site: Site,
) -> None:
    server = site.server
    clooney = _cluster_of(server, STRANGERS["clooney"])
    url = f"/unknowns/{clooney['id']}/name"
    for role in ("viewer", "reviewer"):
        assert send_form(server, role, url, {"name": NASTY}).status_code == 403
        refused = server.api(role).post(f"/api/v1{url}", json={"name": NASTY})
        assert refused.status_code == 403
    named = send_form(server, "admin", url, {"name": NASTY, "best": "2"})
    assert named.status_code == 200, named.text
    assert "&lt;img src=x onerror=alert(1)&gt; Clooney" in named.text
    assert NASTY not in named.text
    job_id = int(re.findall(r'href="/jobs/(\d+)"', named.text)[0])
    with site.open() as library:
        job = library.jobs.job(job_id)
        assert job.kind == JobKind.REMATCH and job.created_by == "admin"
        person = library.store.require_person(NASTY)
        confirmed = [s for s in library.sightings(NASTY) if s.decision == "confirmed"]
        assert len(confirmed) == 2  # its two best faces, enrolled as references
    assert f'href="/people/{person}"' in named.text
    # the server's own view of the references is current at once (not only after the job)
    shown = server.sign_in("viewer").get(f"/people/{person}")
    assert shown.status_code == 200 and shown.text.count('src="/references/') == 2
    assert server.api("viewer").get(f"/api/v1/unknowns/{clooney['id']}").status_code == 404
    records = audit(server, "unknowns.name", "admin")
    assert records and records[0]["items"]["people"] == [person]


def test_the_api_names_an_unknown_person_and_answers_the_rematch_job(site: Site) -> None:
    server = site.server
    target = _cluster_of(server, STRANGERS["rose"])
    answer = server.api("admin").post(
        f"/api/v1/unknowns/{target['id']}/name", json={"name": "Someone Named", "best": 1}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["person"] == "Someone Named" and len(body["references"]) == 1
    assert body["rematch_job"]["kind"] == "rematch"
    assert body["rematch_job"]["url"] == f"/jobs/{body['rematch_job']['id']}"


def test_an_admin_names_an_unknown_person_in_the_browser(site: Site, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    url = site.server.url
    kit = _cluster_of(site.server, STRANGERS["kit"])
    sign_in_browser(browser, url, "admin")
    browser.get(f"{url}/unknowns")
    card = browser.find_element(By.ID, f"cluster-{kit['id']}")
    widths = crop_widths(browser)
    assert widths and min(widths) > 0, widths
    screenshot(browser, "unknowns")
    card.find_element(By.CSS_SELECTOR, "a.open").click()
    find(browser, "name").send_keys("Kit Harington")
    browser.find_element(By.ID, "name-submit").click()
    said = find(browser, "done").text
    assert "is now Kit Harington" in said and "job #" in said
    browser.find_element(By.LINK_TEXT, "Kit Harington")
    with site.open() as library:
        assert library.store.person_id("Kit Harington") is not None
    # Cluster again: the job is queued through the jobs API and its page opens
    browser.get(f"{url}/unknowns")
    find(browser, "cluster-again").click()
    deadline = time.monotonic() + 30
    while "/jobs/" not in browser.current_url:
        assert time.monotonic() < deadline, browser.current_url
        time.sleep(0.1)
