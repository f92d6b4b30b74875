"""``facesight users`` as a person runs it: real subprocesses on a real library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facesight.library.facade import Library

from .paths import REPO

PASSWORD = "correct horse battery"


def _cli(library: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACESIGHT_USER": "dave"}
    command = [sys.executable, "-m", "facesight", "--library", str(library), *args]
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    path = tmp_path / "lib"
    done = _cli(path, "init")
    assert done.returncode == 0, done.stderr
    return path


def test_users_round_trip(lib: Path) -> None:
    added = _cli(
        lib, "users", "add", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added alice (admin)"
    _cli(lib, "users", "add", "bob", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    listed = json.loads(_cli(lib, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("alice", "admin", False),
        ("bob", "viewer", False),
    ]

    issued = _cli(lib, "users", "token", "bob", "--expires", "2")
    assert issued.returncode == 0, issued.stderr
    *before, token = issued.stdout.splitlines()
    assert token.startswith("fs_1_") and "shown this once" in before[-1]
    tokens = json.loads(_cli(lib, "users", "tokens", "bob", "--json").stdout)
    assert [(t["id"], t["user"], t["revoked"]) for t in tokens] == [(1, "bob", False)]
    assert token not in json.dumps(tokens)

    with Library(lib, create=False) as library:  # the token and password work
        assert library.accounts.token_account(token).name == "bob"
        assert library.accounts.login("alice", PASSWORD, address="::1").account.name == "alice"

    changed = _cli(
        lib, "users", "passwd", "alice", "--password-stdin", stdin="a new long password\r\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert _cli(lib, "users", "revoke", "1").returncode == 0
    assert _cli(lib, "users", "disable", "bob").returncode == 0
    with Library(lib, create=False) as library:
        assert library.accounts.login("alice", "a new long password", address="::1")
        assert [t.revoked for t in library.accounts.tokens()] == [True]
        assert library.accounts.account("bob").disabled
        actions = [(r.action, r.actor) for r in reversed(library.audit.records())]
    assert [a for a in actions if a[0].split(".")[0] in ("users", "tokens")] == [
        ("users.add", "dave"),
        ("users.add", "dave"),
        ("tokens.issue", "dave"),
        ("users.password", "dave"),
        ("tokens.revoke", "dave"),
        ("users.disable", "dave"),
    ]


def test_users_errors_are_one_line(lib: Path) -> None:
    short = _cli(
        lib, "users", "add", "alice", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    assert "Traceback" not in short.stderr
    empty = _cli(lib, "users", "add", "alice", "--role", "admin", "--password-stdin")
    assert empty.returncode == 2 and "no password line" in empty.stderr
    role = _cli(lib, "users", "add", "alice", "--role", "root", "--password-stdin", stdin=PASSWORD)
    assert role.returncode == 2
    missing = _cli(lib, "users", "disable", "nobody")
    assert missing.returncode == 1 and "no account named 'nobody'" in missing.stderr
    revoke = _cli(lib, "users", "revoke", "7")
    assert revoke.returncode == 1 and "no API token has id 7" in revoke.stderr
    assert json.loads(_cli(lib, "users", "list", "--json").stdout) == []


def test_users_add_prompts_for_the_password_twice(lib: Path) -> None:
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    added = _cli(lib, "users", "add", "carol", "--role", "reviewer", stdin=typed)
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    with Library(lib, create=False) as library:
        assert library.accounts.login("carol", PASSWORD, address="::1").account.role == "reviewer"
