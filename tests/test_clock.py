"""The one UTC now (``facesight.clock``): each place keeps the format it always stored."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from facesight.clock import utc_now_iso
from facesight.store import rows
from facesight.store.sqlite import Store


def test_utc_now_is_to_the_second_with_utc_offset() -> None:
    stamp = utc_now_iso()
    assert stamp.endswith("+00:00")
    assert datetime.fromisoformat(stamp).microsecond == 0
    assert len(stamp) == len("2026-01-31T12:00:00+00:00")


def test_rows_store_the_kernel_now() -> None:
    assert rows.now is utc_now_iso


def test_migrations_keep_their_microseconds(tmp_path: Path) -> None:
    store = Store(tmp_path / "facesight.db")
    try:
        stamps = [
            str(r["applied_at"]) for r in store.query("SELECT applied_at FROM schema_migrations")
        ]
    finally:
        store.close()
    assert stamps
    # written with microseconds since the first migration: a stamp cut to the second
    # would have none (each stamp lands on a whole second once in a million)
    assert any("." in s for s in stamps)
    assert all(s.endswith("+00:00") for s in stamps)
