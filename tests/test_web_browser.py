"""The review workspace as a reviewer uses it: ``facesight serve`` started for real over a copy
of the workspace library, driven by Debian's Chromium through Selenium. Sign in through the
form, open the review queue, see every crop load, confirm one face by keyboard, reject two in
bulk, open a video sighting and find the player at the track's best frame, sign out; then the
audit log holds those decisions and the views, all under the reviewer's account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import pytest

from facesight.library.facade import Library

from .pages import audit_records, face_ids
from .workspace import (
    HAMILTON,
    PASSWORD,
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


@pytest.fixture(scope="module")
def own_server(
    workspace_library: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own: the decisions made here leave the shared library alone."""
    copy = copy_library(workspace_library, tmp_path_factory.mktemp("browser") / "lib")
    server = start_server(copy)
    try:
        yield server
    finally:
        stop_server(server)


def _state(browser: WebDriver, face_id: int) -> str:
    return str(
        browser.execute_script(f"return document.getElementById('face-{face_id}').dataset.state")
    )


def _press(browser: WebDriver, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(keys).perform()


def _sign_in(browser: WebDriver, url: str, name: str) -> None:
    browser_sign_in(browser, url, name)
    wait_until("the people page", lambda: browser.current_url.rstrip("/") == url)


def test_a_reviewer_decides_in_the_browser_and_the_audit_log_says_so(
    own_server: Server, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    url = own_server.url
    _sign_in(browser, url, "reviewer")

    browser.get(f"{url}/review?kind=image")
    cards = [
        int(c.get_attribute("data-face-id"))
        for c in browser.find_elements(By.CSS_SELECTOR, ".card[data-face-id]")
    ]
    assert len(cards) >= 3
    crops = browser.find_elements(By.CSS_SELECTOR, "img.crop")
    assert len(crops) >= len(cards)
    loaded = "return Array.from(document.images).filter(i => i.classList.contains('crop'))" + (
        ".map(i => i.complete ? i.naturalWidth : -1)"
    )
    widths = wait_until(
        "the crops", lambda: (w := browser.execute_script(loaded)) and min(w) >= 0 and w
    )
    assert all(width > 0 for width in widths), f"crops that did not load: {widths}"

    # the first pending face is the current one: c confirms it
    first = cards[0]
    assert _state(browser, first).startswith("pending")
    _press(browser, "c")
    wait_until("the confirmation", lambda: _state(browser, first).startswith("confirmed"))
    status = browser.find_element(By.CSS_SELECTOR, f"#face-{first} [data-role=status]").text
    assert "confirmed" in status.lower()

    # the current face moved on to the next: select it and the one after, reject both at once
    second, third = cards[1], cards[2]
    _press(browser, "xjx")
    assert browser.find_element(By.ID, "selected-count").text == "2 selected"
    browser.find_element(By.ID, "bulk-reject").click()
    for face in (second, third):
        wait_until(
            f"the rejection of {face}", lambda f=face: _state(browser, f).startswith("rejected")
        )

    # a video sighting: o opens it, the player stands at the track's best frame
    browser.get(f"{url}/review?kind=video")
    video_face = int(
        browser.find_element(By.CSS_SELECTOR, ".card[data-face-id]").get_attribute("data-face-id")
    )
    _press(browser, "o")
    wait_until("the face page", lambda: browser.current_url.endswith(f"/faces/{video_face}"))
    with Library(own_server.library, create=False) as library:
        sighting = library.sighting(video_face)
    assert sighting.time_s is not None
    ready = (
        "const v = document.getElementById('player'); return v && v.readyState >= 1 && !v.seeking"
    )
    wait_until("the player", lambda: browser.execute_script(ready))
    current = float(browser.execute_script("return document.getElementById('player').currentTime"))
    capture = cv2.VideoCapture(str(HAMILTON))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert abs(current - sighting.time_s) <= 1 / fps, (current, sighting.time_s, fps)
    assert "Track from" in browser.find_element(By.ID, "track").text
    assert not browser.find_element(By.ID, "fallback").is_displayed()  # played: no stand-in

    browser.find_element(By.ID, "logout").click()
    wait_until("the login page", lambda: "/login" in browser.current_url)
    browser.get(f"{url}/review")
    assert "/login" in browser.current_url  # signed out: the queue is closed

    records = audit_records(own_server.library, "--actor", "reviewer")
    confirms = [r for r in records if r["action"] == "review.confirm"]
    rejects = [r for r in records if r["action"] == "review.reject"]
    assert [face_ids(r) for r in confirms] == [[first]]
    assert sorted(f for r in rejects for f in face_ids(r)) == sorted([second, third])
    views = [r for r in records if r["action"] == "view.sightings"]
    assert any(set(face_ids(r)) == set(cards) for r in views)  # the queue page as shown
    assert any(face_ids(r) == [video_face] for r in views)  # the face page
    for record in [*confirms, *rejects, *views]:
        assert record["actor"] == "reviewer", record


def test_a_stale_decision_shows_the_current_one_and_an_assignment_asks_first(
    own_server: Server, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url = own_server.url
    _sign_in(browser, url, "admin")
    browser.get(f"{url}/review?kind=image")
    cards = browser.find_elements(By.CSS_SELECTOR, ".card[data-face-id]")
    stale, assigned = (int(c.get_attribute("data-face-id")) for c in cards[:2])

    # another reviewer confirms the current face after this page was drawn
    with own_server.api("reviewer") as api:
        answer = api.post(f"/api/v1/faces/{stale}/decision", json={"action": "confirm"})
        assert answer.status_code == 200, answer.text
    _press(browser, "r")
    status = f"#face-{stale} [data-role=status]"
    text = wait_until(
        "the conflict",
        lambda: "already" in (t := browser.find_element(By.CSS_SELECTOR, status).text) and t,
    )
    assert "already confirmed by reviewer as" in text
    assert _state(browser, stale).startswith("confirmed")

    # assign the next face to someone the rule did not propose: asked, then forced
    with Library(own_server.library, create=False) as library:
        proposed = library.sighting(assigned).person
        other = next(p.name for p in library.people() if p.name != proposed)
    assert _state(browser, assigned).startswith("pending")
    browser.find_element(By.ID, "note").send_keys("seen at the rally", Keys.ESCAPE)
    _press(browser, "a")
    picker = browser.switch_to.active_element
    assert picker.get_attribute("id") == "assign-person"
    Select(picker).select_by_visible_text(other)
    picker.send_keys(Keys.ENTER)
    WebDriverWait(browser, 30).until(expected_conditions.alert_is_present())
    alert = browser.switch_to.alert
    assert "propose" in alert.text or "manual" in alert.text.lower()
    alert.accept()
    wait_until("the assignment", lambda: _state(browser, assigned).startswith("confirmed"))
    with Library(own_server.library, create=False) as library:
        review = library.sighting(assigned).review
    assert review is not None and review.person == other and review.manual
    assert review.note == "seen at the rally"
    assert review.reviewer == "admin"


def test_a_decision_after_the_account_is_disabled_changes_nothing_and_asks_to_sign_in(
    own_server: Server, browser: WebDriver
) -> None:
    made = facesight(
        own_server.library,
        "users",
        "add",
        "leaving",
        "--role",
        "reviewer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    url = own_server.url
    _sign_in(browser, url, "leaving")
    browser.get(f"{url}/review")
    face = int(
        browser.execute_script("return document.querySelector('.card.current').dataset.faceId")
    )
    assert facesight(own_server.library, "users", "disable", "leaving").returncode == 0
    _press(browser, "c")
    wait_until("the login page", lambda: "/login?next=" in browser.current_url)
    with Library(own_server.library, create=False) as library:
        assert library.sighting(face).review is None
