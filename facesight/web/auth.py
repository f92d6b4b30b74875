"""Who is asking, and may they: the role check every route but the login page goes through.

A request is signed in by an API token (``Authorization: Bearer fs_...``) or by the session
cookie the login page sets; never by both (a bad token is refused even beside a good
cookie). A state-changing request signed in by cookie must also carry the session's CSRF token
(form field ``csrf`` or header ``X-CSRF-Token``) and, when the browser sends one, an ``Origin``
of this very site: another site can make a browser send the cookie, never the token. A token
is not sent by browsers on their own, so API calls with one need no CSRF token.

Each route states its permission with ``Depends(Guard(Permission.X))``; the route-walk test
reads ``Guard.permission`` from the app's route table and checks every role against the
matrix of ``facesight.library.roles``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from facesight.errors import AuthenticationError, PermissionDeniedError
from facesight.library.accounts import Account
from facesight.library.roles import Permission, allows

__all__ = ["Guard", "NotSignedInError", "Principal", "authenticate", "is_api"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    """A signed-in account, and how: ``session`` (a browser) or ``token`` (the API)."""

    account: Account
    via: str
    csrf_token: str = ""
    session_secret: str = ""


class NotSignedInError(AuthenticationError):
    """No valid session or token: pages redirect to the login page, the API answers 401."""


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API (answers JSON errors, never redirects)."""
    return request.url.path.startswith("/api/")


async def authenticate(request: Request) -> Principal:
    """The account behind the request's token or session cookie.

    Raises:
        NotSignedInError: neither, or one that is unknown, expired, revoked or disabled.
    """
    gate = request.app.state.gate
    header = request.headers.get("authorization")
    try:
        if header is not None:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise NotSignedInError("give the API token as `Authorization: Bearer TOKEN`")
            account = await gate.run(lambda lib: lib.accounts.token_account(secret.strip()))
            return Principal(account, "token")
        cookie = request.cookies.get(request.app.state.settings.cookie_name)
        if not cookie:
            raise NotSignedInError("sign in first")
        session = await gate.run(lambda lib: lib.accounts.session(cookie))
    except NotSignedInError:
        raise
    except AuthenticationError as error:
        raise NotSignedInError(str(error)) from error
    return Principal(session.account, "session", session.csrf_token, session.secret)


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse a cookie-signed state change without this session's CSRF token or from another
    origin.

    Raises:
        PermissionDeniedError: the token is missing or wrong, or the origin is foreign.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise PermissionDeniedError(f"a request from another site ({origin}) was refused")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette keeps it: the route reads it again
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not given or not expected or not hmac.compare_digest(given, expected):
        raise PermissionDeniedError(
            "the form's security token is missing or out of date: reload the page and try again"
        )


class Guard:
    """The dependency that signs a request in and checks its role for ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if request.method in UNSAFE_METHODS and principal.via == "session":
            await check_csrf(request, principal.csrf_token)
        if not allows(principal.account.role, self.permission):
            raise PermissionDeniedError(
                f"{principal.account.name} is a {principal.account.role}: "
                f"this needs the {self.permission} permission"
            )
        request.state.principal = principal
        return principal

    def __repr__(self) -> str:
        return f"Guard({self.permission!s})"
