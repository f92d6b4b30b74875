"""What the workspace's pages cost on a big library, in server time (``Server-Timing``)
and client time: the figures of issue 17's "at scale" (p95 within 200 ms server time for
the review queue, a person's sightings and the unknowns page; search-face within 100 ms
plus the analysis of the upload).

Serves ``--library`` (``bench/make_million.py`` builds one) with ``facesight serve --port
0``, signs in a viewer (pages) and uses an API token (API), then asks each page
``--requests`` times (or until ``--budget-s`` seconds were spent on it, at least 3):

* the review queue page and API, each sort; some filters (a person, videos, good quality,
  a category); a deep page, reached by following the cursor ``--deep-pages`` pages of 200;
* a person's sightings page (``/people/{id}``) per decision category;
* the unknowns page (``/unknowns``);
* search by a stored face (``/search?face_id=``) and by an uploaded photo
  (``POST /api/v1/search``; its server time includes detecting and describing the photo).

A request over ``--timeout-s`` ends that page's timing with a line saying so.

A page that answers 404 (not built on this branch yet) is skipped with a line saying so.
Prints p50/p95 per page and writes them to ``--out``.

Usage: python bench/workspace_pages.py [--library DIR] [--requests N] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
from served import Samples, ensure_account, server_ms, serving, sign_in, token

from facesight.web.api_people import PERSON_CATEGORIES

LFW = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"


class Timer:
    """Asks pages and keeps their timings, skipping those that answer 404."""

    def __init__(self, requests: int, budget_s: float, timeout_s: float, lines: list[str]) -> None:
        self.requests = requests
        self.timeout_s = timeout_s
        self.budget_s = budget_s
        self.lines = lines

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def time(self, name: str, client: httpx.Client, method: str, url: str, **kw: object) -> None:
        samples = Samples([], [])
        spent = time.monotonic()
        while len(samples.server) < self.requests:
            start = time.perf_counter()
            try:
                answer = client.request(method, url, **kw)  # type: ignore[arg-type]
            except httpx.TimeoutException:
                self.say(f"{name:44s} TIMED OUT: {url} took over {self.timeout_s:.0f} s")
                return
            elapsed_ms = (time.perf_counter() - start) * 1000
            if answer.status_code == 404:
                self.say(f"{name:44s} skipped: {url} answered 404 (not on this branch)")
                return
            if answer.status_code != 200:
                self.say(f"{name:44s} FAILED: {url} answered {answer.status_code}")
                return
            samples.server.append(server_ms(answer))
            samples.client.append(elapsed_ms)
            if len(samples.server) >= 3 and time.monotonic() - spent > self.budget_s:
                break
        self.say(samples.line(name))


def deep_cursor(api: httpx.Client, pages: int) -> str | None:
    """The cursor ``pages`` pages of 200 into the pending queue (sorted by est. FMR)."""
    after = None
    for _ in range(pages):
        params = {"limit": 200} | ({"after": after} if after else {})
        after = api.get("/api/v1/queue", params=params, timeout=900).json()["next_after"]
        if after is None:
            break
    return after


def _picked(library: Path) -> tuple[dict[str, Any], int]:
    """The person proposed for the most faces and a face proposed to them, read from the
    database (``/api/v1/people`` counts every person's sightings: slow at 1M faces)."""
    uri = f"file:{library / 'facesight.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        person_id, seen, face = conn.execute(
            "SELECT person_id, COUNT(*), MIN(face_id) FROM candidates"
            " WHERE rank = 1 AND is_match = 1 GROUP BY person_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        (name,) = conn.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()
    return {"id": person_id, "name": name, "sightings": seen}, int(face)


def run(url: str, library: Path, timer: Timer, deep_pages: int) -> None:
    with (
        httpx.Client(base_url=url, timeout=timer.timeout_s) as viewer,
        httpx.Client(
            base_url=url,
            timeout=timer.timeout_s,
            headers={"Authorization": f"Bearer {token(library, 'bench-admin')}"},
        ) as api,
    ):
        sign_in(viewer, "bench-viewer")
        busiest, face = _picked(library)
        for sort in ("fmr", "quality", "date"):
            timer.time(f"review page, sort {sort}", viewer, "GET", f"/review?sort={sort}")
            timer.time(f"queue API, sort {sort}", api, "GET", f"/api/v1/queue?sort={sort}")
        filters = {
            "person": busiest["name"],
            "kind": "video",
            "quality": "good",
            "category": "confirmed",
        }
        for key, value in filters.items():
            timer.time(f"review page, {key}={value}", viewer, "GET", "/review", params={key: value})
        after = deep_cursor(api, deep_pages)
        if after is not None:
            timer.time(
                f"review page {deep_pages * 200:,} faces deep (cursor)",
                viewer,
                "GET",
                "/review",
                params={"after": after},
            )
        for category in PERSON_CATEGORIES:  # the tabs of a person page
            timer.time(
                f"person page ({busiest['sightings']:,} seen), {category}",
                viewer,
                "GET",
                f"/people/{busiest['id']}",
                params={"category": category},
            )
        timer.time("unknowns page", viewer, "GET", "/unknowns")
        timer.time("search by face id (page)", viewer, "GET", "/search", params={"face_id": face})
        upload = sorted(sorted(LFW.iterdir())[0].iterdir())[0]  # a portrait of an enrolled person
        image = upload.read_bytes()
        timer.time(
            "search by upload (API, analysis included)",
            api,
            "POST",
            "/api/v1/search",
            files={"image": ("probe.jpg", image, "image/jpeg")},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=Path("/tmp/facesight-million"))
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--budget-s", type=float, default=30.0)
    parser.add_argument("--timeout-s", type=float, default=120.0, help="per request")
    parser.add_argument("--deep-pages", type=int, default=25)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "workspace_pages.txt"
    )
    args = parser.parse_args()
    ensure_account(args.library, "bench-viewer", "viewer")
    ensure_account(args.library, "bench-admin", "admin")
    lines: list[str] = []
    timer = Timer(args.requests, args.budget_s, args.timeout_s, lines)
    start = time.perf_counter()
    with serving(args.library) as url:
        timer.say(f"served {args.library} at {url} in {time.perf_counter() - start:.1f} s")
        run(url, args.library, timer, args.deep_pages)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
