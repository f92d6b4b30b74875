"""``facesight serve`` on a library for the workspace benches (``workspace_pages.py``,
``load_test.py``): accounts, a server on a free port, sign-in, timed requests.

Each timed request keeps the client's time (send to last byte) and the server's
(``Server-Timing: app;dur=``, ``facesight/web/timing.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench password, long enough"
_TIMING = re.compile(r"app;dur=([0-9.]+)")


def facesight(library: Path, *args: str, stdin: str | None = None) -> str:
    """Run the real command line on ``library``; its stdout (raises on failure)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "facesight", "--library", str(library), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"facesight {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def ensure_account(library: Path, name: str, role: str) -> None:
    """The account ``name`` with ``PASSWORD`` (made once)."""
    if name not in facesight(library, "users", "list", "--json"):
        facesight(
            library, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )


def token(library: Path, name: str) -> str:
    """A new API token of ``name``."""
    return facesight(library, "users", "token", name).strip().splitlines()[-1]


@contextmanager
def serving(library: Path) -> Iterator[str]:
    """``facesight serve --port 0`` on ``library``; yields its base URL once it answers."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "facesight", "--library", str(library), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rstrip("/")
        if not url.startswith("http"):
            raise RuntimeError(f"serve printed {url!r}")
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(url + "/login", timeout=30)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def login_fields(page_html: str) -> str:
    """The login form's CSRF token."""
    found = re.search(r'name="csrf" value="([^"]+)"', page_html)
    if found is None:
        raise RuntimeError("the login page carries no csrf field")
    return found.group(1)


def sign_in(client: httpx.Client, name: str) -> None:
    """Sign ``client`` in as ``name`` through the login form."""
    csrf = login_fields(client.get("/login").text)
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in as {name} answered {answer.status_code}")


def server_ms(response: httpx.Response) -> float:
    """The server time the answer reports (``Server-Timing``), in milliseconds."""
    found = _TIMING.search(response.headers.get("server-timing", ""))
    if found is None:
        raise RuntimeError(f"{response.request.url} answered without Server-Timing")
    return float(found.group(1))


@dataclass
class Samples:
    """Timings of one kind of request, in milliseconds."""

    server: list[float]
    client: list[float]

    def line(self, name: str) -> str:
        s = np.asarray(self.server)
        c = np.asarray(self.client)
        return (
            f"{name:44s} n={len(s):4d}  server p50 {np.percentile(s, 50):7.1f} "
            f"p95 {np.percentile(s, 95):7.1f} ms  client p50 {np.percentile(c, 50):7.1f} "
            f"p95 {np.percentile(c, 95):7.1f} ms"
        )
