"""Helpers of the Unknown people and Conflicts tests: the audit log through the admin's API,
a page's form sent as a browser sends it, and signing Chromium in."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from .workspace import Server, browser_sign_in, wait_until

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def audit(server: Server, action: str, actor: str) -> list[dict[str, Any]]:
    """The audit records of ``action`` by ``actor``, newest first (``/api/v1/audit``)."""
    answer = server.api("admin").get("/api/v1/audit", params={"action": action, "actor": actor})
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()["items"]
    return records


def send_form(server: Server, role: str, url: str, data: dict[str, Any]) -> httpx.Response:
    """A page's form posted as ``role`` signed in by the login form, with its CSRF field."""
    client = server.sign_in(role)
    return client.post(url, data={"csrf": server.csrf(client), **data})


def sign_in_browser(browser: WebDriver, url: str, name: str) -> None:
    """Chromium signed in as ``name`` through the login form (back on the home page)."""
    browser_sign_in(browser, url, name)
    wait_until("the home page", lambda: browser.current_url.rstrip("/") == url, browser=browser)


def crop_widths(browser: WebDriver) -> list[int]:
    """The natural width of every crop on the page once each has loaded or failed (0)."""
    script = (
        "const crops = Array.from(document.querySelectorAll('img.crop'));"
        "return crops.every(i => i.complete) ? crops.map(i => i.naturalWidth) : null;"
    )
    deadline = time.monotonic() + 30
    while (widths := browser.execute_script(script)) is None:
        assert time.monotonic() < deadline, "the crops did not load"
        time.sleep(0.1)
    return [int(w) for w in widths]


def find(browser: WebDriver, element_id: str) -> Any:
    """The element ``element_id`` once the page that has it is there (a click navigates
    on its own time)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    located = expected_conditions.presence_of_element_located((By.ID, element_id))
    return WebDriverWait(browser, 30).until(located)
