"""Accounts, sessions and API tokens (``library.accounts``) on a real library database,
SQLite and PostgreSQL, with a fake clock for the timeouts and the rate limit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from facesight.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from facesight.library.accounts import (
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    AccountService,
)
from facesight.library.roles import Role
from facesight.store.audit import AuditLog
from facesight.store.sqlite import Store

PASSWORD = "correct horse battery"
HERE = "127.0.0.1"


@dataclass
class Clock:
    """Seconds since the epoch, moved by the test."""

    t: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(open_any_store: Callable[..., Store]) -> Iterator[Store]:
    with open_any_store() as s:
        yield s


@pytest.fixture
def audit(store: Store) -> AuditLog:
    return store.audit_log()


@pytest.fixture
def service(store: Store, audit: AuditLog, clock: Clock) -> AccountService:
    # real Argon2id, with less memory and time than the defaults so the tests stay fast
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return AccountService(store, audit, now=clock, hasher=cheap)


def _actions(audit: AuditLog) -> list[str]:
    return [r.action for r in reversed(audit.records())]


# -- accounts ------------------------------------------------------------------------------


def test_add_lists_and_finds_accounts(service: AccountService, audit: AuditLog) -> None:
    alice = service.add("  Alice ", "admin", PASSWORD)
    bob = service.add("bob", Role.VIEWER, PASSWORD + "!")
    assert (alice.name, alice.role, alice.disabled) == ("Alice", Role.ADMIN, False)
    assert alice.created_at == "2027-01-15T08:00:00+00:00"
    assert service.accounts() == [alice, bob]
    assert service.account("ALICE") == alice
    with pytest.raises(NotFoundError, match="no account named 'carol'"):
        service.account("carol")
    assert _actions(audit) == ["users.add", "users.add"]
    assert audit.records()[-1].details == "Alice as admin"


@pytest.mark.parametrize(
    ("name", "role", "password", "problem"),
    [
        ("alice", "admin", "short pass", "at least 12 characters"),
        ("alice", "admin", "x" * 1025, "at most 1024 characters"),
        ("Alice Smith", "admin", "alice  SMITH", "cannot be the account's name"),
        ("alice", "owner", PASSWORD, "no role 'owner'"),
        ("al\x1bice", "admin", PASSWORD, "control"),
        ("   ", "admin", PASSWORD, "empty"),
    ],
)
def test_add_refuses_bad_input(
    service: AccountService, name: str, role: str, password: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        service.add(name, role, password)
    assert service.accounts() == []


def test_add_refuses_a_taken_name_whatever_its_case(service: AccountService) -> None:
    service.add("alice", "viewer", PASSWORD)
    with pytest.raises(InvalidInputError, match="exists already"):
        service.add("ALICE", "admin", PASSWORD)
    assert [a.role for a in service.accounts()] == [Role.VIEWER]


def test_password_is_stored_as_argon2id_and_secrets_never_in_clear(
    tmp_path: Path, clock: Clock
) -> None:
    # the default hasher (argon2-cffi's RFC 9106 parameters), on a SQLite file read as bytes
    db = tmp_path / "facesight.db"
    with Store(db) as store:
        service = AccountService(store, store.audit_log(), now=clock)
        service.add("alice", "admin", PASSWORD)
        session = service.login("alice", PASSWORD, address=HERE)
        token = service.issue_token("alice")
        stored = store.query("SELECT password_hash FROM users")[0]["password_hash"]
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert service.session(session.secret).account.name == "alice"
        store.checkpoint()
    data = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("facesight.db-*"))
    secret = token.secret.split("_", 2)[2]
    for clear in (PASSWORD, session.secret, session.csrf_token, token.secret, secret):
        assert clear.encode() not in data
    assert b"$argon2id$" in data  # the search does see what the file holds


def test_no_row_of_any_table_holds_a_secret(service: AccountService, store: Store) -> None:
    # on both backends: every value of every table, as text
    from facesight.store.copy import NOT_COPIED, TABLES

    service.add("alice", "admin", PASSWORD)
    service.set_password("alice", "another long password")
    session = service.login("alice", "another long password", address=HERE)
    token = service.issue_token("alice")
    service.token_account(token.secret)
    values = [
        str(value)
        for table in (*TABLES, *NOT_COPIED)
        for row in store.query(f"SELECT * FROM {table}")
        for value in tuple(row)
    ]
    dump = "\n".join(values)
    assert "$argon2id$" in dump and "alice" in dump
    assert hashlib.sha256(session.secret.encode()).hexdigest() in dump  # the session is there
    secret = token.secret.split("_", 2)[2]
    for clear in (PASSWORD, "another long password", session.secret, secret, session.csrf_token):
        assert clear not in dump


# -- sessions ------------------------------------------------------------------------------


def test_login_makes_a_session_and_logout_ends_it(service: AccountService, audit: AuditLog) -> None:
    service.add("alice", "reviewer", PASSWORD)
    session = service.login("Alice", PASSWORD, address=HERE)
    assert len(session.secret) >= 43 and len(session.csrf_token) == 64
    assert session.account.name == "alice" and session.account.role is Role.REVIEWER
    again = service.session(session.secret)
    assert again.account == session.account and again.csrf_token == session.csrf_token
    other = service.login("alice", PASSWORD, address=HERE)
    assert other.secret != session.secret and other.csrf_token != session.csrf_token
    service.logout(session.secret)
    with pytest.raises(AuthenticationError):
        service.session(session.secret)
    assert service.session(other.secret).account.name == "alice"
    service.logout(session.secret)  # once more: nothing to end, nothing recorded
    login, logout = audit.records(action="sessions.login")[0], audit.records(action="sessions")[0]
    assert (login.actor, login.claimed_user, login.details) == ("alice", None, f"from {HERE}")
    assert login.items == logout.items == {"accounts": [session.account.id]}
    assert (logout.action, logout.actor) == ("sessions.logout", "alice")
    assert _actions(audit).count("sessions.logout") == 1


@pytest.mark.parametrize(
    ("name", "password"),
    [("alice", "wrong password here"), ("nobody", PASSWORD), ("alice", "x" * 5000)],
)
def test_a_failed_login_says_nothing_of_which_part_was_wrong(
    service: AccountService, audit: AuditLog, name: str, password: str
) -> None:
    service.add("alice", "admin", PASSWORD)
    with pytest.raises(AuthenticationError) as failed:
        service.login(name, password, address=HERE)
    assert str(failed.value) == "wrong account name or password"
    record = audit.records()[0]
    assert (record.action, record.details) == ("sessions.login_failed", f"{name} from {HERE}")
    assert password not in str(audit.records())


def test_a_session_ends_after_the_idle_timeout(service: AccountService, clock: Clock) -> None:
    service.add("alice", "admin", PASSWORD)
    session = service.login("alice", PASSWORD, address=HERE)
    for _ in range(3):  # each request moves the idle deadline
        clock.t += 1800
        assert service.session(session.secret).account.name == "alice"
    clock.t += 1801
    with pytest.raises(AuthenticationError):
        service.session(session.secret)
    clock.t = 0  # an ended session is gone, not merely refused
    with pytest.raises(AuthenticationError):
        service.session(session.secret)


def test_a_session_ends_after_the_absolute_timeout_however_busy(
    service: AccountService, clock: Clock
) -> None:
    service.add("alice", "admin", PASSWORD)
    session = service.login("alice", PASSWORD, address=HERE)
    start = clock.t
    while clock.t + 1000 <= start + 43200:
        clock.t += 1000
        service.session(session.secret)
    clock.t = start + 43201
    with pytest.raises(AuthenticationError):
        service.session(session.secret)


def test_the_timeouts_can_be_set(service: AccountService, clock: Clock) -> None:
    service.idle_timeout_s = 60
    service.absolute_timeout_s = 100
    service.add("alice", "admin", PASSWORD)
    idle = service.login("alice", PASSWORD, address=HERE)
    clock.t += 61
    with pytest.raises(AuthenticationError):
        service.session(idle.secret)
    busy = service.login("alice", PASSWORD, address=HERE)
    clock.t += 50
    service.session(busy.secret)
    clock.t += 51
    with pytest.raises(AuthenticationError):
        service.session(busy.secret)


def test_unknown_session_secrets_are_refused(service: AccountService) -> None:
    service.add("alice", "admin", PASSWORD)
    service.login("alice", PASSWORD, address=HERE)
    for secret in ("", "x", "fs_1_" + "a" * 43):
        with pytest.raises(AuthenticationError):
            service.session(secret)


# -- the rate limit ------------------------------------------------------------------------


def test_five_failures_per_account_and_address_then_rate_limited(
    service: AccountService, clock: Clock, audit: AuditLog
) -> None:
    service.add("alice", "admin", PASSWORD)
    for _ in range(MAX_FAILURES):
        clock.t += 10
        with pytest.raises(AuthenticationError):
            service.login("alice", "wrong password here", address="10.0.0.9")
    first_failure = clock.t - 10 * (MAX_FAILURES - 1)
    clock.t += 100
    with pytest.raises(RateLimitedError) as limited:  # even the right password is not heard
        service.login("alice", PASSWORD, address="10.0.0.9")
    assert limited.value.retry_after_s == first_failure + FAILURE_WINDOW_S - clock.t == 760
    assert audit.records()[0].details == "alice from 10.0.0.9: rate limited"
    # another address, or another account from that address, is not limited
    assert service.login("alice", PASSWORD, address="10.0.0.10").account.name == "alice"
    with pytest.raises(AuthenticationError):
        service.login("bob", PASSWORD, address="10.0.0.9")
    # once the oldest failure leaves the window, one more try is heard
    clock.t = first_failure + FAILURE_WINDOW_S
    assert service.login("alice", PASSWORD, address="10.0.0.9").account.name == "alice"


def test_a_successful_login_clears_the_failures(service: AccountService, clock: Clock) -> None:
    service.add("alice", "admin", PASSWORD)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            service.login("alice", "wrong password here", address=HERE)
    service.login("alice", PASSWORD, address=HERE)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            service.login("alice", "wrong password here", address=HERE)
    assert service.login("alice", PASSWORD, address=HERE).account.name == "alice"


def test_unknown_accounts_are_rate_limited_too(service: AccountService) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            service.login("nobody", PASSWORD, address=HERE)
    with pytest.raises(RateLimitedError) as limited:
        service.login("nobody", PASSWORD, address=HERE)
    assert limited.value.retry_after_s == FAILURE_WINDOW_S


def test_a_failed_login_on_an_unknown_account_still_verifies_a_hash(
    store: Store, audit: AuditLog, clock: Clock
) -> None:
    verified: list[str] = []

    class CountingHasher(PasswordHasher):  # a real hasher that notes what it verifies
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    service = AccountService(
        store, audit, now=clock, hasher=CountingHasher(time_cost=1, memory_cost=1024)
    )
    service.add("alice", "admin", PASSWORD)
    for name in ("alice", "nobody"):
        with pytest.raises(AuthenticationError):
            service.login(name, "wrong password here", address=HERE)
    assert len(verified) == 2 and all(h.startswith("$argon2id$") for h in verified)
    assert verified[0] != verified[1]  # the unknown name met a dummy hash, not alice's


def test_an_attempt_is_counted_before_its_password_is_checked(
    store: Store, audit: AuditLog, clock: Clock
) -> None:
    # requests racing in parallel: each takes its place in the count before the slow
    # check, so together they get no more than MAX_FAILURES checks
    counted: list[int] = []

    class WatchingHasher(PasswordHasher):  # a real hasher that looks at the count
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            counted.append(store.query("SELECT COUNT(*) AS n FROM login_failures")[0]["n"])
            return super().verify(hash, password)

    service = AccountService(
        store, audit, now=clock, hasher=WatchingHasher(time_cost=1, memory_cost=1024)
    )
    service.add("alice", "admin", PASSWORD)
    with pytest.raises(AuthenticationError):
        service.login("alice", "wrong password here", address=HERE)
    service.login("alice", PASSWORD, address=HERE)
    assert counted == [1, 2]
    assert store.query("SELECT COUNT(*) AS n FROM login_failures")[0]["n"] == 0


def test_a_huge_name_is_kept_short(service: AccountService, audit: AuditLog) -> None:
    with pytest.raises(AuthenticationError):
        service.login("n" * 100_000, PASSWORD, address="a" * 100_000)
    assert len(audit.records()[0].details) == 200 + len(" from ") + 200


# -- passwords and disabling ---------------------------------------------------------------


def test_set_password_ends_the_sessions_but_keeps_the_tokens(
    service: AccountService, audit: AuditLog
) -> None:
    service.add("alice", "admin", PASSWORD)
    session = service.login("alice", PASSWORD, address=HERE)
    token = service.issue_token("alice")
    service.set_password("alice", "another long password")
    with pytest.raises(AuthenticationError):
        service.session(session.secret)
    with pytest.raises(AuthenticationError):
        service.login("alice", PASSWORD, address=HERE)
    assert service.login("alice", "another long password", address=HERE)
    assert service.token_account(token.secret).name == "alice"
    record = audit.records(action="users.password")[0]
    assert record.items == {"accounts": [1], "counts": {"sessions": 1}}
    assert record.details == "alice"
    with pytest.raises(InvalidInputError):
        service.set_password("alice", "short")
    with pytest.raises(NotFoundError):
        service.set_password("nobody", PASSWORD)


def test_disable_ends_sessions_and_tokens_at_once(service: AccountService, audit: AuditLog) -> None:
    service.add("alice", "admin", PASSWORD)
    service.add("bob", "viewer", PASSWORD)
    sessions = [service.login("alice", PASSWORD, address=HERE) for _ in range(2)]
    tokens = [service.issue_token("alice"), service.issue_token("alice", expires_days=None)]
    bobs = service.login("bob", PASSWORD, address=HERE)
    disabled = service.disable("alice")
    assert disabled.disabled and service.account("alice").disabled
    for session in sessions:
        with pytest.raises(AuthenticationError):
            service.session(session.secret)
    for token in tokens:
        with pytest.raises(AuthenticationError):
            service.token_account(token.secret)
    assert [t.revoked for t in service.tokens("alice")] == [True, True]
    with pytest.raises(AuthenticationError, match="wrong account name or password"):
        service.login("alice", PASSWORD, address=HERE)
    with pytest.raises(InvalidInputError, match="disabled"):
        service.issue_token("alice")
    assert service.session(bobs.secret).account.name == "bob"
    record = audit.records(action="users.disable")[0]
    assert record.items == {"accounts": [1], "counts": {"sessions": 2, "tokens": 2}}


# -- API tokens ----------------------------------------------------------------------------


def test_tokens_are_issued_listed_used_and_revoked(
    service: AccountService, clock: Clock, audit: AuditLog
) -> None:
    service.add("alice", "admin", PASSWORD)
    service.add("bob", "viewer", PASSWORD)
    first = service.issue_token("alice")
    second = service.issue_token("bob", expires_days=1.5)
    assert first.secret.startswith(f"fs_{first.id}_") and len(first.secret) > 43
    assert first.expires_at == "2027-04-15T08:00:00+00:00"  # 90 days
    assert second.expires_at == "2027-01-16T20:00:00+00:00"
    assert service.token_account(first.secret).name == "alice"
    assert service.token_account(f"  {second.secret}\n").name == "bob"
    listed = service.tokens()
    assert [(t.id, t.user, t.revoked) for t in listed] == [(1, "alice", False), (2, "bob", False)]
    assert listed[0].last_used_at == "2027-01-15T08:00:00+00:00"
    assert [t.id for t in service.tokens("BOB")] == [second.id]
    service.revoke_token(first.id)
    with pytest.raises(AuthenticationError, match="unknown, expired or revoked"):
        service.token_account(first.secret)
    assert [t.revoked for t in service.tokens()] == [True, False]
    with pytest.raises(NotFoundError):
        service.revoke_token(99)
    issued = audit.records(action="tokens.issue")
    assert [r.items for r in reversed(issued)] == [
        {"accounts": [1], "tokens": [1]},
        {"accounts": [2], "tokens": [2]},
    ]
    assert all(t.secret not in str(audit.records()) for t in (first, second))
    assert audit.records(action="tokens.revoke")[0].items == {"accounts": [1], "tokens": [1]}


def test_a_token_expires(service: AccountService, clock: Clock) -> None:
    service.add("alice", "admin", PASSWORD)
    token = service.issue_token("alice", expires_days=1)
    never = service.issue_token("alice", expires_days=None)
    assert never.expires_at is None
    clock.t += 86399
    assert service.token_account(token.secret).name == "alice"
    clock.t += 1
    with pytest.raises(AuthenticationError):
        service.token_account(token.secret)
    clock.t += 86400 * 3650
    assert service.token_account(never.secret).name == "alice"


def test_a_token_with_another_secret_or_malformed_is_refused(service: AccountService) -> None:
    service.add("alice", "admin", PASSWORD)
    token = service.issue_token("alice")
    other = service.issue_token("alice")
    forged = f"fs_{token.id}_{other.secret.split('_', 2)[2]}"  # a real secret, wrong id
    for secret in (forged, "", "fs_", f"fs_{token.id}_", "Bearer " + token.secret, "fs_x_y"):
        with pytest.raises(AuthenticationError):
            service.token_account(secret)


@pytest.mark.parametrize("days", [0, -1, 36501])
def test_a_token_lifetime_must_be_sensible(service: AccountService, days: float) -> None:
    service.add("alice", "admin", PASSWORD)
    with pytest.raises(InvalidInputError):
        service.issue_token("alice", expires_days=days)
    with pytest.raises(NotFoundError):
        service.issue_token("nobody")


# -- a copied library ----------------------------------------------------------------------


def test_a_copy_keeps_accounts_and_tokens_but_not_sessions(
    tmp_path: Path, postgres_url: str, clock: Clock
) -> None:
    from facesight.store.backend import open_store
    from facesight.store.copy import copy_library

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with Store(tmp_path / "facesight.db") as source:
        original = AccountService(source, source.audit_log(), now=clock, hasher=cheap)
        original.add("alice", "admin", PASSWORD)
        token = original.issue_token("alice")
        session = original.login("alice", PASSWORD, address=HERE)
        for _ in range(MAX_FAILURES):
            with pytest.raises(AuthenticationError):
                original.login("alice", "wrong password here", address="10.0.0.9")
        files = tmp_path / "files"
        files.mkdir()
        with open_store(postgres_url, files_dir=files) as destination:
            counts = copy_library(source, destination)
            assert (counts["users"], counts["api_tokens"]) == (1, 1)
            copied = AccountService(destination, destination.audit_log(), now=clock, hasher=cheap)
            assert copied.token_account(token.secret).name == "alice"
            with pytest.raises(AuthenticationError):  # a session stays with its server
                copied.session(session.secret)
            # the failures stayed behind too; the password came along
            assert copied.login("alice", PASSWORD, address="10.0.0.9").account.name == "alice"
            # ids go on after the copied ones (PostgreSQL's identity counters moved)
            assert copied.add("bob", "viewer", PASSWORD).id == 2
            assert copied.issue_token("bob").id == 2
