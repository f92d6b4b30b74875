"""The workspace under load: ``--clients`` signed-in users for ``--duration-s`` seconds
against ``facesight serve`` on 127.0.0.1, mixing page views, decisions and searches.

The library is first copied (``facesight library backup``: decisions change it), then
served; each client signs in through the login form (its session cookie and CSRF token,
as a browser) and loops, choosing by weight: a page view (the review queue page in each
sort, the queue API, one face's page, a person's page), a decision (confirm or reject a
face of its own share of the pending queue, on the state just read: 409 when another
client won the race is a correct answer, counted apart) or a search (a photo uploaded:
detection and description run in the server). Reports throughput, p50/p95/p99 per kind
and overall (client time, and the server's ``Server-Timing``), the error count (any
other status than 200/409, or a transport error: exit 1 when there is one), then runs
``audit verify`` on the copy and prints its result.

Usage: python bench/load_test.py --library DIR [--clients 50] [--duration-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from served import PASSWORD, ensure_account, facesight, server_ms, serving

LFW = Path(__file__).resolve().parents[2] / "shared" / "faces" / "lfw-dev" / "people"
WEIGHTS = {"page": 0.70, "decision": 0.22, "search": 0.08}


@dataclass
class Tally:
    """What every client saw, by kind of request."""

    client_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


async def _sign_in(client: httpx.AsyncClient, name: str) -> str:
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    data = {"name": name, "password": PASSWORD, "csrf": token.group(1)}
    answer = await client.post("/login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in as {name}: {answer.status_code}")
    home = await client.get("/search")  # a cheap page: every signed-in page carries the token
    found = re.search(r'<meta name="csrf-token" content="([^"]*)"', home.text)
    assert found is not None
    return found.group(1)


class User:
    """One signed-in reviewer's loop."""

    def __init__(self, client: httpx.AsyncClient, csrf: str, faces: list[int], people: list[int]):
        self.client, self.csrf, self.faces, self.people = client, csrf, faces, people
        self.rng = random.Random(len(faces) * 7919 + (faces[0] if faces else 0))

    async def timed(self, tally: Tally, kind: str, method: str, url: str, **kw: object) -> None:
        start = time.perf_counter()
        try:
            answer = await self.client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            tally.errors.append(f"{kind} {url}: {type(error).__name__}")
            return
        tally.client_ms[kind].append((time.perf_counter() - start) * 1000)
        if answer.status_code == 409 and kind == "decision":
            tally.conflicts += 1
        elif answer.status_code != 200:
            tally.errors.append(f"{kind} {url}: {answer.status_code} {answer.text[:120]}")
            return
        tally.server_ms[kind].append(server_ms(answer))

    async def page(self, tally: Tally) -> None:
        choice = self.rng.randrange(4)
        if choice == 0:
            sort = self.rng.choice(("fmr", "quality", "date"))
            await self.timed(tally, "page", "GET", "/review", params={"sort": sort})
        elif choice == 1:
            await self.timed(tally, "page", "GET", "/api/v1/queue", params={"limit": 50})
        elif choice == 2 and self.faces:
            await self.timed(tally, "page", "GET", f"/faces/{self.rng.choice(self.faces)}")
        else:
            await self.timed(tally, "page", "GET", f"/people/{self.rng.choice(self.people)}")

    async def decision(self, tally: Tally) -> None:
        if not self.faces:
            return await self.page(tally)
        face = self.rng.choice(self.faces)
        shown = await self.client.get(f"/api/v1/faces/{face}")
        if shown.status_code != 200:
            tally.errors.append(f"decision read /api/v1/faces/{face}: {shown.status_code}")
            return None
        face_json = shown.json()
        state = face_json["state"]
        # a reviewer's round: confirm what is proposed, reject what was confirmed, and a
        # rejected face confirmed again as the person it was proposed for (no longer
        # proposed once rejected: a manual identification, which asks for force)
        decision: dict[str, object] = {"action": "confirm", "expected": state}
        if state.startswith("confirmed"):
            decision["action"] = "reject"
        elif not state.startswith("pending"):
            candidates = face_json["candidates"]
            if not candidates:
                return await self.page(tally)
            decision |= {"person": candidates[0]["person"], "force": True}
        await self.timed(
            tally,
            "decision",
            "POST",
            f"/api/v1/faces/{face}/decision",
            json=decision,
            headers={"X-CSRF-Token": self.csrf},
        )
        return None

    async def search(self, tally: Tally, image: bytes) -> None:
        files = {"image": ("probe.jpg", image, "image/jpeg")}
        await self.timed(
            tally,
            "search",
            "POST",
            "/api/v1/search",
            files=files,
            headers={"X-CSRF-Token": self.csrf},
        )


async def _run(
    url: str, clients: int, duration_s: float, picks: tuple[list[int], list[int]]
) -> Tally:
    pending, people = picks
    image = sorted(sorted(LFW.iterdir())[0].iterdir())[0].read_bytes()
    tally = Tally()
    limits = httpx.Limits(max_connections=clients)
    async with contextlib.AsyncExitStack() as stack:
        users = []
        for n in range(clients):
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=120, limits=limits)
            )
            csrf = await _sign_in(client, f"bench-reviewer-{n % 5}")
            users.append(User(client, csrf, pending[n::clients], people))
        deadline = time.monotonic() + duration_s

        async def loop(user: User) -> None:
            while time.monotonic() < deadline:
                kind = user.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
                if kind == "page":
                    await user.page(tally)
                elif kind == "decision":
                    await user.decision(tally)
                else:
                    await user.search(tally, image)

        start = time.monotonic()
        await asyncio.gather(*(loop(u) for u in users))
        tally.client_ms["_elapsed"] = [time.monotonic() - start]
    return tally


def _picks(library: Path) -> tuple[list[int], list[int]]:
    """Pending faces (proposed, no review) and the people, read from the database."""
    uri = f"file:{library / 'facesight.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        pending = [
            int(r[0])
            for r in conn.execute(
                "SELECT c.face_id FROM candidates c WHERE c.rank = 1 AND c.is_match = 1"
                " AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.face_id = c.face_id)"
                " ORDER BY c.face_id LIMIT 5000"
            )
        ]
        people = [int(r[0]) for r in conn.execute("SELECT id FROM people")]
    return pending, people


def _line(name: str, client: list[float], server: list[float]) -> str:
    if not client:
        return f"{name:9s} none"
    c, s = np.asarray(client), np.asarray(server or [0.0])
    return (
        f"{name:9s} n={len(c):6d}  client p50 {np.percentile(c, 50):7.1f} p95 "
        f"{np.percentile(c, 95):7.1f} p99 {np.percentile(c, 99):7.1f} ms  server p50 "
        f"{np.percentile(s, 50):7.1f} p95 {np.percentile(s, 95):7.1f} p99 "
        f"{np.percentile(s, 99):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration-s", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facesight-load-") as scratch:
        copy = Path(scratch) / "lib"
        facesight(args.library, "library", "backup", str(copy))
        for n in range(5):
            ensure_account(copy, f"bench-reviewer-{n}", "reviewer")
        with serving(copy) as url:
            tally = asyncio.run(_run(url, args.clients, args.duration_s, _picks(copy)))
        elapsed = tally.client_ms.pop("_elapsed")[0]
        every = [v for kind in list(tally.client_ms) for v in tally.client_ms[kind]]
        print(
            f"{args.clients} clients for {elapsed:.1f} s on {args.library}: {len(every):,} "
            f"requests, {len(every) / elapsed:.1f} requests/s, {tally.conflicts} decisions "
            f"refused as stale (409), {len(tally.errors)} errors"
        )
        for kind in WEIGHTS:
            print(_line(kind, tally.client_ms.get(kind, []), tally.server_ms.get(kind, [])))
        server_every = [v for kind in list(tally.server_ms) for v in tally.server_ms[kind]]
        print(_line("overall", every, server_every))
        for error in tally.errors[:10]:
            print("ERROR", error)
        try:
            print(f"audit verify: {facesight(copy, 'audit', 'verify').strip()}")
        except RuntimeError as failed:
            print(f"audit verify FAILED: {failed}")
            sys.exit(1)
    sys.exit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()
