"""The workspace over a library in PostgreSQL: the same server, pages, API and audit, with the
accounts, sessions and decisions in the database (a real embedded PostgreSQL, tests/postgres.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facesight.library.copy import copy_library

from .workspace import Server, start_server, stop_server


@pytest.fixture
def served_from_postgres(
    workspace_library: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Server:
    # the PostgreSQL library's local files (crops) go under this data folder, for the copy
    # and for the server alike (it inherits the environment)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    report = copy_library(workspace_library, postgres_url)
    assert report.audit.ok and report.counts["users"] >= 3
    return start_server(postgres_url)  # type: ignore[arg-type]


def test_the_workspace_serves_a_postgresql_library(served_from_postgres: Server) -> None:
    server = served_from_postgres
    try:
        browser = server.sign_in("reviewer")
        page = browser.get("/review")
        assert page.status_code == 200 and "/faces/" in page.text
        api = server.api("reviewer")
        queue = api.get("/api/v1/queue", params={"limit": 5})
        assert queue.status_code == 200, queue.text
        first = queue.json()["items"][0]
        crop = api.get(first["crop_url"])
        assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"  # a JPEG
        decided = api.post(
            f"/api/v1/faces/{first['face_id']}/decision",
            json={"action": "reject", "expected": first["state"]},
        )
        assert decided.status_code == 200, decided.text
        stale = api.post(
            f"/api/v1/faces/{first['face_id']}/decision",
            json={"action": "confirm", "expected": first["state"]},
        )
        assert stale.status_code == 409 and stale.json()["current"]["decision"] == "rejected"
        audit = server.api("admin").get("/api/v1/audit", params={"limit": 20}).json()["items"]
        rejected = [r for r in audit if r["action"] == "review.reject"]
        assert rejected and rejected[0]["actor"] == "reviewer"
        assert first["face_id"] in rejected[0]["items"]["faces"]
    finally:
        stop_server(server)
