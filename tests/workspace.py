"""The review workspace as its users meet it: a library scanned from ../shared/faces, three
accounts made with ``facesight users add``, and ``facesight serve`` running for real on
127.0.0.1 (a subprocess on a free port). tests/conftest.py loads these fixtures for every
test module.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from facesight.library.facade import Library
from facesight.library.unknowns import UnknownPeople
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import GROUP, LFW_DEV, PEOPLE, REPO, SHARED_FACES

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

HAMILTON = SHARED_FACES / "video" / "face_recognition_short_hamilton_clip.mp4"
ROLES = ("viewer", "reviewer", "admin")
PASSWORD = "correct horse battery staple"
"""Every test account's password (accounts are named after their role)."""

HOSTILE = "<script>alert(1)</script>"
ENROLLED = {
    "Barack Obama": PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg",
    "Angelina Jolie": PEOPLE / "Angelina_Jolie" / "deepface_img1.jpg",
    "Lin-Manuel Miranda": PEOPLE / "Lin_Manuel_Miranda" / "face_recognition_lin-manuel-miranda.jpg",
    "Joe Biden": PEOPLE / "Joe_Biden" / sorted(os.listdir(PEOPLE / "Joe_Biden"))[0],
    # a hostile name: every page must show it as text
    HOSTILE: PEOPLE / "Katy_Perry" / sorted(os.listdir(PEOPLE / "Katy_Perry"))[0],
}
UNKNOWN = PEOPLE / "George_Clooney"
"""Photos of someone nobody enrolled: they form one unknown person (a cluster)."""


def facesight(
    library: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line on ``library``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "facesight", "--library", str(library), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="session")
def workspace_library(
    tmp_path_factory: pytest.TempPathFactory, detector: FaceDetector, embedder: FaceEmbedder
) -> Path:
    """A library with four people enrolled, their other photos, two group photos and a video
    scanned, photos of an unknown person clustered (as the clustering job stores them), and
    one account per role (named viewer, reviewer, admin)."""
    path = tmp_path_factory.mktemp("workspace") / "lib"
    with Library(path, detector=detector, embedder=embedder) as library:
        for name, photo in ENROLLED.items():
            library.enroll(name, [photo])
        scanned = [p.parent for p in ENROLLED.values()]
        summary = library.scan([*scanned, GROUP / "face_recognition_obama_and_biden.jpg", HAMILTON])
        assert summary.failures == [] and summary.videos_scanned == 1
        assert len(library.pending()) >= 6
        library.scan([UNKNOWN])
        assert any(c.media >= 3 for c in UnknownPeople(library).clusters())
    for role in ROLES:
        made = facesight(
            path, "users", "add", role, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert made.returncode == 0, made.stderr
    return path


@dataclass
class Server:
    """``facesight serve`` running on ``url`` over ``library``."""

    url: str
    library: Path
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)
    """Every client made here, closed by :func:`stop_server` (none left to the GC to warn)."""
    apis: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        """A client of this server with no account signed in."""
        client = httpx.Client(base_url=self.url, timeout=60, follow_redirects=False)
        self.clients.append(client)
        return client

    def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """A client signed in as ``name`` through the login form (its CSRF token included)."""
        client = self.client()
        answer = log_in(client, name, password)
        assert answer.status_code == 303, answer.text
        return client

    def csrf(self, client: httpx.Client, page: str = "/") -> str:
        """The CSRF token a signed-in page carries."""
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', client.get(page).text)
        assert found is not None
        return found.group(1)

    def token(self, name: str) -> str:
        """An API token of ``name`` (made once with ``facesight users token``)."""
        if name not in self.tokens:
            made = facesight(self.library, "users", "token", name)
            assert made.returncode == 0, made.stderr
            self.tokens[name] = made.stdout.strip().splitlines()[-1]
        return self.tokens[name]

    def api(self, name: str) -> httpx.Client:
        """An API client with ``name``'s token (one per name)."""
        if name not in self.apis:
            self.apis[name] = httpx.Client(
                base_url=self.url,
                timeout=60,
                headers={"Authorization": f"Bearer {self.token(name)}"},
            )
            self.clients.append(self.apis[name])
        return self.apis[name]


def log_in(client: httpx.Client, name: str, password: str, **fields: str) -> httpx.Response:
    """The login form filled in and sent as a browser does (the form's token from a fresh
    page, its cookie kept by ``client``); the answer, whatever it is."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    data = {"name": name, "password": password, "csrf": token.group(1), **fields}
    return client.post("/login", data=data)


def start_server(library: Path, *args: str) -> Server:
    """``facesight serve --port 0`` on ``library``; returns once it answers."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facesight",
            "--library",
            str(library),
            "serve",
            "--port",
            "0",
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    # with --secure-cookies it prints the https:// address a TLS proxy would serve; the
    # tests talk to the app itself, which speaks plain HTTP behind that proxy
    line = process.stdout.readline().strip().replace("https://", "http://", 1)
    if not line.startswith("http"):
        process.kill()
        raise AssertionError(
            f"serve printed {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(line + "login", timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.2)
    return Server(line.rstrip("/"), library, process)


@pytest.fixture(scope="session")
def served(workspace_library: Path) -> Iterator[Server]:
    """The workspace served for the whole run."""
    server = start_server(workspace_library)
    yield server
    stop_server(server)


def copy_library(library: Path, to: Path) -> Path:
    """A copy of ``library`` at ``to`` (its database copied with SQLite's backup API while a
    server may hold it open, the crops and index as files): tests that decide faces use
    one, so the shared library stays as the other tests expect it."""
    shutil.copytree(library, to, ignore=shutil.ignore_patterns("facesight.db*", ".session-*"))
    with (
        contextlib.closing(sqlite3.connect(library / "facesight.db")) as source,
        contextlib.closing(sqlite3.connect(to / "facesight.db")) as target,
    ):
        source.backup(target)
    return to


def stop_server(server: Server) -> None:
    """Stop ``server``; close its clients and pipes."""
    for client in server.clients:
        client.close()
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=30)
    for pipe in (server.process.stdout, server.process.stderr):
        if pipe is not None:
            pipe.close()


def wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = 30, browser: WebDriver | None = None
) -> Any:
    """``check()``'s first true value, polled every 0.1 s; past ``timeout_s`` an assertion
    that names ``what`` and, given ``browser``, what the page's #message said."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            said = ""
            if browser is not None:
                said = browser.execute_script(
                    "const m = document.getElementById('message'); return m && m.textContent"
                )
            raise AssertionError(f"timed out waiting for {what} (the page said: {said!r})")
        time.sleep(0.1)


def browser_sign_in(browser: WebDriver, url: str, name: str, password: str = PASSWORD) -> None:
    """Chromium signed in as ``name`` through the login form of the server at ``url``, from
    no session (its cookies deleted); returns once the browser has left /login."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{url}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    wait_until(
        f"{name} to be signed in", lambda: "/login" not in browser.current_url, browser=browser
    )


def scan_portraits(library: Library, folder: Path, count: int) -> None:
    """Scan the first ``count`` lfw-dev portraits into ``library`` (linked from ``folder``:
    the third-party images are read in place, never copied): work enough for a job on it
    (a reindex) to be interrupted on purpose on any machine."""
    people = sorted(p for p in (LFW_DEV / "people").iterdir() if p.is_dir())
    images = [i for person in people for i in sorted(person.iterdir())][:count]
    folder.mkdir()
    for image in images:
        (folder / f"{image.parent.name}-{image.name}").symlink_to(image)
    library.scan([folder])
