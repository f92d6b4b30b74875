"""Real outside tools the tests drive: headless Chromium (Selenium) and ExifTool.

Both are Debian packages that ``scripts/setup.sh test`` installs. Where they are
missing a test is skipped with the install command, except under CI, where a
missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--window-size=1400,1000",
)

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
"""Where :func:`screenshot` keeps the pictures of the main pages that docs/ shows."""


def unavailable(reason: str) -> None:
    """Skip (or, under CI, fail) a test whose outside tool is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: scripts/setup.sh test)")
    pytest.skip(f"{reason}; install with: sudo bash scripts/setup.sh test")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Debian's headless Chromium driven by Selenium, one for the whole run."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        unavailable("Debian's chromium and chromium-driver are not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (a test extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # An explicit driver path: Selenium Manager (which downloads drivers) never runs.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(chromedriver)))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser: WebDriver, name: str) -> Path:
    """The page the browser shows, saved as ``docs/screenshots/NAME.png``: taken by the test
    that drives the page, so the pictures in docs/ are of the pages as they are. Reduced to
    64 colours (a small PNG: the pages are flat colours and text)."""
    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    raw = target.with_suffix(".raw.png")
    browser.save_screenshot(str(raw))
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=64).save(target, optimize=True)
    raw.unlink()
    return target


@pytest.fixture(scope="session")
def exiftool() -> str:
    """The path of ExifTool (Debian's libimage-exiftool-perl)."""
    path = shutil.which("exiftool")
    if path is None:
        unavailable("ExifTool (Debian's libimage-exiftool-perl) is not installed")
    assert path is not None
    return path


def read_xmp(exiftool: str, *paths: Path) -> list[dict[str, Any]]:
    """Each XMP file as ExifTool reads it (structured, numeric values)."""
    done = subprocess.run(
        [exiftool, "-q", "-j", "-struct", "-n", "-XMP:all", *map(str, paths)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == b"", done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result
