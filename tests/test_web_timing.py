"""Every answer of the served workspace carries ``Server-Timing: app;dur=<ms>``
(``facesight/web/timing.py``), the server time the scale benches report."""

from __future__ import annotations

import re
import time

from .workspace import Server

TIMING = re.compile(r"^app;dur=(\d+\.\d)$")


def _server_ms(answer_headers: object) -> float:
    value = answer_headers.get("server-timing")  # type: ignore[attr-defined]
    assert value is not None, "no Server-Timing header"
    found = TIMING.match(value)
    assert found is not None, value
    return float(found.group(1))


def test_server_timing_on_pages_api_errors_and_static(served: Server) -> None:
    viewer = served.sign_in("viewer")
    api = served.api("reviewer")
    answers = {
        "login page": served.client().get("/login"),
        "review page": viewer.get("/review"),
        "queue api": api.get("/api/v1/queue", params={"limit": 5}),
        "missing face": api.get("/api/v1/faces/987654321"),
        "not signed in": served.client().get("/api/v1/queue"),
        "static file": viewer.get("/static/app.js"),
    }
    assert [a.status_code for a in answers.values()] == [200, 200, 200, 404, 401, 200]
    for what, answer in answers.items():
        assert _server_ms(answer.headers) >= 0.0, what


def test_server_time_is_within_the_client_time(served: Server) -> None:
    viewer = served.sign_in("viewer")
    start = time.perf_counter()
    answer = viewer.get("/review", params={"sort": "quality"})
    client_ms = (time.perf_counter() - start) * 1000
    assert answer.status_code == 200
    server_ms = _server_ms(answer.headers)
    assert 0.0 < server_ms <= client_ms
