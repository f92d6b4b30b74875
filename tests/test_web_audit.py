"""The audit log page and API over ``facesight serve`` running for real: every filter
(action or family, account, date range, face id, person id) narrows to exactly the records
``facesight audit --json`` holds that match; "Verify the chain" answers ok on a good log and
names the first break on a library copy whose audit row was altered with sqlite3 directly;
only administrators may read or verify; and, in real Chromium, a filter and a verification
(``docs/screenshots/audit.png``)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .pages import audit_records
from .workspace import (
    Server,
    browser_sign_in,
    copy_library,
    facesight,
    start_server,
    stop_server,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


@pytest.fixture(scope="module")
def log(served: Server) -> list[dict[str, Any]]:
    """The log as the CLI prints it, once every account has signed in and has a token and
    the viewer has looked at the review queue (a view record listing faces)."""
    for role in ("viewer", "reviewer", "admin"):
        served.api(role)
        served.sign_in(role)
    assert served.sign_in("viewer").get("/review").status_code == 200
    return audit_records(served.library)


def _ids(served: Server, log: list[dict[str, Any]], **filters: Any) -> list[int]:
    """Every record the API keeps with these filters, page after page, among ``log``'s."""
    client, ids = served.api("admin"), []
    after = str(log[0]["id"] + 1)  # the log as it was: records written since are left out
    while after is not None:
        answer = client.get("/api/v1/audit", params={**filters, "after": after, "limit": 7})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        ids += [r["id"] for r in body["items"]]
        after = body["next_after"]
    return ids


def test_each_filter_keeps_exactly_the_matching_records(
    served: Server, log: list[dict[str, Any]]
) -> None:
    def kept(match: Any) -> list[int]:
        return [r["id"] for r in log if match(r)]

    assert _ids(served, log) == kept(lambda r: True)
    sessions = kept(lambda r: r["action"].startswith("sessions."))
    assert sessions and _ids(served, log, action="sessions") == sessions
    logins = kept(lambda r: r["action"] == "sessions.login")
    assert logins and _ids(served, log, action="sessions.login") == logins
    viewer = kept(lambda r: r["actor"] == "viewer" or r["os_user"] == "viewer")
    assert viewer and _ids(served, log, actor="viewer") == viewer
    both = [i for i in viewer if i in sessions]
    assert _ids(served, log, actor="viewer", action="sessions") == both

    viewed = next(r for r in log if r["items"].get("faces"))
    face = viewed["items"]["faces"][-1]
    with_face = kept(lambda r: face in r["items"].get("faces", []))
    assert viewed["id"] in with_face and _ids(served, log, face_id=face) == with_face
    enrolled = next(r for r in log if r["items"].get("people"))
    person = enrolled["items"]["people"][0]
    with_person = kept(lambda r: person in r["items"].get("people", []))
    assert _ids(served, log, person_id=person) == with_person
    assert _ids(served, log, face_id=10**9) == []


def test_a_date_range_keeps_the_records_written_in_it(
    served: Server, log: list[dict[str, Any]]
) -> None:
    day = date.fromisoformat(log[-1]["at"][:10])
    before, after = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    on_day = [r["id"] for r in log if r["at"][:10] == day.isoformat()]
    assert _ids(served, log, since=day.isoformat(), until=day.isoformat()) == on_day
    assert _ids(served, log, until=before) == []
    assert _ids(served, log, since=after) == []
    middle = log[len(log) // 2]["at"]  # a time, to the second
    assert _ids(served, log, since=middle) == [r["id"] for r in log if r["at"] >= middle]
    wrong = served.api("admin").get("/api/v1/audit", params={"since": "last tuesday"})
    assert wrong.status_code == 422 and "last tuesday" in wrong.json()["detail"]


def test_the_page_filters_and_pages_with_its_filters_kept(
    served: Server, log: list[dict[str, Any]]
) -> None:
    client = served.sign_in("admin")
    page = client.get("/audit", params={"action": "sessions", "actor": "viewer"})
    assert page.status_code == 200
    shown = [int(i) for i in re.findall(r'<tr data-record-id="(\d+)">', page.text)]
    actions = re.findall(r'<td class="action">([^<]+)</td>', page.text)
    assert shown and all(a.startswith("sessions.") for a in actions)
    assert set(shown) >= {
        r["id"] for r in log if r["action"].startswith("sessions.") and r["actor"] == "viewer"
    }
    empty = client.get("/audit", params={"face_id": 10**9})
    assert "No records with these filters" in empty.text


def test_verify_answers_ok_with_the_head_on_a_good_log(served: Server) -> None:
    answer = served.api("admin").post("/api/v1/audit/verify")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    head = facesight(served.library, "audit", "head").stdout.strip()
    count = len(audit_records(served.library))
    assert result == {
        "ok": True,
        "records": count,
        "head": head,
        "problems": [],
        "first_break": None,
    }


def test_only_administrators_read_or_verify_the_log(served: Server) -> None:
    for role in ("viewer", "reviewer"):
        client = served.api(role)
        assert client.get("/api/v1/audit").status_code == 403
        assert client.post("/api/v1/audit/verify").status_code == 403
        page = served.sign_in(role)
        assert page.get("/audit").status_code == 403
        token = served.csrf(page)
        assert page.post("/audit/verify", data={"csrf": token}).status_code == 403
    anonymous = served.client()
    assert anonymous.post("/api/v1/audit/verify").status_code == 401
    admin = served.sign_in("admin")
    assert admin.post("/audit/verify").status_code == 403  # no CSRF token


def _alter(db: Path, sql: str) -> None:
    """``sql`` run as an intruder with the database file would: the append-only triggers
    dropped, the row changed, the triggers put back."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        assert triggers
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute(sql)
        for _, create in triggers:
            conn.execute(create)


@pytest.fixture(scope="module")
def altered(workspace_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a copy of the library whose audit record 3 was altered."""
    copy = copy_library(workspace_library, tmp_path_factory.mktemp("altered") / "lib")
    _alter(copy / "facesight.db", "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    server = start_server(copy)
    try:
        yield server
    finally:
        stop_server(server)


def test_verify_names_the_first_break_of_an_altered_log(altered: Server) -> None:
    answer = altered.api("admin").post("/api/v1/audit/verify")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["ok"] is False and result["first_break"] == 3
    assert result["problems"][0].startswith("record 3:")
    assert result["records"] >= 3
    cli = facesight(altered.library, "audit", "verify")
    assert cli.returncode != 0 and "record 3" in cli.stderr  # the same check as the CLI's
    client = altered.sign_in("admin")
    page = client.post("/audit/verify", data={"csrf": altered.csrf(client, "/audit")})
    assert page.status_code == 200
    assert "The audit log is broken" in page.text and "first break at record 3" in page.text


def test_an_admin_filters_and_verifies_in_the_browser(served: Server, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .tools import screenshot

    browser_sign_in(browser, served.url, "admin")
    browser.get(f"{served.url}/audit")
    browser.find_element(By.ID, "action").send_keys("sessions")
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, 30).until(lambda b: "action=sessions" in b.current_url)
    actions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#records td.action")]
    assert actions and all(a.startswith("sessions.") for a in actions)
    browser.find_element(By.ID, "verify").click()
    verified = WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "verified"))
    assert "The audit log is intact" in verified[0].text
    screenshot(browser, "audit")


def test_the_api_answers_json_errors_for_a_bad_filter(served: Server) -> None:
    answer = served.api("admin").get("/api/v1/audit", params={"face_id": "x"})
    assert answer.status_code == 422 and "face_id" in answer.text


def test_the_cli_filters_as_the_api_does(served: Server, log: list[dict[str, Any]]) -> None:
    face = next(r for r in log if r["items"].get("faces"))["items"]["faces"][0]
    day = log[0]["at"][:10]
    cli = audit_records(served.library, "--face", str(face), "--until", day)
    assert [r["id"] for r in cli if r["id"] <= log[0]["id"]] == _ids(
        served, log, face_id=face, until=day
    )
