"""README's "Review in the browser" walkthrough, followed as written: the library made with
the commands it lists (enroll, the same face under a second name, ``collections add`` of
../shared/faces/people, ``users add alice --role admin``), ``facesight serve`` started for
real, and Chromium clicking the buttons the README names, in its order: sign in, scan,
confirm a face by key, cluster and name an unknown person, merge the conflict, generate a
report and download its files and manifest; then Jobs, Find similar and Verify the chain.
Each step's outcome is checked where the README says it shows."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .curation import crop_widths, find, sign_in_browser
from .pages import audit_records, face_ids
from .paths import PEOPLE, REPO
from .tools import screenshot
from .workspace import PASSWORD, Server, facesight, start_server, stop_server, wait_until

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


README = REPO / "README.md"
NAMED = "Katy Perry"
"""The unknown person in the most photos of ../shared/faces/people once the README's three
people are enrolled (her eight photos): the one the README names."""


def _section() -> str:
    text = README.read_text()
    start = text.index("## Review in the browser")
    return text[start : text.index("\n## ", start + 1)]


def _setup_commands() -> list[list[str]]:
    """The README's commands before ``facesight serve``, with its shell variable expanded:
    each as the arguments after ``facesight``."""
    block = re.search(r"```\n(export FACESIGHT_LIBRARY.*?)```", _section(), re.S)
    assert block is not None, "the walkthrough's command block is missing"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("facesight ") and line != "facesight serve":
            words = re.findall(r'"[^"]*"|\S+', line.replace("$people", str(PEOPLE)))
            commands.append([w.strip('"') for w in words[1:]])
    return commands


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A new library made by the README's commands, served."""
    library = tmp_path_factory.mktemp("walkthrough") / "lib"
    commands = _setup_commands()
    assert [c[:2] for c in commands][-2:] == [["collections", "add"], ["users", "add"]]
    for args in commands:
        if args[:2] == ["users", "add"]:  # it asks for the password; a test pipes it in
            args = [*args, "--password-stdin"]
        done = facesight(library, *args, stdin=PASSWORD + "\n")
        assert done.returncode == 0, (args, done.stderr)
    served = start_server(library)
    try:
        yield served
    finally:
        stop_server(served)


def _click_link(browser: WebDriver, text: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.LINK_TEXT, text).click()


def _button(browser: WebDriver, text: str) -> Any:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.XPATH, f"//button[normalize-space()='{text}']")
    assert len(found) == 1, f"{len(found)} buttons say {text!r} on {browser.current_url}"
    return found[0]


def _job_finished(browser: WebDriver) -> int:
    """The job whose page the browser shows, once it is done (the page draws itself again
    with the result when the job ends)."""
    from selenium.webdriver.common.by import By

    found = wait_until("the job page", lambda: re.search(r"/jobs/(\d+)$", browser.current_url), 30)

    from selenium.common.exceptions import StaleElementReferenceException

    def finished() -> str:
        try:  # the page draws itself again when the job ends: an element read may be gone
            section = browser.find_elements(By.ID, "job")
            if section and section[0].get_attribute("data-finished") == "true":
                return str(browser.find_element(By.ID, "job-state").text)
        except StaleElementReferenceException:
            pass
        return ""

    state = wait_until(f"job {found.group(1)} to finish", finished, 120)
    assert state == "done", browser.page_source[-2000:]
    return int(found.group(1))


def _download(browser: WebDriver, url: str) -> bytes:
    """A link's file fetched as the browser fetches it (its session cookie, same origin)."""
    encoded = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))"
        ".then(b => { let s = ''; for (const c of new Uint8Array(b)) s += String.fromCharCode(c);"
        " done(btoa(s)); }, e => done('failed: ' + e));",
        url,
    )
    assert not str(encoded).startswith("failed"), (url, encoded)
    return base64.b64decode(encoded)


def test_a_new_user_follows_the_readme_from_users_add_to_a_downloaded_report(
    server: Server, browser: WebDriver
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url = server.url
    # 1. sign in as alice
    sign_in_browser(browser, url, "alice")
    assert "alice (admin)" in browser.find_element(By.CSS_SELECTOR, "form.who").text

    # 2. Collections -> Scan now: the job page follows the scan to done
    _click_link(browser, "Collections")
    assert str(PEOPLE.resolve()) in browser.find_element(By.CSS_SELECTOR, "h2.path").text
    _button(browser, "Scan now").click()
    scan_job = _job_finished(browser)
    result = json.loads(browser.find_element(By.ID, "job-result").text)
    assert result["media_scanned"] >= 70 and result["failures"] == 0, result

    # 3. Review queue: c confirms the highlighted (first) face
    _click_link(browser, "Review queue")
    cards = browser.find_elements(By.CSS_SELECTOR, "#queue .card[data-face-id]")
    assert len(cards) >= 5
    first = cards[0]
    face = int(str(first.get_attribute("data-face-id")))
    assert str(first.get_attribute("data-state")).startswith("pending")
    assert min(crop_widths(browser)) > 0
    ActionChains(browser).send_keys("c").perform()
    wait_until(
        "the confirmation",
        lambda: str(first.get_attribute("data-state")).startswith("confirmed"),
        120,
    )
    screenshot(browser, "review")
    reviewed = audit_records(server.library, "--action", "review")
    confirms = [r for r in reviewed if r["action"] == "review.confirm"]
    assert [(face_ids(r), r["actor"]) for r in confirms] == [([face], "alice")]

    # 4. Unknown people -> Cluster again; open the first; Name and enroll
    _click_link(browser, "Unknown people")
    _button(browser, "Cluster again").click()
    _job_finished(browser)
    _click_link(browser, "Unknown people")
    opened = browser.find_elements(By.CSS_SELECTOR, "#clusters .card a.open")[0]
    assert opened.text.startswith("Unknown person ")
    opened.click()
    paths = [
        str(p.get_attribute("title")) for p in browser.find_elements(By.CSS_SELECTOR, "dd.path")
    ]
    assert len(paths) == 8 and all("/Katy_Perry/" in p for p in paths), paths
    find(browser, "name").send_keys(NAMED)
    _button(browser, "Name and enroll").click()
    assert f"is now {NAMED}" in find(browser, "done").text
    _click_link(browser, "People")
    assert browser.find_element(By.LINK_TEXT, NAMED)

    # 5. Conflicts -> Merge, keep "Barack Obama": the conflict is gone
    _click_link(browser, "Conflicts")
    assert browser.find_elements(By.CSS_SELECTOR, "#person-conflicts .card")
    _button(browser, "Merge, keep “Barack Obama”").click()
    assert "Barry Obama is now part of Barack Obama" in find(browser, "done").text
    _click_link(browser, "Conflicts")
    assert find(browser, "no-person-conflicts").text == "No person conflicts."

    # 6. Reports -> Generate: the files and the manifest that vouches for them
    _click_link(browser, "Reports")
    _button(browser, "Generate").click()
    report_job = _job_finished(browser)
    links = {
        str(a.text): str(a.get_attribute("href"))
        for a in browser.find_elements(By.CSS_SELECTOR, "ul.files a[download]")
    }
    files = {name: _download(browser, href) for name, href in links.items()}
    manifests = [name for name in files if name.endswith(".manifest.json")]
    assert len(manifests) == 1, sorted(files)
    manifest = json.loads(files[manifests[0]])
    vouched = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert sorted(vouched) == sorted(set(files) - set(manifests))
    assert {Path(name).suffix for name in vouched} == {".html", ".csv", ".json"}
    for name, sha256 in vouched.items():
        assert hashlib.sha256(files[name]).hexdigest() == sha256, name
    rows = json.loads(next(files[n] for n in vouched if n.endswith(".json")))["rows"]
    assert {(r["face_id"], r["status"]) for r in rows if r["face_id"] == face} == {
        (face, "confirmed")
    }
    _click_link(browser, "Reports")
    listed = browser.find_elements(By.CSS_SELECTOR, f"#report-{report_job} a.download")
    assert sorted(a.text for a in listed) == sorted(files)

    # Jobs, Search by face (Find similar), Audit log (Verify the chain)
    _click_link(browser, "Jobs")
    for job_id in (scan_job, report_job):
        assert browser.find_elements(By.CSS_SELECTOR, f"a[href='/jobs/{job_id}']")
    _click_link(browser, "Review queue")
    _click_link(browser, "Find similar")
    assert browser.find_elements(By.CSS_SELECTOR, "#results tr.hit")
    _click_link(browser, "Audit log")
    _button(browser, "Verify the chain").click()
    assert find(browser, "verified").text.startswith("The audit log is intact")
