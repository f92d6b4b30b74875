"""The audit log in PostgreSQL: append-only triggers, tampering named, triggers restored.

The PostgreSQL side of ``tests/test_audit.py``: the intruder is a superuser who can
disable the triggers (``ALTER TABLE ... DISABLE TRIGGER``) or drop them.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from facesight.store.audit import AuditAction
from facesight.store.postgres import PostgresStore


def _log(url: str, files: Path, records: int = 4) -> None:
    with PostgresStore(url, files_dir=files) as store:
        log = store.audit_log("alice")
        for i in range(records):
            with store.transaction() as conn:
                log.record(conn, AuditAction.REVIEW_CONFIRM, faces=[i + 1], paths=[f"/p/{i}.jpg"])


def _intruder(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


def _problems(url: str, files: Path) -> list[str]:
    with PostgresStore(url, files_dir=files) as store:
        log = store.audit_log()
        log.ensure_triggers()
        return [str(p) for p in log.verify().problems]


def test_the_log_refuses_changes_and_names_the_record_changed_behind_its_back(
    postgres_url: str, tmp_path: Path
) -> None:
    _log(postgres_url, tmp_path)
    for refused in (
        "DELETE FROM audit_log WHERE id = 1",
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 1",
        "UPDATE audit_log SET paths = NULL, paths_commit = 'x' WHERE id = 1",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            _intruder(postgres_url, refused)
    # erasure's blanking passes (and is named while no erasure record explains it)
    _intruder(postgres_url, "UPDATE audit_log SET paths = NULL, paths_salt = NULL WHERE id = 2")
    assert _problems(postgres_url, tmp_path) == [
        "record 2: its paths or details were blanked, but no erasure record lists it"
    ]
    _intruder(
        postgres_url,
        "ALTER TABLE audit_log DISABLE TRIGGER USER;"
        " UPDATE audit_log SET actor = 'mallory' WHERE id = 3;"
        " ALTER TABLE audit_log ENABLE TRIGGER USER",
    )
    problems = _problems(postgres_url, tmp_path)
    assert any(p.startswith("record 3:") and "hash" in p for p in problems), problems


def test_a_dropped_trigger_is_restored_at_open_and_reported(
    postgres_url: str, tmp_path: Path
) -> None:
    _log(postgres_url, tmp_path)
    _intruder(postgres_url, "DROP TRIGGER audit_log_no_delete ON audit_log")
    problems = _problems(postgres_url, tmp_path)
    assert problems and problems[0].startswith("record 5:") and "trigger" in problems[0]
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        _intruder(postgres_url, "DELETE FROM audit_log WHERE id = 1")
    assert _problems(postgres_url, tmp_path) == problems  # restored once, reported for good


def test_doctor_names_a_missing_index_and_trigger(postgres_url: str, tmp_path: Path) -> None:
    with PostgresStore(postgres_url, files_dir=tmp_path) as store:
        assert store.missing_schema_objects()[0] == []
        assert store.missing_schema_objects()[1] > 20
        assert store.integrity_problems() == []
    _intruder(postgres_url, "DROP INDEX candidates_by_person")
    _intruder(postgres_url, "DROP TRIGGER audit_log_no_truncate ON audit_log")
    with PostgresStore(postgres_url, files_dir=tmp_path) as store:
        missing, _ = store.missing_schema_objects()
    assert missing == [("index", "candidates_by_person"), ("trigger", "audit_log_no_truncate")]


def test_records_page_newest_first_by_id(postgres_url: str, tmp_path: Path) -> None:
    # the API's audit pages: records older than ``before``, the filters as always
    _log(postgres_url, tmp_path, records=5)
    with PostgresStore(postgres_url, files_dir=tmp_path) as store:
        log = store.audit_log()
        first = log.records(limit=2)
        assert [r.id for r in first] == [5, 4]
        assert [r.id for r in log.records(before=4, limit=2)] == [3, 2]
        assert [r.id for r in log.records(action="review", actor="alice", before=2)] == [1]
        assert log.records(before=1) == []
