"""The audit log's filters (``AuditLog.records``) as SQL, on SQLite and on PostgreSQL alike:
action or family, actor, time range, a face id or a person id listed in a record's items,
and ``before`` for the next page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facesight.store.audit import AuditAction


def test_each_filter_is_answered_by_the_store_on_both_backends(
    open_any_store: Callable[..., Any],
) -> None:
    with open_any_store() as store:
        log = store.audit_log("ana")
        made = [
            (AuditAction.ENROLL, {"people": [7], "faces": [1, 2]}),
            (AuditAction.VIEW, {"faces": [2, 12, 21]}),
            (AuditAction.REVIEW_CONFIRM, {"faces": [12], "people": [17]}),
            (AuditAction.SEARCH_FACE, {"faces": [21, 1]}),
        ]
        for action, items in made:
            with store.transaction() as conn:
                log.record(conn, action, **items)
        with log.acting_as("bo"), store.transaction() as conn:
            log.record(conn, AuditAction.REVIEW_REJECT, faces=[2], people=[7])
        every = log.records()
        ids = [r.id for r in every]
        assert len(ids) == 5 and ids == sorted(ids, reverse=True)

        def kept(**filters: Any) -> list[int]:
            return [r.id for r in log.records(**filters)]

        def having(kind: str, wanted: int) -> list[int]:
            return [r.id for r in every if wanted in r.items.get(kind, [])]

        assert kept(face_id=2) == having("faces", 2) and len(having("faces", 2)) == 3
        assert kept(face_id=1) == having("faces", 1) and kept(face_id=12) == having("faces", 12)
        assert kept(face_id=121) == [] and kept(person_id=1) == []  # no digit matching
        assert kept(person_id=7) == having("people", 7) and len(having("people", 7)) == 2
        assert kept(action="review") == [ids[0], ids[2]]
        assert kept(actor="bo") == [ids[0]] and kept(actor="bo", face_id=12) == []
        assert kept(face_id=2, before=ids[0]) == having("faces", 2)[1:]
        day = every[0].at[:10]
        assert kept(since=day, until=day) == ids
        assert kept(until="2000-01-01") == [] and kept(since="2999-01-01") == []
        assert kept(since=every[0].at) == [r.id for r in every if r.at >= every[0].at]
