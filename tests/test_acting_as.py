"""``Library.acting_as``: audit records and review decisions made by a facesight account,
on a real library with real faces; the claimed ``--user`` name returns afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesight.errors import AuthenticationError, NotFoundError
from facesight.library.facade import Library
from facesight.store.audit import os_account
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import PEOPLE, REPO

OBAMA = sorted((PEOPLE / "Barack_Obama").glob("*"))
PASSWORD = "correct horse battery"


@pytest.fixture
def lib(tmp_path: Path, detector: FaceDetector, embedder: FaceEmbedder) -> Iterator[Library]:
    """Obama enrolled from one photo, three others scanned; opened with ``--user cli``."""
    with Library(tmp_path / "lib", detector=detector, embedder=embedder, actor="cli") as library:
        library.enroll("Barack Obama", OBAMA[:1])
        library.scan(OBAMA[1:4])
        library.accounts.add("Alice", "reviewer", PASSWORD)
        yield library


def test_decisions_and_audit_records_are_the_accounts_inside_acting_as(lib: Library) -> None:
    first, second, third = [s.face_id for s in lib.pending()][:3]
    with lib.acting_as("alice"):
        confirmed = lib.confirm(first, note="same ear")
        lib.reject(second)
    after = lib.confirm(third)
    assert confirmed.review is not None and confirmed.review.reviewer == "Alice"
    assert after.review is not None and after.review.reviewer == "cli"
    db = sqlite3.connect(lib.path / Library.DB_NAME)
    reviewers = dict(db.execute("SELECT face_id, reviewer FROM reviews").fetchall())
    assert reviewers == {first: "Alice", second: "Alice", third: "cli"}
    records = [r for r in reversed(lib.audit.records()) if r.action.startswith("review.")]
    assert [(r.action, r.actor, r.claimed_user, r.os_user) for r in records] == [
        ("review.confirm", "Alice", None, os_account()),
        ("review.reject", "Alice", None, os_account()),
        ("review.confirm", "cli", "cli", os_account()),
    ]


def test_acting_as_refuses_unknown_and_disabled_accounts(lib: Library) -> None:
    with pytest.raises(NotFoundError), lib.acting_as("mallory"):
        pass
    lib.accounts.disable("alice")
    with pytest.raises(AuthenticationError), lib.acting_as("alice"):
        pass
    # the disable itself was recorded by the CLI's claimed user, not an account
    record = lib.audit.records(action="users.disable")[0]
    assert (record.actor, record.claimed_user) == ("cli", "cli")


def test_acting_as_holds_only_in_its_own_thread(lib: Library) -> None:
    inside = threading.Event()
    done = threading.Event()
    seen: list[str] = []

    def other() -> None:
        inside.wait()
        seen.append(lib.audit.actor)  # another request, at the same moment
        done.set()

    worker = threading.Thread(target=other)
    worker.start()
    with lib.acting_as("alice"):
        inside.set()
        done.wait()
        seen.append(lib.audit.actor)
    worker.join()
    assert seen == ["cli", "Alice"]


def test_account_changes_made_inside_acting_as_name_the_admin(lib: Library) -> None:
    lib.accounts.add("root", "admin", PASSWORD + "!")
    with lib.acting_as("ROOT"):
        lib.accounts.add("bob", "viewer", PASSWORD)
        token = lib.accounts.issue_token("bob")
        lib.accounts.revoke_token(token.id)
    records = lib.audit.records()[:3]
    assert [(r.action, r.actor, r.claimed_user) for r in reversed(records)] == [
        ("users.add", "root", None),
        ("tokens.issue", "root", None),
        ("tokens.revoke", "root", None),
    ]
    assert lib.audit.records(action="users.add")[-1].actor == "cli"


def test_the_audit_table_names_the_account_that_acted_in_the_workspace(tmp_path: Path) -> None:
    """A decision made in the web is the account's: the CLI's table must show who, not only
    the server's operating-system account (the account is not a claimed name)."""
    with Library(tmp_path / "lib") as library:
        library.accounts.add("wanda", "reviewer", "correct horse battery staple")
        with library.acting_as("wanda"):
            library.record_view([1, 2], "a test page")
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "250"}
    base = [sys.executable, "-m", "facesight", "--library", str(tmp_path / "lib"), "audit"]
    table = subprocess.run(base, env=env, capture_output=True, text=True, check=True)
    listed = subprocess.run([*base, "--json"], env=env, capture_output=True, text=True, check=True)
    (view,) = [r for r in json.loads(listed.stdout) if r["action"] == "view.sightings"]
    assert view["actor"] == "wanda" and view["claimed_user"] is None
    (line,) = [line for line in table.stdout.splitlines() if "view.sightings" in line]
    assert "wanda" in line
