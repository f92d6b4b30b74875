"""Accounts of the review workspace: passwords, web sessions, API tokens, failed logins.

The CLI makes accounts (``facesight users``; there is no default password: the first
admin is made there), the web edge logs them in and checks each request's session or
token here. Every change is written with its audit record in one transaction; no
record, row or message holds a secret.

- Passwords: Argon2id (argon2-cffi's ``PasswordHasher`` and its RFC 9106 defaults); at
  least ``MIN_PASSWORD_LENGTH`` characters, never the account's own name. A hash made
  with older parameters is replaced at the next successful login.
- Sessions and API tokens: ``secrets.token_urlsafe(32)`` (256 random bits), stored as the
  SHA-256 (hex) of the secret; a fast hash is enough for a random secret (nothing to
  guess), where a password needs a slow one. A session ends after ``idle_timeout_s``
  without a request or ``absolute_timeout_s`` after login (OWASP's session guidance: 30
  min and 12 h are the issue's defaults), at logout, at a new password and when the
  account is disabled. Its CSRF token is derived from its secret (a keyed SHA-256), so
  it needs no storage and changes with every login.
- API tokens are written ``fs_<id>_<secret>``: found by id, then compared in constant
  time; revoked by id (``users revoke ID``); ``expires_days`` (90 by default) or never.
- Failed logins: ``MAX_FAILURES`` per (account, address) within ``FAILURE_WINDOW_S``;
  one more raises ``RateLimitedError`` until the oldest of them leaves the window. A
  login as an unknown (or disabled) account still verifies a hash, so the time taken
  does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from facesight.clock import iso_at
from facesight.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from facesight.library.roles import Role, role_of
from facesight.store.accounts import UserRow
from facesight.store.audit import AuditAction, AuditLog
from facesight.store.protocol import LibraryStore
from facesight.text import check_name, name_key, normalize_name

__all__ = [
    "DEFAULT_TOKEN_DAYS",
    "FAILURE_WINDOW_S",
    "MAX_FAILURES",
    "MAX_NAME_SHOWN",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Account",
    "AccountService",
    "IssuedToken",
    "TokenInfo",
    "WebSession",
]

MIN_PASSWORD_LENGTH = 12
"""Fewest characters of a password (NIST SP 800-63B asks 8 at least; the issue's 12)."""
MAX_PASSWORD_LENGTH = 1024
"""Most characters of a password: a bound on the work one login asks of the server."""
MAX_FAILURES = 5
"""Failed logins per (account, address) heard within ``FAILURE_WINDOW_S`` (the issue's 5)."""
FAILURE_WINDOW_S = 15 * 60
"""The window of ``MAX_FAILURES`` (the issue's 15 minutes)."""
DEFAULT_TOKEN_DAYS = 90.0
"""How long an API token lasts unless told otherwise."""
MAX_NAME_SHOWN = 200
"""Characters of a name and an address tried at login that are kept (audit, failures): a
request cannot make the log hold megabytes."""

_DENIED = "wrong account name or password"
_NO_SESSION = "no such session (it ended: logged out, timed out or the account changed)"
_NO_TOKEN = "the API token is unknown, expired or revoked"
_TOKEN = re.compile(r"fs_([0-9]+)_([A-Za-z0-9_-]{20,})")
_CSRF_KEY = b"facesight csrf token v1"


@dataclass(frozen=True)
class Account:
    """A facesight account (never its password or hash)."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: str


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: ``secret`` is the whole ``fs_<id>_<secret>`` string a client sends
    (``Authorization: Bearer ...``); it is shown this once and stored only as a hash."""

    id: int
    secret: str
    expires_at: str | None


@dataclass(frozen=True)
class TokenInfo:
    """What is known of an API token, without its secret."""

    id: int
    user: str
    created_at: str
    expires_at: str | None
    revoked: bool
    last_used_at: str | None


@dataclass(frozen=True)
class WebSession:
    """A logged-in browser: ``secret`` is the cookie's value; ``csrf_token`` goes in every
    form and state-changing request of this session."""

    secret: str
    csrf_token: str
    account: Account


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _csrf_token(secret: str) -> str:
    return hmac.new(_CSRF_KEY, secret.encode(), hashlib.sha256).hexdigest()


def _account(row: UserRow) -> Account:
    return Account(row.id, row.name, Role(row.role), row.disabled, row.created_at)


class AccountService:
    """The accounts of one library (``Library.accounts``).

    Args:
        store: the library's store (its ``accounts`` tables and transactions).
        audit: the library's audit log; changes are recorded by its actor (the CLI's user,
            or the account a request acts as), a login and a logout by the account.
        now: the clock, seconds since the epoch (``time.time``); tests give a fake one.
        hasher: the password hasher (default: argon2-cffi's Argon2id defaults).

    ``idle_timeout_s`` and ``absolute_timeout_s`` may be set (``facesight serve``).
    """

    idle_timeout_s: float = 1800.0
    absolute_timeout_s: float = 43200.0

    def __init__(
        self,
        store: LibraryStore,
        audit: AuditLog,
        *,
        now: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._now = now
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    # -- accounts ----------------------------------------------------------------

    def add(self, name: str, role: Role | str, password: str) -> Account:
        """Make an account; ``InvalidInputError`` for a taken name, an unknown role or a
        password too short, too long or equal to the name."""
        name = check_name(name)
        chosen = role_of(role)
        self._check_password(name, password)
        hashed = self._hasher.hash(password)
        at = iso_at(self._now())
        with self._store.transaction() as conn:
            user_id = self._store.accounts.add_user(
                conn, name, name_key(name), chosen.value, hashed, at
            )
            if user_id is None:
                raise InvalidInputError(f"an account named {name!r} exists already")
            self._audit.record(
                conn, AuditAction.USERS_ADD, accounts=[user_id], details=f"{name} as {chosen}"
            )
        return Account(user_id, name, chosen, False, at)

    def accounts(self) -> list[Account]:
        """Every account, in the order they were made (disabled ones too)."""
        return [_account(r) for r in self._store.accounts.users()]

    def account(self, name: str) -> Account:
        """The account ``name`` (case and spacing as typed do not matter); NotFoundError."""
        return _account(self._user(name))

    def disable(self, name: str) -> Account:
        """Disable an account: its sessions end and its tokens are revoked at once.

        It stays (review decisions and audit records name it) and cannot log in again.
        """
        user = self._user(name)
        at = iso_at(self._now())
        with self._store.transaction() as conn:
            tables = self._store.accounts
            tables.disable_user(conn, user.id)
            sessions = tables.end_sessions(conn, user.id)
            tokens = tables.revoke_tokens(conn, at, user_id=user.id)
            self._audit.record(
                conn,
                AuditAction.USERS_DISABLE,
                accounts=[user.id],
                counts={"sessions": sessions, "tokens": tokens},
                details=user.name,
            )
        return _account(replace(user, disabled=True))

    def set_password(self, name: str, password: str) -> None:
        """Give an account a new password; its sessions end (its API tokens stay)."""
        user = self._user(name)
        self._check_password(user.name, password)
        hashed = self._hasher.hash(password)
        with self._store.transaction() as conn:
            self._store.accounts.set_password_hash(conn, user.id, hashed, iso_at(self._now()))
            sessions = self._store.accounts.end_sessions(conn, user.id)
            self._audit.record(
                conn,
                AuditAction.USERS_PASSWORD,
                accounts=[user.id],
                counts={"sessions": sessions},
                details=user.name,
            )

    # -- API tokens --------------------------------------------------------------

    def issue_token(
        self, name: str, *, expires_days: float | None = DEFAULT_TOKEN_DAYS
    ) -> IssuedToken:
        """A new API token for an enabled account, lasting ``expires_days`` (None: until
        revoked). Its secret is in the result only."""
        if expires_days is not None and not 0 < expires_days <= 36500:
            raise InvalidInputError(f"a token lasts from 0 to 36500 days, not {expires_days}")
        user = self._user(name)
        if user.disabled:
            raise InvalidInputError(f"the account {user.name!r} is disabled")
        secret = secrets.token_urlsafe(32)
        now = self._now()
        expires = None if expires_days is None else iso_at(now + expires_days * 86400.0)
        with self._store.transaction() as conn:
            token_id = self._store.accounts.add_token(
                conn, user.id, _digest(secret), iso_at(now), expires
            )
            self._audit.record(
                conn,
                AuditAction.TOKENS_ISSUE,
                accounts=[user.id],
                tokens=[token_id],
                details=f"{user.name}, expires {expires or 'never'}",
            )
        return IssuedToken(token_id, f"fs_{token_id}_{secret}", expires)

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        """Every API token (of the account ``name`` when given), oldest first."""
        user_id = None if name is None else self._user(name).id
        return [
            TokenInfo(
                t.id, t.user, t.created_at, t.expires_at, t.revoked_at is not None, t.last_used_at
            )
            for t in self._store.accounts.tokens(user_id)
        ]

    def revoke_token(self, token_id: int) -> None:
        """Revoke an API token by its id (NotFoundError when there is none); at once."""
        token = self._store.accounts.token(int(token_id))
        if token is None:
            raise NotFoundError(f"no API token has id {token_id}; see `facesight users tokens`")
        with self._store.transaction() as conn:
            if self._store.accounts.revoke_tokens(conn, iso_at(self._now()), token_ids=[token.id]):
                self._audit.record(
                    conn,
                    AuditAction.TOKENS_REVOKE,
                    accounts=[token.user_id],
                    tokens=[token.id],
                    details=token.user,
                )

    def token_account(self, secret: str) -> Account:
        """The account an API token (``fs_<id>_<secret>``) acts for; AuthenticationError
        when it is malformed, unknown, expired, revoked or its account disabled."""
        match = _TOKEN.fullmatch(secret.strip())
        token = None if match is None else self._store.accounts.token(int(match[1]))
        # compared even when there is no such token, so the time taken tells nothing
        stored = token.secret_sha256 if token is not None else _digest("")
        given = _digest(match[2]) if match is not None else _digest("-")
        genuine = hmac.compare_digest(stored, given)
        now = self._now()
        if token is None or not genuine or token.revoked_at is not None:
            raise AuthenticationError(_NO_TOKEN)
        expires = token.expires_at
        if expires is not None and datetime.fromisoformat(expires).timestamp() <= now:
            raise AuthenticationError(_NO_TOKEN)
        user = self._user(token.user)
        if user.disabled:
            raise AuthenticationError(_NO_TOKEN)
        with self._store.transaction() as conn:
            self._store.accounts.token_used(conn, token.id, iso_at(now))
        return _account(user)

    # -- web sessions ------------------------------------------------------------

    def login(self, name: str, password: str, *, address: str) -> WebSession:
        """A new session for the right name and password from ``address`` (the client's).

        Raises:
            AuthenticationError: the name or the password is wrong, or the account is
                disabled (one message for all).
            RateLimitedError: ``MAX_FAILURES`` failed logins for this account from this
                address within ``FAILURE_WINDOW_S``; nothing is checked until it passes.
        """
        tried = normalize_name(name)[:MAX_NAME_SHOWN]
        address = address[:MAX_NAME_SHOWN]
        key = name_key(tried)
        now = self._now()
        self._take_attempt(key, tried, address, now)
        user = self._store.accounts.user(key)
        if not self._verify(user, password):
            with self._store.transaction() as conn:  # the attempt's failure stays counted
                self._audit.record(
                    conn, AuditAction.SESSIONS_LOGIN_FAILED, details=f"{tried} from {address}"
                )
            raise AuthenticationError(_DENIED)
        assert user is not None  # _verify is False without an account
        secret = secrets.token_urlsafe(32)
        with self._store.transaction() as conn:
            tables = self._store.accounts
            if self._hasher.check_needs_rehash(user.password_hash):
                tables.set_password_hash(conn, user.id, self._hasher.hash(password), None)
            tables.clear_failures(conn, key, address)
            tables.add_session(conn, _digest(secret), user.id, address, now)
            with self._audit.acting_as(user.name):
                self._audit.record(
                    conn, AuditAction.SESSIONS_LOGIN, accounts=[user.id], details=f"from {address}"
                )
        return WebSession(secret, _csrf_token(secret), _account(user))

    def _take_attempt(self, key: str, tried: str, address: str, now: float) -> None:
        """Count this attempt as a failure before its password is checked (a success
        clears it), in one transaction with the count: requests racing in parallel cannot
        get more than ``MAX_FAILURES`` checks between them. ``RateLimitedError`` when
        the pair has none left."""
        tables = self._store.accounts
        with self._store.transaction() as conn:
            recent = tables.failures_since(conn, key, address, now - FAILURE_WINDOW_S)
            if len(recent) < MAX_FAILURES:
                tables.add_failure(conn, key, address, now, FAILURE_WINDOW_S)
                return
            self._audit.record(
                conn,
                AuditAction.SESSIONS_LOGIN_FAILED,
                details=f"{tried} from {address}: rate limited",
            )
        raise RateLimitedError(max(1, math.ceil(recent[0] + FAILURE_WINDOW_S - now)))

    def session(self, secret: str) -> WebSession:
        """The live session whose cookie is ``secret``, its last request moved to now.

        AuthenticationError when it is unknown, idle past ``idle_timeout_s``, older than
        ``absolute_timeout_s`` or its account disabled (an ended session is deleted).
        """
        digest = _digest(secret)
        now = self._now()
        tables = self._store.accounts
        with self._store.transaction() as conn:
            found = tables.session(conn, digest)
            live = (
                found is not None
                and not found.user.disabled
                and now - found.last_seen_s <= self.idle_timeout_s
                and now - found.created_s <= self.absolute_timeout_s
            )
            if found is not None and live:
                tables.touch_session(conn, digest, now)
            elif found is not None:
                tables.end_session(conn, digest)
        if found is None or not live:
            raise AuthenticationError(_NO_SESSION)
        return WebSession(secret, _csrf_token(secret), _account(found.user))

    def logout(self, secret: str) -> None:
        """End the session whose cookie is ``secret`` (nothing happens for an unknown one)."""
        digest = _digest(secret)
        tables = self._store.accounts
        with self._store.transaction() as conn:
            found = tables.session(conn, digest)
            if found is not None and tables.end_session(conn, digest):
                with self._audit.acting_as(found.user.name):
                    self._audit.record(conn, AuditAction.SESSIONS_LOGOUT, accounts=[found.user.id])

    # -- helpers -----------------------------------------------------------------

    def _user(self, name: str) -> UserRow:
        user = self._store.accounts.user(name_key(normalize_name(name)))
        if user is None:
            raise NotFoundError(f"no account named {name!r}; see `facesight users list`")
        return user

    def _check_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInputError(
                f"a password needs at least {MIN_PASSWORD_LENGTH} characters,"
                f" this one has {len(password)}"
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInputError(
                f"a password has at most {MAX_PASSWORD_LENGTH} characters,"
                f" this one has {len(password)}"
            )
        if name_key(password) == name_key(name):
            raise InvalidInputError("a password cannot be the account's name")

    def _verify(self, user: UserRow | None, password: str) -> bool:
        """True for an enabled account and its password; as slow either way (an unknown
        account, or a password too long to be anyone's, verifies against a dummy hash)."""
        if self._dummy_hash is None:  # made at the first login, whoever it is for
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        usable = user is not None and len(password) <= MAX_PASSWORD_LENGTH
        stored = user.password_hash if user is not None and usable else self._dummy_hash
        try:
            self._hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return user is not None and usable and not user.disabled
