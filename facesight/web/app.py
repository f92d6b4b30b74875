"""The review workspace's application: ``create_app(settings)`` builds it over one library.

Routes live in modules beside this one, each an ``APIRouter`` (``pages_*`` for the
server-rendered pages, ``api`` for ``/api/v1``); this module adds the sign-in pages, the static
files, the security headers and one translation of the library's errors into HTTP answers, so no
route decides a status code by itself.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from facesight._version import __version__
from facesight.errors import (
    AuthenticationError,
    DecisionConflictError,
    FaceSightError,
    RateLimitedError,
)
from facesight.library.facade import Library
from facesight.library.roles import Permission
from facesight.web.auth import Guard, NotSignedInError, Principal, is_api
from facesight.web.gate import LibraryGate
from facesight.web.headers import SecurityHeaders
from facesight.web.limits import FORM_OVERHEAD_BYTES, BodyLimit
from facesight.web.rendering import render
from facesight.web.serialize import sighting_json
from facesight.web.settings import ServeSettings
from facesight.web.statuses import status_of
from facesight.web.timing import ServerTiming

__all__ = ["PUBLIC_ROUTES", "create_app", "render"]

HERE = Path(__file__).parent
LOGIN_CSRF_COOKIE = "facesight_login"
PUBLIC_ROUTES = frozenset({("GET", "/login"), ("POST", "/login"), ("GET", "/static")})
"""The only routes answered without signing in (the route-walk test checks every other)."""


def create_app(settings: ServeSettings, gate: LibraryGate | None = None) -> FastAPI:
    """The workspace over ``settings.library`` (opened here unless a ``gate`` is handed in)."""
    if gate is None:
        options: dict[str, Any] = dict(settings.library_options)
        gate = LibraryGate(lambda: Library(settings.library, create=False, **options))
    opened = gate

    def configure(library: Library) -> None:
        library.accounts.idle_timeout_s = settings.idle_timeout_s
        library.accounts.absolute_timeout_s = settings.absolute_timeout_s

    opened.run_blocking(configure)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        opened.close()

    app = FastAPI(
        title="facesight review workspace",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN: the CSP forbids them
        redoc_url=None,
        openapi_url=None,  # served by api.py behind the role check, as every other route
    )
    app.state.gate = opened
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    app.add_middleware(ServerTiming)  # added last: outermost, so it times the others too
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _add_error_handlers(app)
    _add_sign_in(app, settings)
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[Any]:
    """Every router of the workspace (pages and API), each module's ``router``."""
    from facesight.web import (
        api,
        api_search,
        media_routes,
        pages_audit,
        pages_home,
        pages_people,
        pages_review,
        pages_search,
    )

    return [
        pages_home.router,
        api.router,
        api_search.router,
        media_routes.router,
        pages_review.router,
        pages_people.router,
        pages_search.router,
        pages_audit.router,
    ]


def _add_sign_in(app: FastAPI, settings: ServeSettings) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, next: str = "/") -> Response:
        return _login_form(request, settings, next)

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        name: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=1000)],
        csrf: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not csrf or not expected or not secrets.compare_digest(csrf, expected):
            return _login_form(request, settings, next, "The form expired: sign in again.", 403)
        address = request.client.host if request.client else "unknown"
        try:
            session = await app.state.gate.run(
                lambda lib: lib.accounts.login(name, password, address=address)
            )
        except RateLimitedError as error:
            response: Response = _login_form(request, settings, next, str(error), 429)
            response.headers["Retry-After"] = str(error.retry_after_s)
            return response
        except AuthenticationError:
            return _login_form(request, settings, next, "Wrong name or password.", 401)
        response = RedirectResponse(_local(next), status_code=303)
        _set_cookie(response, settings, settings.cookie_name, session.secret, max_age=None)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(
        request: Request, principal: Annotated[Principal, Depends(Guard(Permission.VIEW))]
    ) -> Response:
        secret = principal.session_secret
        if secret:
            await app.state.gate.run(
                lambda lib: lib.accounts.logout(secret), actor=principal.account.name
            )
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(settings.cookie_name, path="/")
        return response


def _login_form(
    request: Request,
    settings: ServeSettings,
    next: str,
    message: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The sign-in form with a fresh double-submit token (its cookie set beside it)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status, login_csrf=token, next=_local(next), error=message
    )
    _set_cookie(response, settings, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _set_cookie(
    response: Response, settings: ServeSettings, name: str, value: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def _local(target: str) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a URL)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        # FastAPI's own answer echoes the input back, and cannot encode a lone surrogate
        # (valid in JSON, not in UTF-8): name where and what, in ASCII-safe JSON
        detail = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        if not is_api(request):  # a page: the same error page as the library's errors
            said = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in error.errors())
            return render(request, "error.html", 422, status=422, message=said)
        body = {"detail": detail, "error": "RequestValidationError"}
        return Response(json.dumps(body), status_code=422, media_type="application/json")

    @app.exception_handler(FaceSightError)
    async def library_error(request: Request, error: FaceSightError) -> Response:
        status = status_of(error)
        if isinstance(error, NotSignedInError) and not is_api(request):
            return RedirectResponse(f"/login?next={_next_of(request)}", status_code=303)
        if is_api(request):
            body: dict[str, Any] = {"detail": str(error), "error": type(error).__name__}
            if isinstance(error, DecisionConflictError):
                body["current"] = sighting_json(error.current)
            headers = {}
            if status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            if isinstance(error, RateLimitedError):
                headers["Retry-After"] = str(error.retry_after_s)
            return JSONResponse(body, status_code=status, headers=headers)
        return render(request, "error.html", status, status=status, message=str(error))


def _next_of(request: Request) -> str:
    from urllib.parse import quote

    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return quote(_local(path), safe="")
