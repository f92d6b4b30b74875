"""The workspace's locks, tested against ``facesight serve`` running for real: every route of
the app walked signed out and under each role against the roles matrix, sessions, CSRF,
login limits, tokens, headers and escaping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from facesight.library.facade import Library
from facesight.library.jobs import JobKind
from facesight.library.roles import Permission, allows
from facesight.library.unknowns import UnknownPeople
from facesight.web.app import PUBLIC_ROUTES, create_app
from facesight.web.auth import Guard
from facesight.web.headers import CONTENT_SECURITY_POLICY
from facesight.web.settings import ServeSettings

from .paths import GROUP
from .workspace import (
    HOSTILE,
    PASSWORD,
    ROLES,
    Server,
    facesight,
    log_in,
    start_server,
    stop_server,
)

MISSING = 987654321
"""An id no record has: state-changing routes are walked with it, so the walk changes nothing."""


def _guards(dependant: Any) -> list[Guard]:
    found = [d.call for d in dependant.dependencies if isinstance(d.call, Guard)]
    for sub in dependant.dependencies:
        found += _guards(sub)
    return found


def _route_table(library: Path) -> list[tuple[str, str, Permission | None]]:
    """Every (method, path, permission) of the app, read from its route table."""
    app = create_app(ServeSettings(library))
    table = []
    try:
        # FastAPI keeps an included router whole: iter_route_contexts walks its routes
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, Mount):
                table.append(("GET", route.path, None))
                continue
            guards = _guards(route.dependant)  # type: ignore[attr-defined]
            for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                permission = guards[0].permission if len(guards) == 1 else None
                table.append((method, route.path, permission))  # type: ignore[attr-defined]
    finally:
        app.state.gate.close()
    return table


def _fill(path: str, values: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in values, f"the route walk has no value for {{{name}}} in {path}: add one"
        return str(values[name])

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.fixture(scope="module")
def real_ids(workspace_library: Path) -> dict[str, Any]:
    with Library(workspace_library, create=False) as library:
        face = library.pending()[0]
        match = face.match
        assert match is not None
        clusters = UnknownPeople(library).clusters(refresh=False)
        assert clusters, "the workspace library has no unknown person: tests/workspace.py"
        # a real job to walk its routes with (cancelled: the shared library stays as it is)
        job = library.jobs.submit(JobKind.REMATCH)
        library.jobs.cancel(job.id)
        roots = {c.path: c.id for c in library.collections.list()}
        collection_id = roots.get(str(GROUP.resolve())) or library.collections.add(GROUP).id
        return {
            "job_id": job.id,
            "index": 0,
            "face_id": face.face_id,
            "reference_id": match.reference_id,
            "person_id": match.person_id,
            "name": "viewer",
            "token_id": MISSING,
            "cluster_id": clusters[0].id,
            "path": "app.css",
            "collection_id": collection_id,
        }


def test_every_route_is_public_or_guarded_by_exactly_one_permission(
    workspace_library: Path,
) -> None:
    for method, path, permission in _route_table(workspace_library):
        public = (method, path) in PUBLIC_ROUTES
        assert public or permission is not None, f"{method} {path} has no single Guard"
        assert not (public and permission is not None), f"{method} {path} is public and guarded"


def test_every_route_answers_each_role_as_the_matrix_says(
    served: Server, workspace_library: Path, real_ids: dict[str, Any]
) -> None:
    table = [row for row in _route_table(workspace_library) if row[2] is not None]
    assert len(table) >= 3
    missing = {k: MISSING for k in real_ids} | {"name": "nobody-at-all", "path": "x"}
    signed_out = served.client()
    sessions = {role: served.sign_in(role) for role in ROLES}
    csrf = {role: served.csrf(client) for role, client in sessions.items()}
    checked = 0
    for method, path, permission in table:
        assert permission is not None
        safe = method == "GET"
        url = _fill(path, real_ids if safe else missing)
        if path == "/logout":
            continue  # ends the session it is sent with: tested on its own below
        answer = signed_out.request(method, url)
        api = path.startswith("/api/")
        if api:
            assert answer.status_code == 401, f"signed out: {method} {url} -> {answer.status_code}"
        else:
            assert answer.status_code == 303 and "/login" in answer.headers["location"], url
        for role in ROLES:
            if api:
                client = served.api(role)
                headers: dict[str, str] = {}
            else:
                client = sessions[role]
                headers = {} if safe else {"X-CSRF-Token": csrf[role]}
            answer = client.request(method, url, headers=headers)
            where = f"{role}: {method} {url} -> {answer.status_code} {answer.text[:200]}"
            if allows(role, permission):  # type: ignore[arg-type]
                assert answer.status_code not in (401, 403) and answer.status_code < 500, where
            else:
                assert answer.status_code == 403, where
            checked += 1
    assert checked >= 3 * 3


def test_pages_and_the_api_carry_the_security_headers(served: Server) -> None:
    client = served.sign_in("viewer")
    for answer in (
        client.get("/"),
        served.client().get("/login"),
        served.api("viewer").get("/api/v1/openapi.json"),
    ):
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "no-store" in answer.headers["cache-control"]
        assert "server" not in answer.headers


def test_the_session_cookie_is_httponly_and_samesite_lax(served: Server) -> None:
    answer = log_in(served.client(), "viewer", PASSWORD)
    cookie = [
        v
        for k, v in answer.headers.multi_items()
        if k == "set-cookie" and "facesight_session=" in v
    ]
    assert len(cookie) == 1
    assert "HttpOnly" in cookie[0] and "SameSite=lax" in cookie[0] and "Secure" not in cookie[0]


def test_secure_cookies_are_secure(workspace_library: Path) -> None:
    server = start_server(workspace_library, "--secure-cookies")
    try:
        client = server.client()
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        assert page.headers["strict-transport-security"].startswith("max-age=")
    finally:
        stop_server(server)


def test_serving_beyond_loopback_needs_secure_cookies_or_insecure(workspace_library: Path) -> None:
    run = facesight(workspace_library, "serve", "--host", "0.0.0.0", "--port", "0")
    assert run.returncode != 0
    assert "--secure-cookies" in run.stderr and "--insecure" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_wrong_password_is_refused_and_the_sixth_failure_is_rate_limited(
    served: Server, workspace_library: Path
) -> None:
    # an account of its own: locking out one the other tests sign in with would make them
    # depend on running before this one
    made = facesight(
        workspace_library,
        *("users", "add", "locked-out", "--role", "admin", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    client = served.client()
    for attempt in range(6):
        answer = log_in(client, "locked-out", "not the password")
        if attempt < 5:
            assert answer.status_code == 401 and "Wrong name or password" in answer.text
        else:
            assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    # the limit is per account and address: the same account from here is still locked,
    # even with the right password
    assert log_in(client, "locked-out", PASSWORD).status_code == 429
    assert log_in(served.client(), "admin", PASSWORD).status_code == 303  # another account


def test_login_without_its_form_token_is_refused(served: Server) -> None:
    answer = served.client().post("/login", data={"name": "viewer", "password": PASSWORD})
    assert answer.status_code == 403


def test_a_state_change_without_the_csrf_token_or_from_another_site_is_refused(
    served: Server,
) -> None:
    client = served.sign_in("viewer")
    assert client.post("/logout").status_code == 403  # no token
    token = served.csrf(client)
    other_site = client.post(
        "/logout", headers={"X-CSRF-Token": token, "Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert client.get("/").status_code == 303  # signed out: back to the login page


def test_after_sign_in_only_a_local_page_is_opened(served: Server) -> None:
    client = served.client()
    page = client.get("/login", params={"next": "//evil.example/x"})
    assert "evil.example" not in page.text
    answer = log_in(client, "viewer", PASSWORD, next="https://evil.example/")
    assert answer.headers["location"] == "/"
    # a page of this site is where the sign-in goes on to (the page that sent to /login)
    again = log_in(served.client(), "viewer", PASSWORD, next="/jobs?state=running")
    assert again.headers["location"] == "/jobs?state=running"


def test_a_bad_token_is_refused_even_beside_a_good_cookie(served: Server) -> None:
    # (not admin: the login-limit test above locked admin out from this address)
    client = served.sign_in("reviewer")
    answer = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer fs_1_forged"})
    assert answer.status_code in (200, 401)  # the schema itself may be public to signed-in
    assert client.get("/", headers={"Authorization": "Bearer fs_1_forged"}).status_code == 303


def test_disabling_an_account_ends_its_sessions_and_tokens_at_once(workspace_library: Path) -> None:
    made = facesight(
        workspace_library,
        "users",
        "add",
        "leaver",
        "--role",
        "reviewer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    server = start_server(workspace_library)
    try:
        browser = server.sign_in("leaver")
        api = server.api("leaver")
        assert browser.get("/").status_code == 200
        disabled = facesight(workspace_library, "users", "disable", "leaver")
        assert disabled.returncode == 0, disabled.stderr
        assert browser.get("/").status_code == 303
        assert api.get("/api/v1/people").status_code == 401
    finally:
        stop_server(server)


def test_a_hostile_name_shows_as_text(served: Server) -> None:
    page = served.sign_in("viewer").get("/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert HOSTILE not in page.text
