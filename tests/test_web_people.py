"""The People pages and ``/api/v1/people`` against ``facesight serve`` running for real over a
copy of the workspace library: the list, a person's sightings by decision category, and every
action (rename, references added and removed, merge, forget with its typed confirmation) as an
admin, refused to the roles the matrix refuses; hostile names shown as text; and the main
actions driven in Chromium."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .tools import screenshot
from .workspace import (
    HOSTILE,
    Server,
    browser_sign_in,
    copy_library,
    start_server,
    stop_server,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def server(workspace_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: renames, merges and erasures leave the shared library alone."""
    copy = copy_library(workspace_library, tmp_path_factory.mktemp("people") / "lib")
    running = start_server(copy)
    try:
        yield running
    finally:
        stop_server(running)


def _ids(server: Server) -> dict[str, int]:
    answer = server.api("viewer").get("/api/v1/people", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return {p["name"]: p["id"] for p in answer.json()["items"]}


_SESSIONS: dict[tuple[str, str], httpx.Client] = {}


def _session(server: Server, role: str) -> httpx.Client:
    """One signed-in client per role and server (a login hashes a password: slow)."""
    key = (server.url, role)
    if key not in _SESSIONS:
        _SESSIONS[key] = server.sign_in(role)
    return _SESSIONS[key]


def _audit(server: Server, action: str) -> list[dict[str, Any]]:
    """The audit records of ``action``, newest first (the API, as an admin)."""
    answer = server.api("admin").get("/api/v1/audit", params={"action": action, "limit": 200})
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()["items"]
    return records


def _form(server: Server, client: httpx.Client, url: str, **fields: Any) -> httpx.Response:
    """A page's form posted as the browser does (its CSRF field included)."""
    return client.post(url, data={"csrf": server.csrf(client, "/people"), **fields})


def _jobs(server: Server) -> list[tuple[int, str, str]]:
    with sqlite3.connect(server.library / "facesight.db") as conn:
        return [
            (int(i), str(k), str(s))
            for i, k, s in conn.execute("SELECT id, kind, state FROM jobs ORDER BY id")
        ]


def _wait_for(what: str, check: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except Exception:  # the page is still loading: its element is not there yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _browse_as_admin(server: Server, browser: WebDriver) -> None:
    browser_sign_in(browser, server.url, "admin")
    _wait_for("the home page", lambda: browser.current_url.rstrip("/") == server.url)


def test_the_people_pages_in_the_browser(server: Server, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    _browse_as_admin(server, browser)
    browser.get(f"{server.url}/people")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".person-link .name")]
    assert HOSTILE in names and len(names) == 5  # the hostile name, shown as text
    screenshot(browser, "people")
    browser.find_element(By.LINK_TEXT, "Barack Obama").click()
    _wait_for("the person page", lambda: browser.find_element(By.ID, "person-name").text)
    assert browser.find_element(By.ID, "person-name").text == "Barack Obama"
    crops = browser.find_elements(By.CSS_SELECTOR, ".card img.crop")
    assert len(crops) >= 3  # the reference and the sightings
    _wait_for(
        "the crops",
        lambda: all(
            browser.execute_script("return arguments[0].naturalWidth", c) > 0 for c in crops
        ),
    )
    screenshot(browser, "person")
    browser.delete_all_cookies()


def test_the_people_list_shows_everyone_with_crops_and_counts(server: Server) -> None:
    page = _session(server, "viewer").get("/people")
    assert page.status_code == 200
    for name, person_id in _ids(server).items():
        shown = name if name != HOSTILE else ESCAPED
        assert f'href="/people/{person_id}" class="person-link">' in page.text
        assert f'<span class="name">{shown}</span>' in page.text
    assert len(re.findall(r'src="/references/\d+/crop"', page.text)) >= 5
    assert HOSTILE not in page.text and "<script>alert" not in page.text
    assert "<th>Confirmed</th><th>Pending</th>" in page.text
    assert 'href="/people"' in page.text  # the menu


def test_a_person_s_sightings_by_category_are_paged_and_viewed(server: Server) -> None:
    person_id = _ids(server)["Barack Obama"]
    api = server.api("viewer")
    seen: list[int] = []
    after = None
    while True:
        params: dict[str, Any] = {"category": "machine match", "limit": 1}
        if after:
            params["after"] = after
        answer = api.get(f"/api/v1/people/{person_id}/sightings", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [item["face_id"] for item in body["items"]]
        after = body["next_after"]
        if after is None:
            break
    assert len(seen) == body["total"] >= 2 and len(set(seen)) == len(seen)
    assert (
        api.get(f"/api/v1/people/{person_id}/sightings", params={"category": "x"}).status_code
        == 422
    )
    confirmed = api.get(f"/api/v1/people/{person_id}/sightings", params={"category": "confirmed"})
    assert confirmed.json()["total"] == 0

    client = _session(server, "viewer")
    newest = _audit(server, "view.sightings")[0]["id"]
    page = client.get(f"/people/{person_id}", params={"category": "machine match"})
    assert page.status_code == 200 and 'aria-current="page">machine match</a>' in page.text
    shown = [int(i) for i in re.findall(r'<a href="/faces/(\d+)" class="open">', page.text)]
    assert sorted(shown) == sorted(seen)
    records = [r for r in _audit(server, "view.sightings") if r["id"] > newest]
    assert len(records) == 1 and records[0]["items"]["faces"] == shown
    assert records[0]["actor"] == "viewer"
    assert client.get(f"/people/{person_id}", params={"category": "<b>"}).status_code == 422


def test_buttons_only_for_the_roles_allowed(server: Server) -> None:
    person_id = _ids(server)["Barack Obama"]
    viewer = _session(server, "viewer").get(f"/people/{person_id}").text
    reviewer = _session(server, "reviewer").get(f"/people/{person_id}").text
    admin = _session(server, "admin").get(f"/people/{person_id}").text
    for form in ("rename-form", "merge-form", "forget-form"):
        assert form not in viewer and form not in reviewer and form in admin


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_the_actions_are_refused_to_roles_without_the_permission(server: Server, role: str) -> None:
    ids = _ids(server)
    person_id, other = ids["Angelina Jolie"], ids["Joe Biden"]
    api = server.api(role)
    refused = [
        api.post(f"/api/v1/people/{person_id}/rename", json={"name": "Someone Else"}),
        api.post(f"/api/v1/people/{person_id}/references", json={"face_id": 1}),
        api.delete(f"/api/v1/people/{person_id}/references/1"),
        api.post(f"/api/v1/people/{person_id}/merge", json={"other_id": other}),
        api.request("DELETE", f"/api/v1/people/{person_id}", json={"confirm": "Angelina Jolie"}),
    ]
    client = _session(server, role)
    refused += [
        _form(server, client, f"/people/{person_id}/rename", name="Someone Else"),
        _form(server, client, f"/people/{person_id}/merge", other_id=other, keep="this"),
        _form(server, client, f"/people/{person_id}/forget", confirm="Angelina Jolie"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {"Angelina Jolie", "Joe Biden"} <= set(_ids(server))


def test_an_admin_renames_in_the_api_and_the_page(server: Server) -> None:
    ids = _ids(server)
    person_id = ids["Angelina Jolie"]
    api = server.api("admin")
    answer = api.post(f"/api/v1/people/{person_id}/rename", json={"name": " Angelina  Jolie-Pitt "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["person"]["name"] == "Angelina Jolie-Pitt"
    assert answer.json()["rematch_job_id"] is None  # a name lives in one row
    taken = api.post(f"/api/v1/people/{person_id}/rename", json={"name": "JOE BIDEN"})
    assert taken.status_code == 422 and "another enrolled person" in taken.json()["detail"]
    control = api.post(f"/api/v1/people/{person_id}/rename", json={"name": "a\nb"})
    assert control.status_code == 422

    client = _session(server, "admin")
    done = _form(server, client, f"/people/{person_id}/rename", name="Angelina Jolie")
    assert done.status_code == 303
    assert done.headers["location"] == f"/people/{person_id}?done=renamed"
    page = client.get(done.headers["location"])
    assert (
        "Renamed." in page.text
        and '<h1 class="name" id="person-name">Angelina Jolie</h1>' in page.text
    )
    record = _audit(server, "people.rename")[0]
    assert record["items"]["people"] == [person_id] and record["actor"] == "admin"


def test_a_hostile_name_given_by_rename_is_text_on_every_new_page(server: Server) -> None:
    ids = _ids(server)
    api = server.api("admin")
    hostile = '<img src=x onerror="alert(2)">'
    answer = api.post(f"/api/v1/people/{ids['Lin-Manuel Miranda']}/rename", json={"name": hostile})
    assert answer.status_code == 200, answer.text
    client = _session(server, "admin")
    for url in (
        "/people",
        f"/people/{ids[HOSTILE]}",
        f"/people/{ids['Lin-Manuel Miranda']}",
        f"/people/{ids['Joe Biden']}",  # the merge form lists the others
        f"/people/{ids[HOSTILE]}?category=confirmed",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert HOSTILE not in page.text and "<script>alert" not in page.text, url
        assert "<img src=x" not in page.text, url
    assert ESCAPED in client.get(f"/people/{ids[HOSTILE]}").text
    back = api.post(
        f"/api/v1/people/{ids['Lin-Manuel Miranda']}/rename", json={"name": "Lin-Manuel Miranda"}
    )
    assert back.status_code == 200


def test_an_admin_adds_a_reference_from_a_confirmed_face_and_removes_one(server: Server) -> None:
    person_id = _ids(server)["Barack Obama"]
    api = server.api("admin")
    pending = api.get(
        f"/api/v1/people/{person_id}/sightings", params={"category": "machine match"}
    ).json()["items"][0]
    face = pending["face_id"]
    refused = api.post(f"/api/v1/people/{person_id}/references", json={"face_id": face})
    assert refused.status_code == 422 and "not confirmed" in refused.json()["detail"]
    decided = api.post(
        f"/api/v1/faces/{face}/decision", json={"action": "confirm", "expected": pending["state"]}
    )
    assert decided.status_code == 200, decided.text

    client = _session(server, "admin")
    page = client.get(f"/people/{person_id}", params={"category": "confirmed"})
    assert f'name="face_id" value="{face}"' in page.text
    added = _form(server, client, f"/people/{person_id}/references", face_id=face)
    assert added.status_code == 303, added.text
    job = int(re.search(r"job=(\d+)", added.headers["location"]).group(1))  # type: ignore[union-attr]
    assert (job, "rematch") in [(i, kind) for i, kind, _ in _jobs(server)]
    shown = client.get(added.headers["location"]).text
    assert "now one of their references" in shown and f'href="/jobs/{job}"' in shown

    person = api.get(f"/api/v1/people/{person_id}").json()
    references = person["reference_faces"]
    assert [r["face_id"] for r in references][-1] == face and len(references) == 2
    enrolled = references[0]["id"]
    removed = _form(server, client, f"/people/{person_id}/references/{enrolled}/remove")
    assert removed.status_code == 303, removed.text
    second = int(re.search(r"job=(\d+)", removed.headers["location"]).group(1))  # type: ignore[union-attr]
    assert second > job and "reference was removed" in client.get(removed.headers["location"]).text
    now = api.get(f"/api/v1/people/{person_id}").json()["reference_faces"]
    assert [r["id"] for r in now] == [references[1]["id"]]
    assert api.get(f"/references/{enrolled}/crop").status_code == 404
    last = api.delete(f"/api/v1/people/{person_id}/references/{references[1]['id']}")
    assert last.status_code == 422 and "forget" in last.json()["detail"]
    other = _ids(server)["Joe Biden"]
    assert api.delete(f"/api/v1/people/{other}/references/{references[1]['id']}").status_code == 404
    record = _audit(server, "reference.remove")[0]
    assert record["items"]["references"] == [enrolled] and record["actor"] == "admin"


def test_an_admin_merges_two_people_keeping_either_name(server: Server) -> None:
    ids = _ids(server)
    api = server.api("admin")
    client = _session(server, "admin")
    answer = _form(
        server,
        client,
        f"/people/{ids['Lin-Manuel Miranda']}/merge",
        other_id=ids["Joe Biden"],
        keep="other",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"/people/{ids['Joe Biden']}?done=merged&job=")
    assert "The two people are one now." in client.get(answer.headers["location"]).text
    kept = api.get(f"/api/v1/people/{ids['Joe Biden']}").json()
    assert kept["references"] == 2 and len(kept["reference_faces"]) == 2
    record = _audit(server, "conflicts.merge")[0]
    assert record["items"]["people"] == [ids["Joe Biden"], ids["Lin-Manuel Miranda"]]
    assert "Lin-Manuel Miranda" not in _ids(server)
    same = api.post(f"/api/v1/people/{ids['Joe Biden']}/merge", json={"other_id": ids["Joe Biden"]})
    assert same.status_code == 422

    merged = api.post(
        f"/api/v1/people/{ids[HOSTILE]}/merge",
        json={"other_id": ids["Barack Obama"], "keep": "other"},
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["person"]["id"] == ids["Barack Obama"] and body["absorbed_id"] == ids[HOSTILE]
    assert body["person"]["references"] == 2 and body["rematch_job_id"] is not None
    assert HOSTILE not in _ids(server)


def test_forget_needs_the_exact_name_typed(server: Server) -> None:
    ids = _ids(server)
    person_id = ids["Joe Biden"]
    api = server.api("admin")
    for typed in ("joe biden", "Joe Biden ", "", "Joe"):
        wrong = api.request("DELETE", f"/api/v1/people/{person_id}", json={"confirm": typed})
        assert wrong.status_code == 422, typed
    assert api.delete(f"/api/v1/people/{person_id}").status_code == 422  # no confirm at all
    client = _session(server, "admin")
    page = _form(server, client, f"/people/{person_id}/forget", confirm="JOE BIDEN")
    assert page.status_code == 422 and "type their name exactly" in page.text
    assert "Joe Biden" in _ids(server)
    assert _audit(server, "forget") == []

    done = api.request(
        "DELETE",
        f"/api/v1/people/{person_id}",
        json={"confirm": "Joe Biden", "with_sightings": False},
    )
    assert done.status_code == 200, done.text
    assert done.json()["references_removed"] == 2 and done.json()["rematch_job_id"]
    assert "Joe Biden" not in _ids(server)
    assert api.get(f"/api/v1/people/{person_id}").status_code == 404


def test_people_and_forget_in_the_browser(server: Server, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    def text_of(element_id: str) -> str:
        return str(browser.find_element(By.ID, element_id).text)

    url = server.url
    _browse_as_admin(server, browser)
    browser.get(f"{url}/people")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".person-link .name")]
    assert "Angelina Jolie" in names and "Barack Obama" in names

    browser.find_element(By.LINK_TEXT, "Angelina Jolie").click()
    _wait_for("the person page", lambda: text_of("person-name") == "Angelina Jolie")
    field = browser.find_element(By.ID, "rename-name")
    field.clear()
    field.send_keys("Angelina J.")
    browser.find_element(By.CSS_SELECTOR, "#rename-form button").click()
    _wait_for("the new name", lambda: text_of("person-name") == "Angelina J.")
    assert text_of("message") == "Renamed."

    browser.find_element(By.ID, "forget-confirm").send_keys("Angelina")
    browser.find_element(By.ID, "forget-button").click()
    _wait_for(
        "the refusal",
        lambda: "type their name exactly" in browser.find_element(By.CSS_SELECTOR, ".error").text,
    )
    browser.back()
    confirm = _wait_for("the person page", lambda: browser.find_element(By.ID, "forget-confirm"))
    confirm.clear()
    confirm.send_keys("Angelina J.")
    browser.find_element(By.ID, "forget-button").click()
    _wait_for("the people list", lambda: "/people?done=forgotten" in browser.current_url)
    assert "forgotten" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "job-link").get_attribute("href").startswith(f"{url}/jobs/")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".person-link .name")]
    assert "Angelina J." not in names and "Barack Obama" in names
    browser.delete_all_cookies()
