"""The audit log (``/audit``, administrators): the newest records first, filtered, a page at
a time, and ``/audit/verify``: the chain checked as ``facesight audit verify`` checks it.

``after`` is the id of the last record shown: the next page holds the records older than it,
so records written meanwhile never push one off a page. The filters (action or family,
account, date range, face id, person id) are the store's SQL (``AuditLog.records``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from facesight.errors import InvalidInputError
from facesight.library.roles import Permission
from facesight.web.api_audit import AuditQuery, audit_query, verification_json
from facesight.web.auth import Guard, Principal
from facesight.web.rendering import render

__all__ = ["RECORDS_PER_PAGE", "router"]

router = APIRouter(include_in_schema=False)

RECORDS_PER_PAGE = 50

Admin = Annotated[Principal, Depends(Guard(Permission.ADMINISTER))]


async def _page(
    request: Request,
    principal: Principal,
    query: AuditQuery,
    after: int | None,
    verified: dict[str, Any] | None = None,
) -> HTMLResponse:
    try:
        records = await request.app.state.gate.run(
            lambda lib: query.records(lib, after, RECORDS_PER_PAGE + 1),
            actor=principal.account.name,
        )
    except InvalidInputError as error:  # a date that is not one: the form says why
        return render(
            request, "audit.html", 422, records=[], query=query, error=str(error), verified=None
        )
    shown = records[:RECORDS_PER_PAGE]
    fields = query.fields()
    next_url = None
    if len(records) > RECORDS_PER_PAGE:
        next_url = "/audit?" + urlencode({**fields, "after": shown[-1].id})
    return render(
        request,
        "audit.html",
        records=shown,
        query=query,
        next_url=next_url,
        first_url="/audit?" + urlencode(fields) if after is not None else None,
        verified=verified,
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    principal: Admin,
    query: Annotated[AuditQuery, audit_query],
    after: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    return await _page(request, principal, query, after)


@router.post("/audit/verify", response_class=HTMLResponse)
async def audit_verify(request: Request, principal: Admin) -> HTMLResponse:
    """The "Verify the chain" button: the check's result above the newest records."""
    result = await request.app.state.gate.run(
        lambda lib: lib.verify_audit(), actor=principal.account.name
    )
    return await _page(request, principal, AuditQuery(), None, verification_json(result))
