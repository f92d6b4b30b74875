"""``/api/v1/audit`` (the audit log, filtered, a page at a time) and
``/api/v1/audit/verify`` (the check ``facesight audit verify`` runs), administrators only.

Every filter is the store's SQL (``AuditLog.records``): a page costs the same however long
the log grows. ``after`` is the id of the last record of the page before.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from facesight.errors import InvalidInputError
from facesight.library.facade import AuditRecord, AuditVerification, Library
from facesight.library.roles import Permission
from facesight.web.api import after_id
from facesight.web.api_models import ERRORS, MAX_ID, AuditPage, AuditVerifyOut
from facesight.web.auth import Guard, Principal

__all__ = ["AuditQuery", "audit_query", "record_json", "router", "verification_json"]

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)

Admin = Annotated[Principal, Depends(Guard(Permission.ADMINISTER))]


class AuditQuery:
    """The audit log's filters, as the page and the API take them (empty: no filter)."""

    def __init__(
        self,
        action: Annotated[
            str | None, Query(max_length=100, description="an action, or a family: review")
        ] = None,
        actor: Annotated[
            str | None, Query(max_length=200, description="account or OS user")
        ] = None,
        since: Annotated[str | None, Query(max_length=40, description="date or UTC time")] = None,
        until: Annotated[
            str | None, Query(max_length=40, description="date (to its end) or UTC time")
        ] = None,
        face_id: Annotated[str | None, Query(max_length=20, description="a face id")] = None,
        person_id: Annotated[str | None, Query(max_length=20, description="a person id")] = None,
    ) -> None:
        self.action = (action or "").strip() or None
        self.actor = (actor or "").strip() or None
        self.since = (since or "").strip() or None
        self.until = (until or "").strip() or None
        # text, not int: a form's empty field is no filter
        self.face_id = _id_filter(face_id, "face_id")
        self.person_id = _id_filter(person_id, "person_id")

    def fields(self) -> dict[str, str]:
        """The filters given, as query parameters (for the next page's link)."""
        given = {
            "action": self.action,
            "actor": self.actor,
            "since": self.since,
            "until": self.until,
            "face_id": self.face_id,
            "person_id": self.person_id,
        }
        return {k: str(v) for k, v in given.items() if v is not None}

    def records(self, lib: Library, before: int | None, limit: int) -> list[AuditRecord]:
        """The records these filters keep, newest first, ids below ``before``."""
        return lib.audit_records(
            action=self.action,
            actor=self.actor,
            since=self.since,
            until=self.until,
            face_id=self.face_id,
            person_id=self.person_id,
            before=before,
            limit=limit,
        )


audit_query = Depends(AuditQuery)


def _id_filter(value: str | None, name: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
        raise InvalidInputError(f"{name} must be a whole number from 1, got {text[:20]!r}")
    return int(text)


def record_json(r: AuditRecord) -> dict[str, Any]:
    """One audit record (erased details shown empty, ``erased`` says which)."""
    return {
        "id": r.id,
        "at": r.at,
        "actor": r.actor,
        "action": r.action,
        "items": r.items,
        "details": "" if "details" in r.erased else r.details,
        "os_user": r.os_user,
        "claimed_user": r.claimed_user,
        "version": r.version,
        "hash": r.hash,
        "erased": list(r.erased),
    }


def verification_json(result: AuditVerification) -> dict[str, Any]:
    """What the verification found, the first break first."""
    broken = [p.record_id for p in result.problems if p.record_id is not None]
    return {
        "ok": result.ok,
        "records": result.records,
        "head": result.head,
        "problems": [str(p) for p in result.problems],
        "first_break": broken[0] if broken else None,
    }


@router.get("/audit", response_model=AuditPage)
async def audit(
    request: Request,
    principal: Admin,
    query: Annotated[AuditQuery, audit_query],
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The audit log, newest first, filtered by action (or family), actor, time, face or
    person; ``after`` is the id of the last record of the page before."""
    before = after_id(after) or None
    records = await request.app.state.gate.run(
        lambda lib: query.records(lib, before, limit + 1), actor=principal.account.name
    )
    shown = records[:limit]
    return {
        "items": [record_json(r) for r in shown],
        "next_after": str(shown[-1].id) if len(records) > limit else None,
    }


@router.post("/audit/verify", response_model=AuditVerifyOut)
async def verify(request: Request, principal: Admin) -> dict[str, Any]:
    """Check the log's hash chain, its commitments and its append-only triggers (what
    ``facesight audit verify`` checks); a broken log answers 200 with ``ok`` false."""
    result = await request.app.state.gate.run(
        lambda lib: lib.verify_audit(), actor=principal.account.name
    )
    return verification_json(result)
